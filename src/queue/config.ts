import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { errorMessage, MorphoprofError } from '../errors.js';
import type { CellDeepRecipe } from '../cells/deep.js';
import type { CellSettings } from '../cells/field.js';
import type { EmbedSettings } from '../embed/embedder.js';
import { checked, jobDataSchema, queueConfigSchema } from './schema.js';

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
  /** classical features instead of a network (`--features classical`): the cells stage's settings; absent for deep features */
  cells?: { settings: CellSettings; keepCells: boolean };
  /**
   * single-cell deep profiles (`--mode cells`): the whole recipe as `run --mode cells` records it
   * (box, network input, aggregation, crop batch, nuclei from segmentation or a locations table
   * with its SHA-256); `settings` then holds the embedding settings that recipe was planned with
   */
  cellDeep?: { recipe: CellDeepRecipe; keepCells: boolean };
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

interface JobCommon {
  screenId: string;
  /** `<out>/queue.json` of the screen and its SHA-256 at submit time (a queue file edited since is refused) */
  queueFile: string;
  queueSha256: string;
}

export interface EmbedJobData extends JobCommon {
  kind: 'embed';
  shard: string;
  /** field keys of the shard as planned at submit time */
  fields: string[];
}

export interface IllumJobData extends JobCommon {
  kind: 'illum';
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

/** A queue file as read: its checked contents and the SHA-256 of its bytes. */
export async function readQueueFile(file: string): Promise<{ config: QueueConfig; sha256: string }> {
  if (!existsSync(file))
    throw new MorphoprofError('FILE_NOT_FOUND', `No queued run at ${file}`, 'Run `morphoprof queue submit ... --out <dir>` first, and give the same --out (on a shared filesystem)');
  let bytes: Buffer;
  let value: unknown;
  try {
    bytes = await readFile(file);
    value = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new MorphoprofError('BAD_TABLE', `Cannot read ${file}: ${errorMessage(err)}`, 'Submit the screen again');
  }
  const config: QueueConfig = checked(queueConfigSchema, value, file, 'Submit the screen again (queue.json is written by `queue submit`, not by hand)');
  return { config, sha256: createHash('sha256').update(bytes).digest('hex') };
}

export async function readQueueConfig(file: string): Promise<QueueConfig> {
  return (await readQueueFile(file)).config;
}

/** The key of the note that replaces job data Redis held as something other than JSON. */
export const UNPARSABLE_DATA = 'morphoprof.unparsable';

/** Job data from Redis, checked; a MorphoprofError naming the job otherwise. */
export function checkJobData(jobId: string | undefined, data: unknown): JobData {
  const unparsable = (data as Record<string, unknown> | null)?.[UNPARSABLE_DATA];
  if (typeof unparsable === 'string')
    throw new MorphoprofError('BAD_TABLE', `the data of job ${jobId} is not JSON (${unparsable})`, 'Jobs are made by `queue submit`; this one was not');
  return checked(jobDataSchema, data, `the data of job ${jobId}`, 'Jobs are made by `queue submit`; remove this one (it was not) or submit the screen again');
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
    if (u.password) {
      u.password = '***';
      return u.toString();
    }
  } catch {
    // not a URL: masked below
  }
  // whatever sits between the user and the last `@` (also in strings that are not URLs)
  return url.replace(/^([^/]*\/\/)?(.*)@/, (_m, scheme: string | undefined, cred: string) => `${scheme ?? ''}${cred.includes(':') ? `${cred.slice(0, cred.indexOf(':'))}:***` : cred}@`);
}

export interface RedisOptions {
  /** Keep retrying forever (workers) instead of giving up after a few attempts (short commands). */
  patient?: boolean;
  /** PEM file of the certificate authority of a `rediss://` server (else the system's CAs). */
  ca?: string;
  say?: (line: string) => void;
  /** Called once when Redis refuses the user, password or certificate: retrying cannot help. */
  onRefused?: (err: MorphoprofError) => void;
}

const AUTH_ERROR = /WRONGPASS|NOAUTH|NOPERM|invalid username-password/;
const TLS_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|SSL|HOSTNAME|ALTNAME|EPROTO|wrong version number/i;

