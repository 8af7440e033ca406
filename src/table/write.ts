/** The one writer of profile tables: Parquet or CSV by the output extension, written atomically. */
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { BIGINT, DOUBLE, DuckDBDataChunk, FLOAT, VARCHAR, type DuckDBType } from '@duckdb/node-api';
import { ByteWriter, fileWriter, ParquetWriter, schemaFromColumnData, type Writer } from 'hyparquet-writer';
import { MorphoprofError } from '../errors.js';
import { formatOf, ident, literal, tableError, withConnection } from './duckdb.js';
import type { MetadataValue, ProfileTable } from './types.js';

/** DuckDB's vector size: the appender takes data chunks of at most this many rows. */
const CHUNK_ROWS = 2048;

/** Kind of a metadata column from its values: integers, other numbers, else text. */
type MetadataKind = 'integer' | 'double' | 'text';
function metadataKind(values: MetadataValue[]): MetadataKind {
  let integers = true;
  for (const v of values) {
    if (v === null) continue;
    if (typeof v !== 'number') return 'text';
    if (!Number.isSafeInteger(v)) integers = false;
  }
  return integers && values.some((v) => v !== null) ? 'integer' : 'double';
}

const DUCKDB_TYPE = { integer: BIGINT, double: DOUBLE, text: VARCHAR } as const;

function checkTable(file: string, table: ProfileTable): void {
  const rows = table.metadata.length;
  if (table.features.length !== rows) {
    throw new MorphoprofError('BAD_ARGUMENT', `Cannot write ${file}: ${rows} metadata rows but ${table.features.length} feature rows`, 'give one metadata object and one feature vector per row');
  }
  const seen = new Set<string>();
  for (const name of [...table.metadataColumns, ...table.featureColumns]) {
    if (seen.has(name)) throw new MorphoprofError('BAD_ARGUMENT', `Cannot write ${file}: column ${name} appears twice`, 'give each column a unique name');
    seen.add(name);
  }
  table.features.forEach((f, row) => {
    if (f.length !== table.featureColumns.length) {
      throw new MorphoprofError('BAD_ARGUMENT', `Cannot write ${file}: row ${row + 1} has ${f.length} features but there are ${table.featureColumns.length} feature columns`, 'give every row one value per feature column');
    }
  });
}

/** Values per Parquet row group (rows x columns), so memory stays bounded whatever the table's length. */
const GROUP_VALUES = 8_000_000;

/**
 * Parquet with hyparquet-writer: one column chunk per feature per row group, PLAIN float32, no
 * compression (network features do not compress), no statistics. Why not DuckDB's COPY, used for
 * CSV: for a wide table its cost is per column, not per value (measured: 1.3 s of CPU for a
 * 6,144-column shard whether it holds 32 or 512 rows, against 0.25-0.4 s here), and the feature
 * store commits such a shard every few seconds beside the network. Any Parquet reader (DuckDB,
 * pandas, pyarrow) reads the file; the tests read it back with DuckDB.
 */
async function writeParquet(writer: Writer, table: ProfileTable, kinds: MetadataKind[]): Promise<void> {
  const nMeta = table.metadataColumns.length;
  const nFeatures = table.featureColumns.length;
  const rowsPerGroup = Math.max(1, Math.floor(GROUP_VALUES / Math.max(1, nMeta + nFeatures)));
  const parquetType = (k: MetadataKind) => (k === 'text' ? 'STRING' : k === 'integer' ? 'INT64' : 'DOUBLE');
  const group = (start: number, rows: number) => {
    const meta = table.metadataColumns.map((name, c) => {
      const k = kinds[c]!;
      const data = table.metadata.slice(start, start + rows).map((row) => {
        const v = row[name] ?? null;
        return v === null ? null : k === 'text' ? String(v) : k === 'integer' ? BigInt(v) : Number(v);
      });
      return { name, data, type: parquetType(k), nullable: true } as const;
    });
    const features = table.featureColumns.map((name, f) => {
      const data = new Float32Array(rows);
      for (let r = 0; r < rows; r++) data[r] = table.features[start + r]![f]!;
      return { name, data, type: 'FLOAT', nullable: false, encoding: 'PLAIN', offsetIndex: false } as const;
    });
    return [...meta, ...features];
  };
  const first = group(0, Math.min(rowsPerGroup, table.metadata.length));
  const pq = new ParquetWriter({ writer, schema: schemaFromColumnData({ columnData: first }), codec: 'UNCOMPRESSED', statistics: false, createdBy: 'morphoprof' });
  await pq.write({ columnData: first, rowGroupSize: rowsPerGroup });
  for (let start = rowsPerGroup; start < table.metadata.length; start += rowsPerGroup) {
    await pq.write({ columnData: group(start, Math.min(rowsPerGroup, table.metadata.length - start)), rowGroupSize: rowsPerGroup });
  }
  pq.finish();
}

