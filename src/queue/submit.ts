import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Queue } from 'bullmq';
import { checkFieldFiles, embedSettings, nothingValidMessage } from '../embed/embed.js';
import type { EmbedSettings } from '../embed/embedder.js';
import { writeErrorTable } from '../embed/field-errors.js';
import { DEFAULT_SHARD_SIZE, planShards } from '../embed/store.js';
import { MorphoprofError } from '../errors.js';
import { fieldKey } from '../screen/types.js';
import {
  connectRedis,
  embedJobId,
  ensureReachable,
  illumJobId,
  queueFileOf,
  queueNames,
  quietQueue,
  readQueueConfig,
  SCREENS_KEY,
  screenIdOf,
  screenKey,
  sha256File,
  writeQueueConfig,
  type EmbedJobData,
  type IllumJobData,
  type QueueConfig,
} from './config.js';
import { CellEmbedder, cellJobSize, type CellDeepOptions } from '../cells/deep.js';
import { cellSettings, type CellSettingsInput } from '../cells/field.js';
import { loadScreen, resolveImages } from '../screen/index.js';
import { checked, queueConfigSchema } from './schema.js';
import { metadataErrors, openStore } from './screen.js';

export interface SubmitOptions extends Partial<Omit<EmbedSettings, 'illum'>> {
  metadata: string;
  images: string;
  moa?: string;
  /** Run directory on the filesystem every worker sees at the same path. */
  out: string;
  redis: string;
  /** CA file of a `rediss://` Redis. */
  redisCa?: string;
  controlCompound?: string;
  /** Illumination functions folder, or `auto` to compute them with illum jobs (per plate and stain) before embedding. */
  illum?: string;
  batchSize?: number;
  /** Fields per job (= shard of the feature store), default 32 as in `run`. */
  shardSize?: number;
  /** Tries per job before it goes to the failed set, default 3. */
  attempts?: number;
  /** First retry delay in ms, doubled at each retry, default 5000. */
  backoffMs?: number;
  /** `classical`: nuclei and cells found and measured instead of a network (as `run --features classical`). */
  features?: 'deep' | 'classical';
  /** classical: the cells stage's settings (defaults from the screen's stains). */
  cells?: CellSettingsInput;
  /** classical and cells: also write one row per object (cell) to `<out>/cells/`. */
  keepCells?: boolean;
  /** deep features: `fields` (default) whole fields; `cells` a box around every nucleus, as `run --mode cells`. */
  mode?: 'fields' | 'cells';
  /** cells mode: box, network input, aggregation, locations table, crop batch, segmentation settings. */
  cellDeep?: CellDeepOptions;
  /** Model cache of this machine (cells mode opens the network once to learn its input size). */
  cacheDir?: string;
  log?: (line: string) => void;
}

export interface SubmitResult {
  screenId: string;
  queueFile: string;
  jobs: { illum: number; embed: number };
  /** fields per embedding job (= per shard of the feature store) */
  jobSize: number;
  /** jobs added by this call (0 when the screen was submitted before) */
  added: number;
  /** jobs of the screen in BullMQ's failed set (retry them with `queue retry`) */
  failed: number;
}

/** Counts of every state, summed over a screen's queues. */
export async function jobCounts(queues: Queue[]): Promise<Record<string, number>> {
  const sum: Record<string, number> = {};
  for (const q of queues) {
    const c = await q.getJobCounts('completed', 'failed', 'active', 'waiting', 'delayed', 'prioritized', 'waiting-children');
    for (const [k, v] of Object.entries(c)) sum[k] = (sum[k] ?? 0) + v;
  }
  return sum;
}

const total = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);

/**
 * Split a screen into jobs on Redis: illumination per plate and stain (with `illum: 'auto'`), then one
 * job per shard of the feature store. Idempotent: job ids are `<screenId>.<shard>`, so submitting the
 * same screen again adds nothing. With illum jobs, the embedding queue is paused until they have
 * all completed (workers resume it), since every embedding needs the functions of its plate.
 */
