/**
 * The one reader of profile tables and plain record tables (platemaps, MOA tables). Profile tables
 * are exposed to SQL as the temporary view `profiles_src` with canonical column names, so callers
 * can aggregate in DuckDB (see `aggregate.ts`) instead of pulling every row into JavaScript.
 */
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

/** A table file opened in DuckDB: the source expression and its columns. */
async function openSource(connection: DuckDBConnection, file: string): Promise<{ source: string; columns: SourceColumn[] }> {
  let source = sourceOf(file);
  if (source.startsWith('read_csv')) {
    // Sniffing a wide CSV costs more than parsing it: sniff and parse once, into a temp table.
    await connection.run(`CREATE TEMP TABLE csv_in AS SELECT * FROM ${source}`);
    source = 'csv_in';
  }
  return { source, columns: await describe(connection, source) };
}

/** Streams the rows of a query chunk by chunk; `onChunk` gets, per column, a value getter. */
async function streamQuery(
  connection: DuckDBConnection,
  sql: string,
  onChunk: (rowCount: number, column: (index: number) => (row: number) => MetadataValue) => void,
): Promise<void> {
  const result = await connection.stream(sql);
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    onChunk(chunk.rowCount, (index) => {
      const vector = chunk.getColumnVector(index);
      return (row) => vector.getItem(row) as MetadataValue;
    });
  }
}

/** Every column of a table as records (for platemaps and MOA tables). */
export async function readTable(file: string): Promise<RecordTable> {
  const rows: RecordTable['rows'] = [];
  let columns: string[] = [];
  await withConnection(async (connection) => {
    const { source, columns: cols } = await openSource(connection, file);
    columns = cols.map((c) => c.name);
    await streamQuery(connection, `SELECT ${cols.map((c) => c.select).join(', ')} FROM ${source}`, (rowCount, column) => {
      const getters = columns.map((_, i) => column(i));
      for (let r = 0; r < rowCount; r++) {
        const row: Record<string, MetadataValue> = {};
        for (let c = 0; c < columns.length; c++) row[columns[c]!] = getters[c]!(r);
        rows.push(row);
      }
    });
  }).catch((cause: unknown) => {
    throw tableError(file, 'read', cause);
  });
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

/**
 * A text column outside `Metadata_` is metadata (file names, labels) unless most of its values are
 * numbers: then it is a feature column with a few bad values, which is an error worth naming.
 */
async function checkTextColumn(connection: DuckDBConnection, file: string, source: string, name: string): Promise<void> {
  const c = `trim(${ident(name)})`;
  const reader = await connection.runAndReadAll(
    `SELECT count(*) FILTER (WHERE ${c} <> '') AS filled,
            count(*) FILTER (WHERE ${c} <> '' AND isfinite(TRY_CAST(${c} AS DOUBLE))) AS numbers
     FROM ${source}`,
  );
  const { filled, numbers } = reader.getRowObjects()[0]!;
  if (Number(numbers) === 0 || Number(numbers) * 2 < Number(filled) || Number(numbers) === Number(filled)) return;
  const bad = (
    await connection.runAndReadAll(
      `SELECT r, v FROM (SELECT row_number() OVER () AS r, ${c} AS v FROM ${source})
       WHERE v <> '' AND NOT coalesce(isfinite(TRY_CAST(v AS DOUBLE)), false) ORDER BY r LIMIT 1`,
    )
  ).getRowObjects()[0]!;
  throw new MorphoprofError(
    'BAD_TABLE',
    `Non-numeric value ${JSON.stringify(bad.v)} in feature column ${name} (data row ${Number(bad.r)}) of ${file}`,
    `fix or blank the value, or rename the column to Metadata_${name} if it is not a feature`,
  );
}

/** A profile table opened in DuckDB as the temp view `profiles_src` (canonical column names). */
export interface ProfileSource {
  connection: DuckDBConnection;
  file: string;
  /** `profiles_src` */
  view: string;
  metadataColumns: string[];
  featureColumns: string[];
}

/**
 * Opens a profile table (CSV, CSV.gz, TSV, Parquet, or a folder of Parquet files) as the view
 * `profiles_src`: metadata columns are `Metadata_*`, CellProfiler's `Image_Metadata_*` (renamed to
 * `Metadata_*`) and any non-numeric column; every other column is a feature (DOUBLE or FLOAT).
 * A mostly numeric text column outside `Metadata_` is an error naming its first bad value.
 */
export async function withProfileSource<T>(file: string, work: (source: ProfileSource) => Promise<T>): Promise<T> {
  return withConnection(async (connection) => {
    const { source, columns } = await openSource(connection, file);
    const taken = new Set(columns.map((c) => c.name));
    const metadataColumns: string[] = [];
    const featureColumns: string[] = [];
    const selects: string[] = [];
    for (const c of columns) {
      const name = metadataName(c.name, taken);
      if (name === null && !c.numeric) await checkTextColumn(connection, file, source, c.name);
      if (name === null && c.numeric) featureColumns.push(c.name);
      else metadataColumns.push(name ?? c.name);
      selects.push(`${c.select} AS ${ident(name ?? c.name)}`);
    }
    await connection.run(`CREATE OR REPLACE TEMP VIEW profiles_src AS SELECT ${selects.join(', ')} FROM ${source}`);
    return work({ connection, file, view: 'profiles_src', metadataColumns, featureColumns });
  }).catch((cause: unknown) => {
    throw tableError(file, 'read', cause);
  });
}

/**
 * Runs `sql`, whose result has the columns `metadataColumns` then `featureColumns` in this order,
 * and collects it as a ProfileTable (features float32, NULL -> NaN).
 */
export async function queryProfiles(connection: DuckDBConnection, sql: string, metadataColumns: string[], featureColumns: string[]): Promise<ProfileTable> {
  const metadata: ProfileTable['metadata'] = [];
  const features: Float32Array[] = [];
  const nMeta = metadataColumns.length;
  await streamQuery(connection, sql, (rowCount, column) => {
    const start = features.length;
    for (let r = 0; r < rowCount; r++) {
      metadata.push({});
      features.push(new Float32Array(featureColumns.length));
    }
    metadataColumns.forEach((name, index) => {
      const get = column(index);
      for (let r = 0; r < rowCount; r++) metadata[start + r]![name] = get(r);
    });
    featureColumns.forEach((_, f) => {
      const get = column(nMeta + f);
      for (let r = 0; r < rowCount; r++) {
        const v = get(r);
        features[start + r]![f] = v === null ? Number.NaN : (v as number);
      }
    });
  });
  return { metadataColumns: [...metadataColumns], metadata, featureColumns: [...featureColumns], features };
}

/** The SELECT list of `columns`, quoted. */
export function columnList(columns: readonly string[]): string {
  return columns.map(ident).join(', ');
}

/**
 * Reads a profile table into memory (see `withProfileSource` for which columns are metadata). For
 * tables larger than memory, aggregate them in DuckDB with `aggregateTable` instead.
 */
export async function readProfiles(file: string): Promise<ProfileTable> {
  return withProfileSource(file, ({ connection, view, metadataColumns, featureColumns }) =>
    queryProfiles(connection, `SELECT ${columnList([...metadataColumns, ...featureColumns])} FROM ${view}`, metadataColumns, featureColumns),
  );
}

