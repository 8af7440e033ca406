/**
 * pycytominer's `aggregate` in DuckDB SQL: one profile per group of rows (field -> well, well ->
 * treatment) computed by a GROUP BY over the table file, so a table of millions of fields never
 * becomes JavaScript arrays; only the aggregated rows (one per group) come back.
 */
import { invalidParameter, MorphoprofError } from '../errors.js';
import { ident } from './duckdb.js';
import { columnList, queryProfiles, withProfileSource } from './read.js';
import type { ProfileTable } from './types.js';

export type AggregateMethod = 'mean' | 'median';
export const AGGREGATE_METHODS: readonly AggregateMethod[] = ['mean', 'median'];

export interface AggregateOptions {
  /** Metadata columns whose values define a group, e.g. `['Metadata_Plate', 'Metadata_Well']`. */
  by: string[];
  method: AggregateMethod;
  /** Metadata columns whose distinct values are joined with `|` (e.g. a treatment's batches). */
  collect?: string[];
  /** Metadata columns that must be constant within a group (e.g. a well's compound): else an error naming the group. */
  requireConstant?: string[];
}

export function checkAggregateOptions(options: AggregateOptions): void {
  if (!AGGREGATE_METHODS.includes(options.method)) {
    throw invalidParameter('method', `one of ${AGGREGATE_METHODS.join(', ')}`, options.method);
  }
  if (options.by.length === 0) throw invalidParameter('by', 'at least one metadata column', options.by);
}

/** The group that makes a required-constant column vary, as an error. */
export function notConstantError(what: string, column: string, group: string, values: string[]): MorphoprofError {
  return new MorphoprofError(
    'BAD_TABLE',
    `${what}: ${group} has more than one ${column} (${values.join(', ')})`,
    'each group (e.g. a plate and well) must hold one treatment: fix the duplicated rows or the platemap',
  );
}

/** `key = value` pairs of a group, for messages. */
export function groupName(by: readonly string[], values: readonly unknown[]): string {
  return by.map((c, i) => `${c}=${String(values[i])}`).join(', ');
}

/**
 * Aggregates the table `file` in DuckDB: the mean or median of each feature per group of `by`
 * (NaN and empty values ignored), the metadata columns that are constant within every group,
 * `collect` columns as `a|b`, and `Metadata_Count` (rows per group). Groups are sorted by `by`.
 */
export async function aggregateTable(file: string, options: AggregateOptions): Promise<ProfileTable & { inputMetadataColumns: string[] }> {
  checkAggregateOptions(options);
  return withProfileSource(file, async ({ connection, view, metadataColumns, featureColumns }) => {
    for (const column of options.by) {
      if (!metadataColumns.includes(column)) {
        throw new MorphoprofError(
          'MISSING_COLUMN',
          `${file} has no ${column} column (metadata columns: ${metadataColumns.join(', ') || 'none'})`,
          `aggregating by ${options.by.join(', ')} needs these columns`,
        );
      }
    }
    const by = columnList(options.by);
    const collect = (options.collect ?? []).filter((c) => metadataColumns.includes(c) && !options.by.includes(c));
    const others = metadataColumns.filter((c) => c !== 'Metadata_Count' && !options.by.includes(c) && !collect.includes(c));
    const distinct = (c: string): string => `count(DISTINCT coalesce(CAST(${ident(c)} AS VARCHAR), chr(0)))`;
    // One pass over the metadata: the most distinct values any group has, per column.
    let constant: string[] = [];
    if (others.length > 0) {
      const counts = (
        await connection.runAndReadAll(
          `SELECT ${others.map((c, i) => `max(d${i}) AS d${i}`).join(', ')} FROM (SELECT ${others.map((c, i) => `${distinct(c)} AS d${i}`).join(', ')} FROM ${view} GROUP BY ${by})`,
        )
      ).getRowObjects()[0]!;
      constant = others.filter((_, i) => Number(counts[`d${i}`] ?? 0) <= 1);
    }
    for (const column of options.requireConstant ?? []) {
      if (!others.includes(column) || constant.includes(column)) continue;
      const row = (
        await connection.runAndReadAll(
          `SELECT ${by}, string_agg(DISTINCT CAST(${ident(column)} AS VARCHAR), ', ') AS v FROM ${view} GROUP BY ${by} HAVING ${distinct(column)} > 1 ORDER BY ${by} LIMIT 1`,
        )
      ).getRows()[0]!;
      throw notConstantError(file, column, groupName(options.by, row.slice(0, -1)), String(row.at(-1)).split(', '));
    }
    const kept = metadataColumns.filter((c) => options.by.includes(c) || constant.includes(c) || collect.includes(c));
    const fn = options.method === 'mean' ? 'avg' : 'median';
    const selects = [
      ...kept.map((c) =>
        options.by.includes(c) ? ident(c) : collect.includes(c) ? `string_agg(DISTINCT CAST(${ident(c)} AS VARCHAR), '|' ORDER BY CAST(${ident(c)} AS VARCHAR)) AS ${ident(c)}` : `any_value(${ident(c)}) AS ${ident(c)}`,
      ),
      `CAST(count(*) AS DOUBLE) AS "Metadata_Count"`,
      ...featureColumns.map((f) => `CAST(${fn}(CASE WHEN isnan(${ident(f)}) THEN NULL ELSE ${ident(f)} END) AS FLOAT) AS ${ident(f)}`),
    ];
    const table = await queryProfiles(connection, `SELECT ${selects.join(', ')} FROM ${view} GROUP BY ${by} ORDER BY ${by}`, [...kept, 'Metadata_Count'], featureColumns);
    return { ...table, inputMetadataColumns: metadataColumns };
  });
}
