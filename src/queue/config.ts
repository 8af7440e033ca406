import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { errorMessage, MorphoprofError } from '../errors.js';
import type { EmbedSettings } from '../embed/embedder.js';

/**
 * What a queued run is: written by `queue submit` to `<out>/queue.json` and read by every worker
 * (through the path in each job's data) and by `queue collect`. Everything a worker needs to make
 * exactly the features a single-machine `run` with the same options would make.
 */
export interface QueueConfig {
  morphoprof: 1;
  screenId: string;
  metadata: string;
  metadataSha256: string;
  images: string;
  moa: string | null;
  moaSha256: string | null;
  controlCompound: string;
  /** the embedding recipe (illum is `<out>/illum` when illumination is computed by the queue) */
  settings: EmbedSettings;
  /** fields per inference batch and per job (= shard of the feature store) */
  batchSize: number;
  shardSize: number;
  /** illumination functions computed by illum jobs before any embedding job runs */
  illumAuto: boolean;
  out: string;
  attempts: number;
  backoffMs: number;
  jobs: { illum: number; embed: number };
  /** the shards as planned at submit time (field keys): workers and collect use this, not the files they see now */
  plan: Array<{ id: string; fields: string[] }>;
  submittedAt: string;
}

export interface EmbedJobData {
  kind: 'embed';
  screenId: string;
  queueFile: string;
  shard: string;
  /** field keys of the shard as planned at submit time */
  fields: string[];
}

export interface IllumJobData {
  kind: 'illum';
  screenId: string;
  queueFile: string;
  plate: string;
  channel: string;
}

export type JobData = EmbedJobData | IllumJobData;

/** Redis keys of morphoprof itself (BullMQ's own keys live under its `bull:` prefix). */
export const SCREENS_KEY = 'morphoprof:screens';
export const screenKey = (id: string) => `morphoprof:screen:${id}`;

/** BullMQ queue names (no `:` allowed) — one pair per screen, so screens on one Redis stay apart. */
export function queueNames(screenId: string): { illum: string; embed: string } {
  return { illum: `morphoprof.${screenId}.illum`, embed: `morphoprof.${screenId}.embed` };
}

/** BullMQ job ids: `<screenId>.<shardId>` and `<screenId>.illum.<plate>.<channel>` (BullMQ refuses `:` in ids). */
export function embedJobId(screenId: string, shardId: string): string {
  return `${screenId}.${shardId}`;
}

export function illumJobId(screenId: string, plate: string, channel: string): string {
  const clean = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_');
  return `${screenId}.illum.${clean(plate)}.${clean(channel)}`;
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The screen id: a hash of where the screen is, what its tables hold, and how it is embedded. */
export function screenIdOf(identity: Record<string, unknown>): string {
  return createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 16);
}

export const queueFileOf = (out: string) => path.join(path.resolve(out), 'queue.json');

export async function readQueueConfig(file: string): Promise<QueueConfig> {
  if (!existsSync(file))
    throw new MorphoprofError('FILE_NOT_FOUND', `No queued run at ${file}`, 'Run `morphoprof queue submit ... --out <dir>` first, and give the same --out (on a shared filesystem)');
  try {
    return JSON.parse(await readFile(file, 'utf8')) as QueueConfig;
  } catch (err) {
    throw new MorphoprofError('BAD_TABLE', `Cannot read ${file}: ${errorMessage(err)}`, 'Submit the screen again');
  }
}

export async function writeQueueConfig(file: string, config: QueueConfig): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(config, null, 2) + '\n');
  await rename(tmp, file);
}

/** `redis://user:secret@host:6379/0` without the password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

export interface RedisOptions {
  /** Keep retrying forever (workers) instead of giving up after a few attempts (short commands). */
  patient?: boolean;
  say?: (line: string) => void;
}

/**
 * A Redis client that reconnects with exponential backoff (0.2 s doubling up to 30 s) and says so.
 * BullMQ duplicates it for its blocking connections (`maxRetriesPerRequest: null`, as BullMQ requires).
 */
export function connectRedis(url: string, opts: RedisOptions = {}): Redis {
  const say = opts.say ?? (() => {});
  const shown = redactUrl(url);
  let lastError = '';
  let down = false;
  const client = new Redis(url, {
    maxRetriesPerRequest: null,
    retryStrategy: (times) => (!opts.patient && times > 4 ? null : Math.min(200 * 2 ** (times - 1), 30_000)),
  });
  client.on('error', (err: Error) => {
    lastError = (err as NodeJS.ErrnoException).code ?? err.message;
  });
  client.on('reconnecting', (ms: number) => {
    down = true;
    say(`Redis at ${shown} unreachable (${lastError || 'connection lost'}); retrying in ${(ms / 1000).toFixed(1)} s`);
  });
  client.on('ready', () => {
    if (down) say(`Redis at ${shown} reachable again`);
    down = false;
  });
  return client;
}

/** Wait for Redis to answer, or fail with a message that names the URL (for short commands). */
export async function ensureReachable(client: Redis, url: string): Promise<void> {
  try {
    await client.ping();
  } catch (err) {
    client.disconnect();
    throw new MorphoprofError(
      'BAD_ARGUMENT',
      `Cannot reach Redis at ${redactUrl(url)}: ${errorMessage(err)}`,
      'Start redis-server (or check the host and port in --redis, e.g. redis://host:6379)',
    );
  }
}
