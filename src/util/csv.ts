import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';

/**
 * Write small record tables (errors, summaries) as CSV, atomically (temp file + rename), with a
 * fixed column order so an empty table still has its header. Profile tables go through
 * `src/table` (DuckDB, Parquet) instead.
 */
export async function writeCsvRecords(
  file: string,
  columns: readonly string[],
  rows: ReadonlyArray<Record<string, unknown>>,
): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, csvText(columns, rows));
  await rename(tmp, file);
}

/** The CSV text of records (header `columns`; null and absent values empty). */
export function csvText(columns: readonly string[], rows: ReadonlyArray<Record<string, unknown>>): string {
  return stringify(
    rows.map((r) => columns.map((c) => (r[c] === undefined || r[c] === null ? '' : r[c]))),
    { header: true, columns: [...columns] },
  );
}
