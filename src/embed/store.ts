import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MorphoprofError } from '../errors.js';
import { fieldKey, type Field, type Screen } from '../screen/types.js';
import { readProfiles, type ProfileTable } from '../table/index.js';
import { writeProfilesInThread } from '../table/write-thread.js';
import type { FieldError } from './field-errors.js';

/**
 * The feature store of a run: `<out>/features/` holds one Parquet shard per group of fields
 * (`<plate>-<k>.parquet`) and, beside each, a JSON receipt (`<plate>-<k>.json`) with the field
 * keys, the skipped fields with their reasons, and the shard's SHA-256.
 *
 * Commit protocol (crash-safe at any instant, e.g. SIGKILL):
 *   1. the Parquet file is written under `.staging/` (itself written atomically by writeProfiles);
 *   2. its receipt is written (temp + rename);
 *   3. the Parquet file is renamed into `features/` — the commit point.
 * A shard is committed when its receipt is valid, names exactly the planned fields, and (if it has
 * rows) the Parquet file beside it has the receipt's size and hash. Anything else is rebuilt, and a
 * shard that was there but failed the check is reported. Shard ids are a pure function of the
 * screen and the shard size, so a rerun (or another worker) writes the same shard under the same
 * name: nothing is lost or duplicated.
 */
export interface Shard {
  id: string;
  plate: string;
  fields: Field[];
}

export interface ShardReceipt {
  id: string;
  fields: string[];
  rows: number;
  bytes: number;
  sha256: string | null;
  errors: FieldError[];
}

export type ShardState = { committed: true; receipt: ShardReceipt } | { committed: false; problem: string | null };

function plateStem(plate: string): string {
  return plate.replace(/[^A-Za-z0-9._-]/g, '_');
}

/**
 * Fields per committed shard by default. A shard's Parquet commit costs about 0.3 s of CPU whatever
 * its length (one column chunk per feature: 6,144 for ResNet-50 on 3 stains), so small shards
 * take from inference. 256 holds a BBBC021 plate (240 fields) in one shard: about 18 s of work on
 * 2 cores, all a kill can lose.
 */
export const DEFAULT_SHARD_SIZE = 256;

/** Split a screen's fields into shards: per plate, in table order, `shardSize` fields each. */
export function planShards(fields: readonly Field[], shardSize: number): Shard[] {
  if (!Number.isInteger(shardSize) || shardSize < 1)
    throw new MorphoprofError('BAD_ARGUMENT', `shard size must be a positive integer, got ${shardSize}`);
  const byPlate = new Map<string, Field[]>();
  for (const f of fields) {
    const list = byPlate.get(f.plate) ?? [];
    list.push(f);
    byPlate.set(f.plate, list);
  }
  const shards: Shard[] = [];
  for (const [plate, list] of byPlate) {
    for (let i = 0, k = 0; i < list.length; i += shardSize, k++)
      shards.push({ id: `${plateStem(plate)}-${String(k).padStart(4, '0')}`, plate, fields: list.slice(i, i + shardSize) });
  }
  return shards;
}

async function sha256(file: string): Promise<string> {
  return createHash('sha256').update(await readFile(file)).digest('hex');
}

async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  await writeFile(tmp, JSON.stringify(value));
  await rename(tmp, file);
}

export class FeatureStore {
  private constructor(readonly dir: string) {}

  /**
   * Open (or create) the store in `dir`. `settings` identify how features were made: a store made
   * with other settings is refused, so a run directory never mixes features of two recipes.
   */
  static async open(dir: string, settings: Record<string, unknown>): Promise<FeatureStore> {
    await mkdir(path.join(dir, '.staging'), { recursive: true });
    const file = path.join(dir, 'store.json');
    const wanted = JSON.stringify(settings);
    if (existsSync(file)) {
      const have = JSON.stringify(JSON.parse(await readFile(file, 'utf8')).settings);
      if (have !== wanted)
        throw new MorphoprofError(
          'BAD_ARGUMENT',
          `The feature store ${dir} was made with other settings (${have}) than this run (${wanted})`,
          'Use a new --out directory for a different model, channel mode, illumination or scaling, or delete the old one',
        );
    } else {
      try {
        await writeFile(file, JSON.stringify({ morphoprof: 1, settings }, null, 2), { flag: 'wx' });
      } catch (err) {
        // another worker created it first: fine if the settings agree
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        return FeatureStore.open(dir, settings);
      }
    }
    return new FeatureStore(dir);
  }

