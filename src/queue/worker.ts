import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { calibrationFields, checkFieldFiles } from '../embed/embed.js';
import { FieldEmbedder } from '../embed/embedder.js';
import type { FeatureStore, Shard } from '../embed/store.js';
import { errorMessage } from '../errors.js';
import { computeIllumination } from '../illum/index.js';
import { fieldKey, type Field, type Screen } from '../screen/types.js';
import { connectRedis, queueNames, redactUrl, readQueueConfig, SCREENS_KEY, screenKey, type EmbedJobData, type IllumJobData, type JobData, type QueueConfig } from './config.js';
import { loadQueuedScreen, openStore } from './screen.js';
import { jobCounts } from './submit.js';

export interface WorkerOptions {
  redis: string;
  /** Jobs this process runs at once (over all screens), default 1. */
  concurrency?: number;
  /** Exit once no screen on this Redis has work left (waiting, delayed or running jobs). */
  once?: boolean;
  /** Model cache (default: MORPHOPROF_CACHE or ~/.cache/morphoprof). */
  cacheDir?: string;
  /**
   * Lease of a running job in ms (BullMQ lockDuration, renewed every half of it while the job runs).
   * A worker that dies loses its lease; the job is then picked up by another worker at the next
   * stalled check. Default 30000 or MORPHOPROF_LOCK_MS.
   */
  lockDurationMs?: number;
  /** How often this worker looks for jobs whose lease expired, default 30000 or MORPHOPROF_STALLED_MS. */
  stalledIntervalMs?: number;
  /** Times a job may lose its worker before it goes to the failed set, default 2. */
  maxStalledCount?: number;
  /** How often the list of screens is read, default 1000 ms. */
  pollMs?: number;
  /** Stop taking jobs, finish the running ones and return. */
  signal?: AbortSignal;
  say?: (line: string) => void;
}

export interface WorkerResult {
  jobs: number;
  failed: number;
}

/** A semaphore: at most `n` jobs of this process run at once, whatever screen they belong to. */
class Slots {
  private waiting: Array<() => void> = [];
  constructor(private free: number) {}
  async acquire(): Promise<void> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

/** What a worker keeps open per screen: the screen, its store and (lazily) one embedder. */
class ScreenContext {
  private embedder: Promise<FieldEmbedder> | null = null;
  private byId: Map<string, Shard>;
  private constructor(
    readonly config: QueueConfig,
    readonly screen: Screen,
    readonly present: Field[],
    plan: Shard[],
    readonly store: FeatureStore,
    private readonly cacheDir: string | undefined,
  ) {
    this.byId = new Map(plan.map((s) => [s.id, s]));
  }

  static async open(config: QueueConfig, cacheDir?: string): Promise<ScreenContext> {
    const { screen, present, plan } = await loadQueuedScreen(config);
    return new ScreenContext(config, screen, present, plan, await openStore(config), cacheDir);
  }

  shard(data: EmbedJobData): Shard {
    const shard = this.byId.get(data.shard);
    if (!shard || shard.fields.map(fieldKey).join('\n') !== data.fields.join('\n'))
      throw new UnrecoverableError(`shard ${data.shard} is not in the plan of ${this.config.out}/queue.json (was the screen submitted again to another --out?)`);
    return shard;
  }

  /** The same network, geometry reference and calibration fields as a single-machine run. */
  embedderOnce(): Promise<FieldEmbedder> {
    this.embedder ??= FieldEmbedder.open(this.screen, this.config.settings, {
      cacheDir: this.cacheDir,
      geometryFrom: this.present,
      calibrationFields: this.config.settings.precision === 'int8' ? calibrationFields(this.present, this.screen.controlCompound) : undefined,
    }).catch((err) => {
      this.embedder = null;
      throw err;
    });
    return this.embedder;
  }

