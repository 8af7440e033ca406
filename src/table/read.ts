/** The one reader of profile tables and plain record tables (platemaps, MOA tables). */
import type { DuckDBConnection } from '@duckdb/node-api';
import { MorphoprofError } from '../errors.js';
import { ident, sourceOf, tableError, withConnection } from './duckdb.js';
import type { MetadataValue, ProfileTable, RecordTable } from './types.js';

const NUMERIC_TYPE = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL)\b/;
const VARCHAR_TYPE = /^VARCHAR\b/;

interface SourceColumn {
  name: string;
  numeric: boolean;
  /** SELECT expression: numbers arrive in JS as number, everything else as string. */
  select: string;
}

async function describe(connection: DuckDBConnection, source: string): Promise<SourceColumn[]> {
  const reader = await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`);
  return reader.getRowObjects().map((row) => {
    const name = String(row.column_name);
    const type = String(row.column_type);
    const numeric = NUMERIC_TYPE.test(type);
    const select =
      type === 'FLOAT' || type === 'DOUBLE' || VARCHAR_TYPE.test(type)
        ? ident(name)
        : `CAST(${ident(name)} AS ${numeric ? 'DOUBLE' : 'VARCHAR'})`;
    return { name, numeric, select };
  });
}

/**
 * Streams the rows of `file` chunk by chunk; `onChunk` gets, per column, a value getter for the
 * chunk's rows (values are number, string or null).
 */
async function scan(
  file: string,
  onColumns: (columns: SourceColumn[]) => void,
  onChunk: (rowCount: number, column: (index: number) => (row: number) => MetadataValue) => void,
): Promise<void> {
  let source = sourceOf(file);
  await withConnection(async (connection) => {
    if (source.startsWith('read_csv')) {
      // Sniffing a wide CSV costs more than parsing it: sniff and parse once, into a temp table.
      await connection.run(`CREATE TEMP TABLE csv_in AS SELECT * FROM ${source}`);
      source = 'csv_in';
    }
    const columns = await describe(connection, source);
    onColumns(columns);
    const result = await connection.stream(`SELECT ${columns.map((c) => c.select).join(', ')} FROM ${source}`);
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      onChunk(chunk.rowCount, (index) => {
        const vector = chunk.getColumnVector(index);
        return (row) => vector.getItem(row) as MetadataValue;
      });
    }
  }).catch((cause: unknown) => {
    throw tableError(file, 'read', cause);
  });
}

/** Every column of a table as records (for platemaps and MOA tables). */
export async function readTable(file: string): Promise<RecordTable> {
  let columns: string[] = [];
  const rows: RecordTable['rows'] = [];
  await scan(
    file,
    (cols) => {
      columns = cols.map((c) => c.name);
    },
    (rowCount, column) => {
      const getters = columns.map((_, i) => column(i));
      for (let r = 0; r < rowCount; r++) {
        const row: Record<string, MetadataValue> = {};
        for (let c = 0; c < columns.length; c++) row[columns[c]!] = getters[c]!(r);
        rows.push(row);
      }
    },
  );
  return { path: file, columns, rows };
}

/** `Image_Metadata_Plate` (CellProfiler's per-image export) -> `Metadata_Plate`. */
function metadataName(name: string, taken: Set<string>): string | null {
  if (name.startsWith('Metadata_')) return name;
  if (name.startsWith('Image_Metadata_')) {
    const renamed = name.slice('Image_'.length);
    return taken.has(renamed) ? name : renamed;
  }
  return null;
}

function looksNumeric(text: string): boolean {
  return text.trim() !== '' && Number.isFinite(Number(text));
}

/**
 * A text column outside `Metadata_` is metadata (file names, labels) unless most of its values are
 * numbers: then it is a feature column with a few bad values, which is an error worth naming.
 */
function checkTextColumn(file: string, name: string, values: MetadataValue[]): void {
  let numbers = 0;
  let firstBad = -1;
  let filled = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === '') continue;
    filled++;
    if (looksNumeric(String(v))) numbers++;
    else if (firstBad < 0) firstBad = i;
  }
  if (numbers > 0 && numbers * 2 >= filled && firstBad >= 0) {
    throw new MorphoprofError(
      'BAD_TABLE',
      `Non-numeric value ${JSON.stringify(values[firstBad])} in feature column ${name} (data row ${firstBad + 1}) of ${file}`,
      `fix or blank the value, or rename the column to Metadata_${name} if it is not a feature`,
    );
  }
}

/**
 * Reads a profile table: CSV, CSV.gz, TSV, Parquet, or a folder of Parquet files (all `*.parquet`
 * in it, in name order). Metadata columns are `Metadata_*`, CellProfiler's `Image_Metadata_*`
 * (renamed to `Metadata_*`) and any non-numeric column; every other column is a feature (float32).
 */
export async function readProfiles(file: string): Promise<ProfileTable> {
  let sourceColumns: SourceColumn[] = [];
  const metadataIndex: Array<{ index: number; name: string }> = [];
  const featureIndex: number[] = [];
  const textColumns: Array<{ index: number; name: string }> = [];
  const metadata: ProfileTable['metadata'] = [];
  const features: Float32Array[] = [];

  await scan(
    file,
    (columns) => {
      sourceColumns = columns;
      const taken = new Set(columns.map((c) => c.name));
      columns.forEach((c, index) => {
        const name = metadataName(c.name, taken);
        if (name !== null) metadataIndex.push({ index, name });
        else if (c.numeric) featureIndex.push(index);
        else {
          metadataIndex.push({ index, name: c.name });
          textColumns.push({ index, name: c.name });
        }
      });
    },
    (rowCount, column) => {
      const start = features.length;
      for (let r = 0; r < rowCount; r++) {
        metadata.push({});
        features.push(new Float32Array(featureIndex.length));
      }
      for (const { index, name } of metadataIndex) {
        const get = column(index);
        for (let r = 0; r < rowCount; r++) metadata[start + r]![name] = get(r);
      }
      featureIndex.forEach((index, f) => {
        const get = column(index);
        for (let r = 0; r < rowCount; r++) {
          const v = get(r);
          features[start + r]![f] = v === null ? Number.NaN : (v as number);
        }
      });
    },
  );
  for (const { name } of textColumns) checkTextColumn(file, name, metadata.map((row) => row[name] ?? null));
  return {
    metadataColumns: metadataIndex.map((m) => m.name),
    metadata,
    featureColumns: featureIndex.map((i) => sourceColumns[i]!.name),
    features,
  };
}
