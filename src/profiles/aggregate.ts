/** pycytominer's `aggregate`: one profile per group of rows (well, treatment), mean or median. */
import { MorphoprofError } from '../errors.js';
import { checkAggregateOptions, groupName, notConstantError, type AggregateOptions } from '../table/aggregate.js';
import type { MetadataValue, ProfileTable } from '../table/types.js';

export { AGGREGATE_METHODS, type AggregateMethod, type AggregateOptions } from '../table/aggregate.js';

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

/** Distinct non-null values of `column` over `rows`, sorted, joined with `|` (null when none). */
function collected(table: ProfileTable, rows: number[], column: string): MetadataValue {
  const values = [...new Set(rows.map((r) => table.metadata[r]![column]).filter((v) => v !== null && v !== undefined).map(String))].sort();
  return values.length === 0 ? null : values.join('|');
}

/**
 * One profile per group of rows sharing the values of `by`: the mean or median of each feature
 * (NaN ignored). Keeps the metadata columns that are constant within every group, in their order,
 * joins the distinct values of `collect` columns with `|`, and adds `Metadata_Count` (rows per
 * group). The in-memory twin of `aggregateTable` (which does the same in DuckDB for files).
 */
export function aggregateProfiles(table: ProfileTable, options: AggregateOptions): ProfileTable {
  checkAggregateOptions(options);
  requireMetadataColumns(table, options.by, 'The profile table');
  const collect = (options.collect ?? []).filter((c) => table.metadataColumns.includes(c) && !options.by.includes(c));
  const groups = groupRows(table, options.by);
  const varying = (column: string): number[] | undefined =>
    groups.find((rows) => {
      const first = table.metadata[rows[0]!]![column] ?? null;
      return rows.some((r) => (table.metadata[r]![column] ?? null) !== first);
    });
  for (const column of options.requireConstant ?? []) {
    if (!table.metadataColumns.includes(column) || options.by.includes(column)) continue;
    const rows = varying(column);
    if (rows) {
      const values = [...new Set(rows.map((r) => String(table.metadata[r]![column] ?? null)))];
      throw notConstantError('The profile table', column, groupName(options.by, options.by.map((c) => table.metadata[rows[0]!]![c])), values);
    }
  }
  const kept = table.metadataColumns.filter((c) => c !== 'Metadata_Count' && (options.by.includes(c) || collect.includes(c) || !varying(c)));
  const aggregate = options.method === 'mean' ? meanOf : medianOf;
  return {
    metadataColumns: [...kept, 'Metadata_Count'],
    metadata: groups.map((rows) => {
      const out: Record<string, MetadataValue> = {};
      for (const c of kept) out[c] = collect.includes(c) ? collected(table, rows, c) : (table.metadata[rows[0]!]![c] ?? null);
      out.Metadata_Count = rows.length;
      return out;
    }),
    featureColumns: [...table.featureColumns],
    features: groups.map((rows) => aggregate(table, rows)),
  };
}

export const TREATMENT_COLUMNS = ['Metadata_Compound', 'Metadata_Concentration'] as const;

/**
 * The paper's treatment profile: the mean (or median) of a treatment's (compound at a
 * concentration) rows. A treatment's `Metadata_Batch` is the batch of its wells; a treatment whose
 * wells span batches gets them all, joined with `|` (NSCB then excludes every one of them).
 */
export function treatmentProfiles(table: ProfileTable, method: AggregateOptions['method'] = 'mean'): ProfileTable {
  return aggregateProfiles(table, { by: [...TREATMENT_COLUMNS], method, collect: ['Metadata_Batch'] });
}