/** The Parquet file of `table` in memory, as `writeProfiles` writes it (the browser page's download). */
export async function parquetBytes(table: ProfileTable): Promise<Uint8Array> {
  checkTable('the Parquet table', table);
  const writer = new ByteWriter();
  await writeParquet(writer, table, table.metadataColumns.map((name) => metadataKind(table.metadata.map((row) => row[name] ?? null))));
  return writer.getBytes();
}

/**
 * Writes `table` to `file` (.parquet, .csv, .csv.gz, .tsv, .tsv.gz): metadata columns first, then
 * the features as FLOAT (float32), under a temporary name in the same folder, renamed into place.
 * Parquet: see `writeParquet`. CSV/TSV: rows go through DuckDB's appender one 2048-row data chunk
 * at a time, filling each feature vector directly (no per-value SQL), then one COPY.
 */
export async function writeProfiles(file: string, table: ProfileTable): Promise<void> {
  const { format, gzip } = formatOf(file);
  checkTable(file, table);
  const dir = path.dirname(path.resolve(file));
  try {
    mkdirSync(dir, { recursive: true });
  } catch (cause) {
    throw tableError(file, 'write', cause);
  }
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);

  const kinds = table.metadataColumns.map((name) => metadataKind(table.metadata.map((row) => row[name] ?? null)));
  const metaTypes: DuckDBType[] = kinds.map((k) => DUCKDB_TYPE[k]);
  const types = [...metaTypes, ...table.featureColumns.map(() => FLOAT)];
  const columnsSql = [...table.metadataColumns, ...table.featureColumns]
    .map((name, i) => `${ident(name)} ${types[i]!.toString()}`)
    .join(', ');
  const nMeta = table.metadataColumns.length;
  const nFeatures = table.featureColumns.length;
  const options = `FORMAT csv, HEADER true, DELIMITER ${format === 'tsv' ? "'\\t'" : "','"}, COMPRESSION ${gzip ? 'gzip' : 'none'}`;

  try {
    if (format === 'parquet') await writeParquet(fileWriter(temp), table, kinds);
    else await withConnection(async (connection) => {
      await connection.run(`CREATE TEMP TABLE profiles_out (${columnsSql})`);
      const appender = await connection.createAppender('profiles_out', 'main', 'temp');
      for (let start = 0; start < table.metadata.length; start += CHUNK_ROWS) {
        const rowCount = Math.min(CHUNK_ROWS, table.metadata.length - start);
        const chunk = DuckDBDataChunk.create(types, rowCount);
        for (let c = 0; c < nMeta; c++) {
          const name = table.metadataColumns[c]!;
          const isText = metaTypes[c] === VARCHAR;
          const vector = chunk.getColumnVector(c);
          for (let r = 0; r < rowCount; r++) {
            const v = table.metadata[start + r]![name] ?? null;
            vector.setItem(r, v === null ? null : isText ? String(v) : metaTypes[c] === BIGINT ? BigInt(v) : v);
          }
          vector.flush();
        }
        for (let f = 0; f < nFeatures; f++) {
          const vector = chunk.getColumnVector(nMeta + f);
          for (let r = 0; r < rowCount; r++) vector.setItem(r, table.features[start + r]![f]!);
          vector.flush();
        }
        appender.appendDataChunk(chunk);
      }
      appender.closeSync();
      await connection.run(`COPY profiles_out TO ${literal(temp)} (${options})`);
    });
    renameSync(temp, file);
  } catch (cause) {
    rmSync(temp, { force: true });
    throw tableError(file, 'write', cause);
  }
}