  shardPath(id: string): string {
    return path.join(this.dir, `${id}.parquet`);
  }

  receiptPath(id: string): string {
    return path.join(this.dir, `${id}.json`);
  }

  /** Is the shard committed, complete and intact? */
  async state(shard: Shard): Promise<ShardState> {
    const receiptFile = this.receiptPath(shard.id);
    const parquet = this.shardPath(shard.id);
    if (!existsSync(receiptFile)) {
      return { committed: false, problem: existsSync(parquet) ? `shard ${shard.id} has no receipt` : null };
    }
    let receipt: ShardReceipt;
    try {
      receipt = JSON.parse(await readFile(receiptFile, 'utf8')) as ShardReceipt;
    } catch {
      return { committed: false, problem: `receipt ${receiptFile} is unreadable` };
    }
    const keys = shard.fields.map(fieldKey);
    if (receipt.fields.length !== keys.length || receipt.fields.some((k, i) => k !== keys[i]))
      return { committed: false, problem: `shard ${shard.id} holds other fields than the screen now plans` };
    if (receipt.rows === 0) return { committed: true, receipt };
    if (!existsSync(parquet)) return { committed: false, problem: null }; // killed before the commit point
    const { size } = await stat(parquet);
    if (size !== receipt.bytes) return { committed: false, problem: `shard ${parquet} is truncated (${size} of ${receipt.bytes} bytes)` };
    if ((await sha256(parquet)) !== receipt.sha256) return { committed: false, problem: `shard ${parquet} is corrupt (checksum mismatch)` };
    return { committed: true, receipt };
  }

  /** Remove whatever is left of a shard that failed its check, so it can be rebuilt. */
  async discard(id: string): Promise<void> {
    await rm(this.shardPath(id), { force: true });
    await rm(this.receiptPath(id), { force: true });
  }

  /** Commit one shard (see the protocol above). `table` may be empty when every field failed. */
  async commit(shard: Shard, table: ProfileTable, errors: FieldError[]): Promise<ShardReceipt> {
    const rows = table.features.length;
    const staged = path.join(this.dir, '.staging', `${shard.id}.${process.pid}.parquet`);
    let bytes = 0;
    let hash: string | null = null;
    if (rows > 0) {
      await writeProfilesInThread(staged, table); // off the main thread: it reads the next batch meanwhile
      bytes = (await stat(staged)).size;
      hash = await sha256(staged);
    }
    const receipt: ShardReceipt = { id: shard.id, fields: shard.fields.map(fieldKey), rows, bytes, sha256: hash, errors };
    await writeJsonAtomic(this.receiptPath(shard.id), receipt);
    if (rows > 0) await rename(staged, this.shardPath(shard.id));
    else await rm(this.shardPath(shard.id), { force: true });
    return receipt;
  }

  /** Receipts of all committed shards of a plan (checked), and the problems found on the way. */
  async committed(plan: readonly Shard[]): Promise<{ receipts: Map<string, ShardReceipt>; problems: string[] }> {
    const receipts = new Map<string, ShardReceipt>();
    const problems: string[] = [];
    for (const shard of plan) {
      const s = await this.state(shard);
      if (s.committed) receipts.set(shard.id, s.receipt);
      else if (s.problem) problems.push(s.problem);
    }
    return { receipts, problems };
  }

  /** Remove staging leftovers of killed writers (only call when no other writer is active). */
  async cleanStaging(): Promise<void> {
    const staging = path.join(this.dir, '.staging');
    for (const name of await readdir(staging).catch(() => [] as string[])) await rm(path.join(staging, name), { force: true });
  }

  /** Every committed field's features, one table. */
  async read(): Promise<ProfileTable> {
    return readProfiles(this.dir);
  }
}