export async function submitScreen(opts: SubmitOptions): Promise<SubmitResult> {
  const log = opts.log ?? (() => {});
  const out = path.resolve(opts.out);
  await mkdir(out, { recursive: true });
  const illumAuto = opts.illum === 'auto';
  const { metadata: _m, images: _i, moa: _moa, out: _o, redis: _r, redisCa: _ca, log: _l, controlCompound: _c, attempts: _a, backoffMs: _b, features: _f, cells: _cs, keepCells: _k, mode: _md, cellDeep: _cd, cacheDir: _cache, ...embedOpts } = opts;
  let settings = embedSettings({ ...embedOpts, illum: illumAuto ? path.join(out, 'illum') : opts.illum });
  const batchSize = opts.batchSize ?? 8;
  const metadata = path.resolve(opts.metadata);
  const moa = opts.moa ? path.resolve(opts.moa) : null;
  const images = resolveImages(opts.images);
  const controlCompound = opts.controlCompound ?? 'DMSO';
  const { screen, problems } = await loadScreen({ metadata, images, moa: moa ?? undefined, controlCompound });
  if (opts.features === 'classical' && opts.mode === 'cells')
    throw new MorphoprofError('BAD_ARGUMENT', '--mode cells embeds a box around every cell with a network; --features classical measures cells already', 'give one of them: --features classical, or --mode cells');
  const cells =
    opts.features === 'classical'
      ? { settings: cellSettings(screen.channels, { ...opts.cells, illum: settings.illum }), keepCells: opts.keepCells === true }
      : undefined;
  let cellDeep: QueueConfig['cellDeep'];
  if (opts.mode === 'cells') {
    // the recipe as a single-machine `run --mode cells` records it (a locations table is read and checked here)
    const planned = await CellEmbedder.recipeOf(screen, settings, { ...opts.cellDeep, locations: opts.cellDeep?.locations ? path.resolve(opts.cellDeep.locations) : null }, opts.cacheDir);
    settings = planned.settings;
    cellDeep = { recipe: planned.recipe, keepCells: opts.keepCells === true };
    if (planned.locations?.errors.length) log(`warning: ${planned.locations.errors.length} row(s) of ${planned.locations.file} cannot be used (e.g. ${planned.locations.errors[0]!.reason}); listed in errors.csv by queue collect`);
  }
  // cells mode: a field is ~100 cells x the stains network images, not one per stain (see cellJobSize)
  const shardSize = opts.shardSize ?? (cellDeep ? cellJobSize({ inputSize: cellDeep.recipe.inputSize, stains: screen.channels.length, fieldJobSize: DEFAULT_SHARD_SIZE }) : DEFAULT_SHARD_SIZE);
  const identity = {
    metadata,
    metadataSha256: await sha256File(metadata),
    images,
    moa,
    moaSha256: moa ? await sha256File(moa) : null,
    controlCompound,
    settings,
    ...(cells ? { cells } : {}),
    ...(cellDeep ? { cellDeep } : {}),
    batchSize,
    shardSize,
    illumAuto,
    out,
  };
  const screenId = screenIdOf(identity);
  const queueFile = queueFileOf(out);
  let submittedAt = new Date().toISOString();
  if (existsSync(queueFile)) {
    const before = await readQueueConfig(queueFile);
    submittedAt = before.submittedAt;
    if (before.screenId !== screenId)
      throw new MorphoprofError(
        'BAD_ARGUMENT',
        `${out} already holds screen ${before.screenId} (${before.metadata}), submitted with other tables or settings`,
        'Use a new --out directory for a different screen or recipe',
      );
  }
  // as every worker will read it: checked, and with its keys in the schema's order (the feature store compares its settings as text)
  const config: QueueConfig = checked(
    queueConfigSchema,
    JSON.parse(JSON.stringify({ morphoprof: 1, screenId, ...identity, attempts: opts.attempts ?? 3, backoffMs: opts.backoffMs ?? 5000, jobs: { illum: 0, embed: 0 }, plan: [], submittedAt })),
    'the queue file being written',
    'Check the options given to queue submit',
  );

  const { present, errors } = checkFieldFiles(screen);
  if (present.length === 0) {
    const errorTable = path.join(out, 'errors.csv');
    const all = [...metadataErrors(problems), ...errors];
    await writeErrorTable(errorTable, all);
    throw new MorphoprofError('NOTHING_VALID', nothingValidMessage(screen, all), `Every skipped field and its reason is in ${errorTable}.`);
  }
  await openStore(config); // refuses an --out whose features were made with another recipe
  const plan = planShards(present, shardSize);
  const plates = [...new Set(present.map((f) => f.plate))];
  const illumKeys = illumAuto ? plates.flatMap((plate) => screen.channels.map((channel) => ({ plate, channel }))) : [];
  config.jobs = { illum: illumKeys.length, embed: plan.length };
  config.plan = plan.map((s) => ({ id: s.id, fields: s.fields.map(fieldKey) }));
  await writeQueueConfig(queueFile, config);
  const queueSha256 = await sha256File(queueFile);
  const illumJobs: IllumJobData[] = illumKeys.map((k) => ({ kind: 'illum', screenId, queueFile, queueSha256, ...k }));

  const client = connectRedis(opts.redis, { say: log, ca: opts.redisCa });
  await ensureReachable(client, opts.redis);
  const names = queueNames(screenId);
  const illumQueue = quietQueue(names.illum, client);
  const embedQueue = quietQueue(names.embed, client);
  try {
    const jobOpts = { attempts: config.attempts, backoff: { type: 'exponential', delay: config.backoffMs } };
    const before = await jobCounts([illumQueue, embedQueue]);
    await client.sadd(SCREENS_KEY, screenId);
    await client.hset(screenKey(screenId), { queueFile, queueSha256, out, submittedAt: config.submittedAt });
    for (let i = 0; i < illumJobs.length; i += 500)
      await illumQueue.addBulk(illumJobs.slice(i, i + 500).map((data) => ({ name: 'illum', data, opts: { ...jobOpts, jobId: illumJobId(screenId, data.plate, data.channel) } })));
    // embedding waits for every illumination function (the embedder loads all of them)
    if (illumJobs.length > 0 && (await illumQueue.getJobCounts('completed')).completed < illumJobs.length) await embedQueue.pause();
    const embedJobs: EmbedJobData[] = config.plan.map((s) => ({ kind: 'embed', screenId, queueFile, queueSha256, shard: s.id, fields: s.fields }));
    for (let i = 0; i < embedJobs.length; i += 500)
      await embedQueue.addBulk(embedJobs.slice(i, i + 500).map((data) => ({ name: 'embed', data, opts: { ...jobOpts, jobId: embedJobId(screenId, data.shard) } })));
    const after = await jobCounts([illumQueue, embedQueue]);
    return { screenId, queueFile, jobs: config.jobs, jobSize: shardSize, added: total(after) - total(before), failed: after.failed ?? 0 };
  } finally {
    await illumQueue.close();
    await embedQueue.close();
    await client.quit();
  }
}
