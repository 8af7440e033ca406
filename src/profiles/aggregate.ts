/** pycytominer's `aggregate`: one profile per group of rows (well, treatment), mean or median. */
import { invalidParameter, MorphoprofError } from '../errors.js';
import type { MetadataValue, ProfileTable } from '../table/types.js';

export type AggregateMethod = 'mean' | 'median';
export const AGGREGATE_METHODS: readonly AggregateMethod[] = ['mean', 'median'];

export interface AggregateOptions {
  /** Metadata columns whose values define a group, e.g. `['Metadata_Plate', 'Metadata_Well']`. */
  by: string[];
  method: AggregateMethod;
}

/** Throws MISSING_COLUMN unless every one of `columns` is a metadata column of `table`. */
export function requireMetadataColumns(table: ProfileTable, columns: readonly string[], what: string, hint?: string): void {
  for (const column of columns) {
    if (!table.metadataColumns.includes(column)) {
      throw new MorphoprofError(
        'MISSING_COLUMN',
        `${what} has no ${column} column (metadata columns: ${table.metadataColumns.join(', ') || 'none'})`,
        hint ?? `add a ${column} column to the table`,
      );
    }
  }
}

/** Rows grouped by the values of `by`, groups in order of first appearance. */
export function groupRows(table: ProfileTable, by: readonly string[]): number[][] {
  const groups = new Map<string, number[]>();
  table.metadata.forEach((row, i) => {
    const key = JSON.stringify(by.map((c) => row[c] ?? null));
    let rows = groups.get(key);
    if (!rows) groups.set(key, (rows = []));
    rows.push(i);
  });
  return [...groups.values()];
}

function meanOf(table: ProfileTable, rows: number[]): Float32Array {
  const n = table.featureColumns.length;
  const sum = new Float64Array(n);
  const count = new Uint32Array(n);
  for (const r of rows) {
    const f = table.features[r]!;
    for (let j = 0; j < n; j++) {
      const v = f[j]!;
      if (!Number.isNaN(v)) {
        sum[j] += v;
        count[j]++;
      }
    }
  }
  const out = new Float32Array(n);
  for (let j = 0; j < n; j++) out[j] = count[j] ? sum[j]! / count[j]! : Number.NaN;
  return out;
}

function medianOf(table: ProfileTable, rows: number[]): Float32Array {
  const n = table.featureColumns.length;
  const out = new Float32Array(n);
  const values = new Float64Array(rows.length);
  for (let j = 0; j < n; j++) {
    let k = 0;
    for (const r of rows) {
      const v = table.features[r]![j]!;
      if (!Number.isNaN(v)) values[k++] = v;
    }
    const sorted = values.subarray(0, k).sort();
    out[j] = k === 0 ? Number.NaN : k % 2 ? sorted[(k - 1) / 2]! : (sorted[k / 2 - 1]! + sorted[k / 2]!) / 2;
  }
  return out;
}

/**
 * One profile per group of rows sharing the values of `by`: the mean or median of each feature
 * (NaN ignored). Keeps the metadata columns that are constant within every group, in their order,
 * and adds `Metadata_Count` (rows per group).
 */
export function aggregateProfiles(table: ProfileTable, options: AggregateOptions): ProfileTable {
  if (!AGGREGATE_METHODS.includes(options.method)) {
    throw invalidParameter('method', `one of ${AGGREGATE_METHODS.join(', ')}`, options.method);
  }
  if (options.by.length === 0) throw invalidParameter('by', 'at least one metadata column', options.by);
  requireMetadataColumns(table, options.by, 'The profile table');
  const groups = groupRows(table, options.by);
  const constant = (column: string): boolean =>
    groups.every((rows) => {
      const first = table.metadata[rows[0]!]![column] ?? null;
      return rows.every((r) => (table.metadata[r]![column] ?? null) === first);
    });
  const kept = table.metadataColumns.filter((c) => c !== 'Metadata_Count' && (options.by.includes(c) || constant(c)));
  const aggregate = options.method === 'mean' ? meanOf : medianOf;
  return {
    metadataColumns: [...kept, 'Metadata_Count'],
    metadata: groups.map((rows) => {
      const out: Record<string, MetadataValue> = {};
      for (const c of kept) out[c] = table.metadata[rows[0]!]![c] ?? null;
      out.Metadata_Count = rows.length;
      return out;
    }),
    featureColumns: [...table.featureColumns],
    features: groups.map((rows) => aggregate(table, rows)),
  };
}

export const TREATMENT_COLUMNS = ['Metadata_Compound', 'Metadata_Concentration'] as const;

/** The paper's treatment profile: the mean of a treatment's (compound at a concentration) rows. */
export function treatmentProfiles(table: ProfileTable): ProfileTable {
  return aggregateProfiles(table, { by: [...TREATMENT_COLUMNS], method: 'mean' });
}
