/** A profile table: metadata columns first, then numeric feature columns (float32). */
export type MetadataValue = string | number | null;

export interface ProfileTable {
  /** Metadata_* (and other non-numeric) columns, in order. */
  metadataColumns: string[];
  /** One object per row, keyed by metadata column. */
  metadata: Array<Record<string, MetadataValue>>;
  /** Numeric non-metadata columns, in order. */
  featureColumns: string[];
  /** One vector per row, of length featureColumns.length. */
  features: Float32Array[];
}

/** A plain table of records (platemaps, MOA tables): every column, in file order. */
export interface RecordTable {
  path: string;
  columns: string[];
  rows: Array<Record<string, MetadataValue>>;
}