/** A refusal (password or certificate) as a MorphoprofError, or null for other errors. */
export function redisRefusal(err: Error, url: string): MorphoprofError | null {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const shown = redactUrl(url);
  if (AUTH_ERROR.test(err.message))
    return new MorphoprofError('BAD_ARGUMENT', `Redis at ${shown} refused the user or password (${err.message.split(' ')[0]})`, 'Check the user and password in the URL (redis://user:password@host:6379) against the ACL of the server');
  if (TLS_ERROR.test(code) || TLS_ERROR.test(err.message))
    return new MorphoprofError(
      'BAD_ARGUMENT',
      `Redis at ${shown}: the TLS connection failed (${code || err.message})`,
      url.startsWith('rediss:') ? 'Give the CA that signed the server certificate with --redis-ca <file.pem>, and a host name the certificate names' : 'This server speaks TLS: use rediss:// (with --redis-ca <file.pem>)',
    );
  return null;
}

const lastErrors = new WeakMap<Redis, () => string>();

/**
 * A Redis client that reconnects with exponential backoff (0.2 s doubling up to 30 s) and says so.
 * BullMQ duplicates it for its blocking connections (`maxRetriesPerRequest: null`, as BullMQ requires).
 * `redis://user:password@host` logs in as an ACL user; `rediss://` speaks TLS (`ca`: the CA file).
 */
export function connectRedis(url: string, opts: RedisOptions = {}): Redis {
  const say = opts.say ?? (() => {});
  const shown = redactUrl(url);
  let tls: { ca: Buffer } | undefined;
  if (opts.ca) {
    if (!url.startsWith('rediss:')) throw new MorphoprofError('BAD_ARGUMENT', `--redis-ca given, but ${shown} does not use TLS`, 'Use a rediss:// URL for a TLS port of Redis');
    if (!existsSync(opts.ca)) throw new MorphoprofError('FILE_NOT_FOUND', `CA file ${opts.ca} (--redis-ca) does not exist`, 'Give the PEM file of the certificate authority that signed the Redis server certificate');
    tls = { ca: readFileSync(opts.ca) };
  }
  let lastError = '';
  let down = false;
  let refused = false;
  const client = new Redis(url, {
    maxRetriesPerRequest: null,
    ...(tls ? { tls } : {}),
    retryStrategy: (times) => (refused || (!opts.patient && times > 4) ? null : Math.min(200 * 2 ** (times - 1), 30_000)),
  });
  client.on('error', (err: Error) => {
    const refusal = redisRefusal(err, url);
    if (refusal && !refused) {
      refused = true;
      opts.onRefused?.(refusal);
    }
    lastError = refusal?.message ?? (err as NodeJS.ErrnoException).code ?? err.message;
  });
  client.on('reconnecting', (ms: number) => {
    down = true;
    if (!refused) say(`Redis at ${shown} unreachable (${lastError || 'connection lost'}); retrying in ${(ms / 1000).toFixed(1)} s`);
  });
  client.on('ready', () => {
    if (down) say(`Redis at ${shown} reachable again`);
    down = false;
  });
  lastErrors.set(client, () => lastError);
  return client;
}

/** Wait for Redis to answer, or fail with a message that names the URL (for short commands). */
export async function ensureReachable(client: Redis, url: string): Promise<void> {
  try {
    await client.ping();
  } catch (err) {
    client.disconnect();
    const last = lastErrors.get(client)?.();
    throw (
      redisRefusal(err as Error, url) ??
      (last && redisRefusal(new Error(last), url)) ??
      new MorphoprofError('BAD_ARGUMENT', `Cannot reach Redis at ${redactUrl(url)}: ${last || errorMessage(err)}`, 'Start redis-server (or check the host and port in --redis, e.g. redis://host:6379)')
    );
  }
}

/**
 * A BullMQ queue handle whose connection errors are left to the client's reconnect messages and to
 * the calls that fail (without a listener BullMQ prints each one with its stack).
 */
export function quietQueue(name: string, client: Redis): Queue {
  return new Queue(name, { connection: client }).on('error', () => {});
}
