/**
 * Browser stand-in for `@duckdb/node-api`. The CLI reads and aggregates table files (Parquet, CSV)
 * with DuckDB; the page holds its tables in memory and goes through the in-memory TypeScript paths
 * of the same modules (aggregateProfiles, treatmentProfiles), so DuckDB is never reached there.
 */
import { unavailableClass } from './unavailable.js';

export const DuckDBInstance = unavailableClass('Reading table files with DuckDB');
export const DuckDBConnection = unavailableClass('Reading table files with DuckDB');
export const DuckDBDataChunk = unavailableClass('Writing table files with DuckDB');
export const BIGINT = null;
export const DOUBLE = null;
export const FLOAT = null;
export const VARCHAR = null;
export type DuckDBType = never;
