/**
 * The DuckDB plumbing shared by the table reader and writer: one in-memory instance per process,
 * a fresh connection per call (temporary tables are connection-local, so calls never collide),
 * SQL quoting, and the table-function expression that reads a file or a folder of Parquet files.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { MorphoprofError } from '../errors.js';

let instance: Promise<DuckDBInstance> | undefined;

export async function withConnection<T>(work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
  instance ??= DuckDBInstance.create(':memory:');
  const connection = await (await instance).connect();
  try {
    return await work(connection);
  } finally {
    connection.closeSync();
  }
}

/** A SQL identifier, double-quoted. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A SQL string literal, single-quoted. */
export function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

export type TableFormat = 'csv' | 'tsv' | 'parquet';

export const SUPPORTED_EXTENSIONS = '.csv, .csv.gz, .tsv, .tsv.gz, .parquet, or a folder of .parquet files';

/** Format and compression of a table file, from its name. */
export function formatOf(file: string): { format: TableFormat; gzip: boolean } {
  const name = file.toLowerCase();
  const gzip = name.endsWith('.gz');
  const stem = gzip ? name.slice(0, -3) : name;
  if (stem.endsWith('.csv')) return { format: 'csv', gzip };
  if (stem.endsWith('.tsv')) return { format: 'tsv', gzip };
  if (!gzip && (stem.endsWith('.parquet') || stem.endsWith('.pq'))) return { format: 'parquet', gzip: false };
  throw new MorphoprofError(
    'BAD_ARGUMENT',
    `Unknown table format of ${file}`,
    `give a table as ${SUPPORTED_EXTENSIONS}`,
  );
}

/** The SQL table function that reads `file` (a CSV/TSV/Parquet file or a folder of Parquet files). */
export function sourceOf(file: string): string {
  let stat;
  try {
    stat = statSync(file);
  } catch {
    throw new MorphoprofError('FILE_NOT_FOUND', `Table not found: ${file}`, 'check the path (relative paths start at the current directory)');
  }
  if (stat.isDirectory()) {
    const parts = readdirSync(file)
      .filter((name) => name.toLowerCase().endsWith('.parquet'))
      .sort()
      .map((name) => literal(path.join(file, name)));
    if (parts.length === 0) {
      throw new MorphoprofError('BAD_TABLE', `No .parquet files in folder ${file}`, `give a folder of .parquet files or a single table (${SUPPORTED_EXTENSIONS})`);
    }
    return `read_parquet([${parts.join(', ')}], union_by_name = true)`;
  }
  const { format } = formatOf(file);
  if (format === 'parquet') return `read_parquet(${literal(file)})`;
  // sample_size = -1: sniff column types over the whole file, so a bad value in row 10,000 makes the
  // column VARCHAR (and is reported by name) instead of failing half-way through the read. Only
  // three candidate types (we need numbers and text, nothing else) halves the sniffing of wide files.
  const delim = format === 'tsv' ? `, delim = '\\t'` : '';
  return `read_csv(${literal(file)}, header = true, sample_size = -1, auto_type_candidates = ['BIGINT', 'DOUBLE', 'VARCHAR']${delim})`;
}

/** Turns a DuckDB failure into a MorphoprofError that names the file. */
export function tableError(file: string, action: 'read' | 'write', cause: unknown): MorphoprofError {
  if (cause instanceof MorphoprofError) return cause;
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new MorphoprofError(
    'BAD_TABLE',
    `Could not ${action} table ${file}: ${detail}`,
    action === 'read' ? `check that ${file} is a well-formed table (${SUPPORTED_EXTENSIONS})` : 'check that the output folder is writable',
    { cause },
  );
}