  async dispose(): Promise<void> {
    const e = this.embedder;
    this.embedder = null;
    if (e) await (await e.catch(() => null))?.dispose();
  }
}

interface ScreenEntry {
  config: QueueConfig;
  queues: { illum: Queue; embed: Queue };
  workers: Worker[];
  context: Promise<ScreenContext> | null;
  running: number;
}

function envMs(name: string): number | undefined {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : undefined;
}

/**
 * A queue worker: takes jobs of every screen submitted to this Redis, embeds their fields and
 * commits them to the shared feature store. Idempotent per job: a shard already committed (by a
 * worker that died after its commit, or by a `run`) is not embedded again.
 */
export async function runWorker(opts: WorkerOptions): Promise<WorkerResult> {
  const say = opts.say ?? (() => {});
  const name = `${hostname()}:${process.pid}`;
  const concurrency = opts.concurrency ?? 1;
  const lockDuration = opts.lockDurationMs ?? envMs('MORPHOPROF_LOCK_MS') ?? 30_000;
  const stalledInterval = opts.stalledIntervalMs ?? envMs('MORPHOPROF_STALLED_MS') ?? 30_000;
  const client = connectRedis(opts.redis, { patient: true, say });
  const slots = new Slots(concurrency);
  const screens = new Map<string, ScreenEntry>();
  const unreadable = new Set<string>();
  const result: WorkerResult = { jobs: 0, failed: 0 };
  let lastWorkerError = '';

  const context = (entry: ScreenEntry): Promise<ScreenContext> => {
    entry.context ??= ScreenContext.open(entry.config, opts.cacheDir).catch((err) => {
      entry.context = null;
      throw err;
    });
    return entry.context;
  };

  async function embedJob(entry: ScreenEntry, data: EmbedJobData): Promise<string> {
    const ctx = await context(entry);
    const shard = ctx.shard(data);
    const state = await ctx.store.state(shard);
    if (state.committed) return `already committed (${state.receipt.rows} fields), nothing to do`;
    if (state.problem) say(`warning: ${state.problem}; rebuilding it`);
    // files that were there at submit time but not here: most likely the shared filesystem is not mounted at the same path
    const missing = checkFieldFiles({ ...ctx.screen, fields: shard.fields }).errors;
    if (missing.length)
      throw new Error(`${missing.length} of ${shard.fields.length} fields have image files missing on ${hostname()} (e.g. ${missing[0]!.reason}); are the images visible at the same path on every machine?`);
    const embedder = await ctx.embedderOnce();
    await ctx.store.discard(shard.id);
    const { table, errors } = await embedder.embed(shard.fields, ctx.config.batchSize);
    await ctx.store.commit(shard, table, errors);
    return `${table.features.length} fields committed` + (errors.length ? `, ${errors.length} skipped (broken images, listed in errors.csv by collect)` : '');
  }

  async function illumJob(entry: ScreenEntry, data: IllumJobData): Promise<string> {
    const ctx = await context(entry);
    await computeIllumination({ screen: ctx.screen, out: ctx.config.settings.illum!, plates: [data.plate], channels: [data.channel], warn: (m) => say(`warning: ${m}`) });
    return `illumination of ${data.plate} ${data.channel} done`;
  }

  const processor = (entry: ScreenEntry) => async (job: Job<JobData>) => {
    await slots.acquire();
    entry.running++;
    const t0 = performance.now();
    try {
      say(`${job.id}: started (attempt ${job.attemptsMade + 1} of ${entry.config.attempts}) on ${name}`);
      const what = job.data.kind === 'illum' ? await illumJob(entry, job.data) : await embedJob(entry, job.data);
      say(`${job.id}: ${what} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      result.jobs++;
      return what;
    } finally {
      entry.running--;
      slots.release();
    }
  };

  function startWorkers(entry: ScreenEntry): void {
    const names = queueNames(entry.config.screenId);
    entry.workers = [names.illum, names.embed].map((queueName) => {
      const w = new Worker<JobData>(queueName, processor(entry), {
        connection: client,
        concurrency,
        lockDuration,
        stalledInterval,
        maxStalledCount: opts.maxStalledCount ?? 2,
        name,
      });
      w.on('failed', (job, err) => {
        if (!job) return;
        result.failed++;
        const final = job.attemptsMade >= (job.opts.attempts ?? 1) || err instanceof UnrecoverableError;
        say(`${job.id}: failed (attempt ${job.attemptsMade} of ${job.opts.attempts ?? 1}): ${errorMessage(err)}${final ? ' — left in the failed set' : ' — will be retried'}`);
      });
      w.on('stalled', (jobId) => say(`${jobId}: its worker stopped renewing the lease (killed or lost); back in the queue`));
      w.on('error', (err) => {
        const msg = errorMessage(err);
        // connection trouble is reported once by the client's reconnect messages
        if (msg !== lastWorkerError && !/ECONNREFUSED|ECONNRESET|Connection is closed|EPIPE|ETIMEDOUT/.test(msg)) say(`worker error: ${msg}`);
        lastWorkerError = msg;
      });
      return w;
    });
  }

  async function stopWorkers(entry: ScreenEntry): Promise<void> {
    await Promise.all(entry.workers.map((w) => w.close()));
    entry.workers = [];
    if (entry.context) await (await entry.context.catch(() => null))?.dispose();
    entry.context = null;
  }

  /** Read the screens, start or stop per-screen workers, open the embedding gate; true when there is work left anywhere. */
  async function poll(): Promise<boolean> {
    let workLeft = false;
    for (const id of await client.smembers(SCREENS_KEY)) {
      let entry = screens.get(id);
      if (!entry) {
        const queueFile = await client.hget(screenKey(id), 'queueFile');
        if (!queueFile || unreadable.has(id)) continue;
        let config: QueueConfig;
        try {
          config = await readQueueConfig(queueFile);
        } catch (err) {
          unreadable.add(id);
          say(`warning: skipping screen ${id}: ${errorMessage(err)} (is the shared filesystem mounted at the same path here?)`);
          continue;
        }
        const names = queueNames(id);
        entry = { config, queues: { illum: new Queue(names.illum, { connection: client }), embed: new Queue(names.embed, { connection: client }) }, workers: [], context: null, running: 0 };
        screens.set(id, entry);
      }
      const illum = await jobCounts([entry.queues.illum]);
      const embed = await jobCounts([entry.queues.embed]);
      const open = (c: Record<string, number>) => (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0) + (c['waiting-children'] ?? 0);
      let embedOpen = open(embed);
      if (embedOpen > 0 && (await entry.queues.embed.isPaused())) {
        if ((illum.completed ?? 0) >= entry.config.jobs.illum) {
          await entry.queues.embed.resume();
          say(`screen ${id}: illumination done; embedding jobs released`);
        } else if (open(illum) === 0) embedOpen = 0; // illumination failed: nothing can run until it is retried
      }
      const left = open(illum) + embedOpen;
      if (left > 0 || entry.running > 0) {
        workLeft = true;
        if (entry.workers.length === 0 && !opts.signal?.aborted) startWorkers(entry);
      } else if (entry.workers.length > 0) await stopWorkers(entry);
    }
    return workLeft;
  }

  say(`worker ${name}: waiting for jobs on ${redactUrl(opts.redis)} (concurrency ${concurrency}, lease ${lockDuration} ms)`);
  try {
    while (!opts.signal?.aborted) {
      let workLeft = true;
      try {
        workLeft = await poll();
      } catch (err) {
        say(`warning: ${errorMessage(err)}; trying again`);
      }
      if (opts.once && !workLeft) break;
      await sleep(opts.pollMs ?? 1000, undefined, { signal: opts.signal }).catch(() => {});
    }
  } finally {
    if (opts.signal?.aborted) say(`worker ${name}: stopping; finishing the running job(s)`);
    for (const entry of screens.values()) {
      await stopWorkers(entry);
      await entry.queues.illum.close();
      await entry.queues.embed.close();
    }
    await (client as Redis).quit().catch(() => client.disconnect());
  }
  return result;
}
