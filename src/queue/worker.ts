import { hostname } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UnrecoverableError, Worker, type Job, type JobJson, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { calibrationFields, checkFieldFiles } from '../embed/embed.js';
import { CellEmbedder, storeSettings, type CellDeepOptions, type CellDeepRecipe } from '../cells/deep.js';
import { CellStage } from '../cells/stage.js';
import { FieldEmbedder } from '../embed/embedder.js';
import type { FeatureStore, Shard } from '../embed/store.js';
import { errorMessage, MorphoprofError } from '../errors.js';
import { computeIllumination } from '../illum/index.js';
import { fieldKey, type Field, type Screen } from '../screen/types.js';
import { Roots } from './confine.js';
import {
  checkJobData,
  connectRedis,
  queueNames,
  quietQueue,
  readQueueFile,
  redactUrl,
  SCREENS_KEY,
  screenKey,
  sha256File,
  UNPARSABLE_DATA,
  type EmbedJobData,
  type IllumJobData,
  type JobData,
  type QueueConfig,
} from './config.js';
import { loadQueuedScreen, locationsOf, openCellRowStore, openStore, storeRecipe } from './screen.js';
import { jobCounts } from './submit.js';

export interface WorkerOptions {
  redis: string;
  /** CA file of a `rediss://` Redis. */
  redisCa?: string;
  /**
   * Directories this worker may read and write under (after links are followed); a job leading
   * anywhere else goes to the failed set. Default: the current directory only.
   */
  roots?: string[];
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
  /** Stop taking jobs, finish (and commit) the running ones and return, without waiting for an unreachable Redis. */
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

/**
 * A BullMQ worker that survives job data that is not JSON (forged or damaged in Redis): BullMQ would
 * throw while taking the job, leave it active and take it again after every stalled check, forever.
 * Here the job is taken with its data replaced by a note, and fails the schema check with its reason.
 */
class TolerantWorker extends Worker {
  protected override createJob(json: JobJson, jobId: string): Job {
    try {
      return super.createJob(json, jobId);
    } catch (err) {
      return super.createJob({ ...json, data: JSON.stringify({ [UNPARSABLE_DATA]: errorMessage(err) }) }, jobId);
    }
  }
}

/** The options that make CellEmbedder plan `recipe` again from the settings it was planned with (the input size is in those). */
function cellDeepOptions(recipe: CellDeepRecipe): CellDeepOptions {
  const { nuclei } = recipe;
  return {
    boxSize: recipe.boxSize,
    aggregate: recipe.aggregate,
    resize: recipe.resize,
    cropBatch: recipe.cropBatch,
    locations: 'locations' in nuclei ? nuclei.locations : null,
    ...('segmentation' in nuclei ? { segmentation: { nucleiChannel: nuclei.segmentation.nucleiChannel, nuclei: nuclei.segmentation.nuclei } } : {}),
  };
}

/** JSON with the keys of every object sorted: two records compared whatever order their keys were made in. */
const sortedJson = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x));

/** What a worker keeps open per screen: the screen, its store and (lazily) one embedder, single-cell embedder or cells stage. */
class ScreenContext {
  private embedder: Promise<FieldEmbedder> | null = null;
  private cellStage: Promise<CellStage> | null = null;
  private cellEmbedder: Promise<CellEmbedder> | null = null;
  private cellRows: Promise<FeatureStore> | null = null;
  /** the turn of the job using this screen's network (see `withNetwork`) */
  private networkTurn: Promise<void> = Promise.resolve();
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

  /**
   * Run `work` (a shard's embedding) when no other job of this process uses the screen's network.
   * The network's thread copies every shared batch into one reused buffer and onnxruntime-node
   * starts the run a tick later, so two jobs in flight at once (`--concurrency 2`) could overwrite
   * each other's batch (measured: 2-4 of 16 fields wrong). Commits still overlap the next job.
   */
  async withNetwork<T>(work: () => Promise<T>): Promise<T> {
    const before = this.networkTurn;
    let done!: () => void;
    this.networkTurn = new Promise<void>((resolve) => (done = resolve));
    await before;
    try {
      return await work();
    } finally {
      done();
    }
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

  /** Classical features (`--features classical`): the same cells stage and stores as `run --features classical`. */
  cellStageOnce(): Promise<CellStage> {
    const cells = this.config.cells!;
    this.cellStage ??= CellStage.open(this.screen, 'classical', cells.settings, { out: this.config.out, keepCells: cells.keepCells, shardSize: this.config.shardSize }).catch((err) => {
      this.cellStage = null;
      throw err;
    });
    return this.cellStage;
  }

  /**
   * Single-cell deep features (`--mode cells`): the same network, recipe and int8 calibration crops
   * (from the same control fields of the plan) as `run --mode cells`. A machine whose model or
   * locations table gives another recipe than the one submitted is refused.
   */
  cellEmbedderOnce(): Promise<CellEmbedder> {
    const { recipe } = this.config.cellDeep!;
    this.cellEmbedder ??= (async () => {
      const e = await CellEmbedder.open(this.screen, this.config.settings, cellDeepOptions(recipe), {
        cacheDir: this.cacheDir,
        calibrationFields: this.config.settings.precision === 'int8' ? calibrationFields(this.present, this.screen.controlCompound) : undefined,
      });
      const [made, submitted] = [sortedJson(storeSettings(e.settings, e.recipe, this.config.shardSize)), sortedJson(storeRecipe(this.config))];
      if (made !== submitted) {
        await e.dispose();
        throw new UnrecoverableError(`on ${hostname()} the network and options of ${this.config.out}/queue.json make another single-cell recipe (${made}) than at submit (${submitted}); is the model the same file on every machine?`);
      }
      return e;
    })().catch((err) => {
      this.cellEmbedder = null;
      throw err;
    });
    return this.cellEmbedder;
  }

  /** `--mode cells --keep-cells`: the store of one row per cell. */
  cellRowStoreOnce(): Promise<FeatureStore> {
    this.cellRows ??= openCellRowStore(this.config).catch((err) => {
      this.cellRows = null;
      throw err;
    });
    return this.cellRows;
  }

  async dispose(): Promise<void> {
    const d = this.cellEmbedder;
    this.cellEmbedder = null;
    if (d) await (await d.catch(() => null))?.dispose();
    const e = this.embedder;
    this.embedder = null;
    if (e) await (await e.catch(() => null))?.dispose();
    const c = this.cellStage;
    this.cellStage = null;
    if (c) await (await c.catch(() => null))?.dispose();
  }
}

/** The queues of one screen and what this worker knows of it. */
interface ScreenEntry {
  id: string;
  /** the checked queue file and the SHA-256 of its bytes, or null when the screen is refused */
  queueFile: string;
  config: QueueConfig | null;
  /** why every job of this screen fails here (queue file missing, malformed or leading outside the roots) */
  refused: Error | null;
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
 * A refusal that retrying cannot cure goes straight to the failed set (BullMQ's UnrecoverableError);
 * missing files and other errors are retried with backoff (a mount may come back).
 */
function asJobError(err: unknown): Error {
  if (err instanceof UnrecoverableError) return err;
  if (err instanceof MorphoprofError && err.code !== 'FILE_NOT_FOUND' && err.code !== 'INTERNAL') return new UnrecoverableError(err.describe());
  return err instanceof Error ? err : new Error(String(err));
}

const open = (c: Record<string, number>) => (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0) + (c['waiting-children'] ?? 0);

/**
 * A queue worker: takes jobs of every screen submitted to this Redis, embeds their fields and
 * commits them to the shared feature store. Idempotent per job: a shard already committed (by a
 * worker that died after its commit, or by a `run`) is not embedded again. Trusts Redis with
 * nothing: job data and queue files are checked against their schemas, and every path they lead
 * to must lie under `roots`.
 */
export async function runWorker(opts: WorkerOptions): Promise<WorkerResult> {
  const say = opts.say ?? (() => {});
  const name = `${hostname()}:${process.pid}`;
  const concurrency = opts.concurrency ?? 1;
  const lockDuration = opts.lockDurationMs ?? envMs('MORPHOPROF_LOCK_MS') ?? 30_000;
  const stalledInterval = opts.stalledIntervalMs ?? envMs('MORPHOPROF_STALLED_MS') ?? 30_000;
  const roots = new Roots(opts.roots?.length ? opts.roots : [process.cwd()]);
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  if (opts.signal?.aborted) stop.abort();
  opts.signal?.addEventListener('abort', onAbort);
  let fatal: MorphoprofError | null = null;
  const client = connectRedis(opts.redis, {
    patient: true,
    say,
    ca: opts.redisCa,
    onRefused: (err) => {
      fatal = err;
      stop.abort();
    },
  });
  const slots = new Slots(concurrency);
  const screens = new Map<string, ScreenEntry>();
  const ignored = new Set<string>();
  /** the running jobs' own work (embedding and commit); Redis bookkeeping after it is BullMQ's */
  const inflight = new Set<Promise<unknown>>();
  const result: WorkerResult = { jobs: 0, failed: 0 };
  let lastWorkerError = '';

  const context = (entry: ScreenEntry): Promise<ScreenContext> => {
    entry.context ??= ScreenContext.open(entry.config!, opts.cacheDir).catch((err) => {
      entry.context = null;
      throw err;
    });
    return entry.context;
  };

  /** Every image of `fields` must lie under the roots (a table may name `../` paths or links). */
  function checkImages(ctx: ScreenContext, fields: readonly Field[]): void {
    for (const f of fields) for (const ch of ctx.screen.channels) if (f.images[ch]) roots.check(`image ${ch} of field ${fieldKey(f)}:`, f.images[ch]!);
  }

  async function embedJob(entry: ScreenEntry, data: EmbedJobData): Promise<string> {
    const ctx = await context(entry);
    const shard = ctx.shard(data);
    checkImages(ctx, shard.fields);
    const state = await ctx.store.state(shard);
    // cells mode commits the per-cell rows before the field rows; both must be there
    const rowStore = ctx.config.cellDeep?.keepCells ? await ctx.cellRowStoreOnce() : null;
    if (state.committed && (!rowStore || (await rowStore.state(shard)).committed)) return `already committed (${state.receipt.rows} fields), nothing to do`;
    if (!state.committed && state.problem) say(`warning: ${state.problem}; rebuilding it`);
    // files that were there at submit time but not here: most likely the shared filesystem is not mounted at the same path
    const missing = checkFieldFiles({ ...ctx.screen, fields: shard.fields }).errors;
    if (missing.length)
      throw new Error(`${missing.length} of ${shard.fields.length} fields have image files missing on ${hostname()} (e.g. ${missing[0]!.reason}); are the images visible at the same path on every machine?`);
    if (ctx.config.cells) {
      const stage = await ctx.cellStageOnce();
      if ((await stage.committed([shard])).done.has(shard.id)) return 'already committed, nothing to do';
      for (const s of stage.stores) await s.discard(shard.id);
      const res = await stage.process(shard);
      const rows = await stage.commit(shard, res);
      return `${rows} fields measured and committed (${res.objects} nuclei)` + (res.errors.length ? `, ${res.errors.length} skipped (listed in errors.csv by collect)` : '');
    }
    if (ctx.config.cellDeep) {
      const cellEmbedder = await ctx.cellEmbedderOnce();
      for (const s of [rowStore, ctx.store]) await s?.discard(shard.id);
      const out = await ctx.withNetwork(() => cellEmbedder.embedShard(shard.fields, { keepCells: rowStore !== null }));
      if (rowStore) await rowStore.commit(shard, out.cells, out.errors);
      await ctx.store.commit(shard, out.fields, out.errors);
      return `${out.fields.features.length} fields committed (${out.crops} cells, ${out.images} crop-stain images)` + (out.errors.length ? `, ${out.errors.length} field or cell problems (listed in errors.csv by collect)` : '');
    }
    const embedder = await ctx.embedderOnce();
    await ctx.store.discard(shard.id);
    const { table, errors } = await ctx.withNetwork(() => embedder.embed(shard.fields, ctx.config.batchSize));
    await ctx.store.commit(shard, table, errors);
    return `${table.features.length} fields committed` + (errors.length ? `, ${errors.length} skipped (broken images, listed in errors.csv by collect)` : '');
  }

  async function illumJob(entry: ScreenEntry, data: IllumJobData): Promise<string> {
    const ctx = await context(entry);
    const illum = ctx.config.illumAuto ? ctx.config.settings.illum : null;
    if (!illum) throw new UnrecoverableError(`screen ${entry.id} was submitted without --illum auto: it has no illumination jobs`);
    const fields = ctx.screen.fields.filter((f) => f.plate === data.plate);
    if (fields.length === 0 || !ctx.screen.channels.includes(data.channel))
      throw new UnrecoverableError(`plate ${JSON.stringify(data.plate)} and stain ${JSON.stringify(data.channel)} of this illumination job are not in ${ctx.config.metadata}`);
    checkImages(ctx, fields);
    await computeIllumination({ screen: ctx.screen, out: illum, plates: [data.plate], channels: [data.channel], warn: (m) => say(`warning: ${m}`) });
    return `illumination of ${data.plate} ${data.channel} done`;
  }

  /** The job's data, checked against its schema and against the screen whose queue it sits in. */
  async function admit(entry: ScreenEntry, job: Job): Promise<JobData> {
    const data = checkJobData(job.id, job.data);
    if (data.screenId !== entry.id) throw new UnrecoverableError(`job ${job.id} names screen ${data.screenId} but sits in the queue of screen ${entry.id}`);
    if (data.queueFile !== entry.queueFile) throw new UnrecoverableError(`job ${job.id} names the queue file ${data.queueFile}, but screen ${entry.id} was submitted with ${entry.queueFile}`);
    if (entry.refused) throw entry.refused;
    if ((await sha256File(entry.queueFile)) !== data.queueSha256)
      throw new MorphoprofError('BAD_TABLE', `${entry.queueFile} changed after job ${job.id} was submitted`, 'Restore the file, or submit the screen again with a new --out');
    return data;
  }

  const processor = (entry: ScreenEntry) => async (job: Job<unknown>) => {
    await slots.acquire();
    entry.running++;
    const t0 = performance.now();
    const work = (async () => {
      say(`${job.id}: started (attempt ${job.attemptsMade + 1} of ${Math.max(1, job.opts.attempts ?? 1)}) on ${name}`);
      const data = await admit(entry, job);
      return data.kind === 'illum' ? await illumJob(entry, data) : await embedJob(entry, data);
    })();
    inflight.add(work);
    try {
      const what = await work;
      say(`${job.id}: ${what} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      result.jobs++;
      return what;
    } catch (err) {
      throw asJobError(err);
    } finally {
      inflight.delete(work);
      entry.running--;
      slots.release();
    }
  };

  function startWorkers(entry: ScreenEntry): void {
    const names = queueNames(entry.id);
    entry.workers = [names.illum, names.embed].map((queueName) => {
      const w = new TolerantWorker(queueName, processor(entry), {
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
        const attempts = Math.max(1, job.opts.attempts ?? 1);
        const final = job.attemptsMade >= attempts || err instanceof UnrecoverableError;
        say(`${job.id}: failed (attempt ${job.attemptsMade} of ${attempts}): ${errorMessage(err)}${final ? ' — left in the failed set' : ' — will be retried'}`);
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

  /** Read and check a screen's queue file; on failure the screen is kept with the reason its jobs fail. */
  async function openScreen(entry: Pick<ScreenEntry, 'id' | 'queueFile' | 'config' | 'refused'>): Promise<void> {
    try {
      roots.check('queue file', entry.queueFile);
      const { config } = await readQueueFile(entry.queueFile);
      if (config.screenId !== entry.id) throw new MorphoprofError('BAD_TABLE', `${entry.queueFile} holds screen ${config.screenId}, not ${entry.id}`, 'Submit the screen again');
      if (path.dirname(entry.queueFile) !== config.out)
        throw new MorphoprofError('BAD_TABLE', `${entry.queueFile} names another run directory (${config.out})`, 'A queue file lives in its own run directory; submit the screen again');
      roots.checkAll([
        ['run directory', config.out],
        ['feature store', path.join(config.out, 'features')],
        ['metadata table', config.metadata],
        ['MOA table', config.moa],
        ['images folder', config.images],
        ['illumination folder', config.settings.illum],
        ['illumination folder of the cells stage', config.cells?.settings.illum ?? null],
        ['per-object store', (config.cells ?? config.cellDeep)?.keepCells ? path.join(config.out, 'cells') : null],
        ['locations table', locationsOf(config)],
        ['model', config.settings.model.endsWith('.onnx') ? config.settings.model : null],
      ]);
      entry.config = config;
      entry.refused = null;
    } catch (err) {
      const reason = asJobError(err);
      if (reason.message !== entry.refused?.message) say(`warning: refusing the jobs of screen ${entry.id}: ${reason.message}`);
      entry.config = null;
      entry.refused = reason;
    }
  }

  /** The entry of a screen named in Redis, or null for names that are not screen ids. */
  async function screenEntry(id: string): Promise<ScreenEntry | null> {
    const known = screens.get(id);
    if (known) return known;
    if (ignored.has(id)) return null;
    const queueFile = /^[0-9a-f]{16}$/.test(id) ? await client.hget(screenKey(id), 'queueFile') : null;
    if (!queueFile || !path.isAbsolute(queueFile)) {
      ignored.add(id);
      say(`warning: ignoring ${JSON.stringify(id)} in ${SCREENS_KEY}: not a submitted screen (no screen id or no queue file)`);
      return null;
    }
    const names = queueNames(id);
    const entry: ScreenEntry = {
      id,
      queueFile,
      config: null,
      refused: null,
      queues: { illum: quietQueue(names.illum, client), embed: quietQueue(names.embed, client) },
      workers: [],
      context: null,
      running: 0,
    };
    await openScreen(entry);
    screens.set(id, entry);
    return entry;
  }

  /** Read the screens, start or stop per-screen workers, open the embedding gate; true when there is work left anywhere. */
  async function poll(): Promise<boolean> {
    let workLeft = false;
    for (const id of await client.smembers(SCREENS_KEY)) {
      const entry = await screenEntry(id);
      if (!entry) continue;
      const illum = await jobCounts([entry.queues.illum]);
      const embed = await jobCounts([entry.queues.embed]);
      let embedOpen = open(embed);
      if (entry.refused && open(illum) + embedOpen > 0 && entry.running === 0) await openScreen(entry); // fixed since?
      if (embedOpen > 0 && (await entry.queues.embed.isPaused())) {
        if (entry.config && (illum.completed ?? 0) >= entry.config.jobs.illum) {
          await entry.queues.embed.resume();
          say(`screen ${id}: illumination done; embedding jobs released`);
        } else if (open(illum) === 0) embedOpen = 0; // illumination failed: nothing can run until it is retried
      }
      const left = open(illum) + embedOpen;
      if (left > 0 || entry.running > 0) {
        workLeft = true;
        if (entry.workers.length === 0 && !stop.signal.aborted) startWorkers(entry);
      } else if (entry.workers.length > 0) await stopWorkers(entry);
    }
    return workLeft;
  }

  /** `p`, or undefined as soon as the worker is told to stop (a command to an unreachable Redis waits forever). */
  const stopped = stop.signal.aborted ? Promise.resolve(undefined) : new Promise<undefined>((resolve) => stop.signal.addEventListener('abort', () => resolve(undefined), { once: true }));
  const unlessStopped = <T>(p: Promise<T>): Promise<T | undefined> => {
    p.catch(() => {});
    return Promise.race([p, stopped]);
  };

  /**
   * Finish the running jobs' own work (embedding and commit: the shared filesystem, not Redis), then
   * close the queues: gracefully when Redis answers, at once when it does not. A job committed while
   * Redis was away is completed by whoever takes it next ("already committed, nothing to do").
   */
  async function shutDown(): Promise<void> {
    // closing stops the fetching of new jobs at once; a graceful close then waits for BullMQ to record the running ones
    const closing = Promise.allSettled([...screens.values()].flatMap((e) => e.workers.map((w) => w.close())));
    await Promise.allSettled([...inflight]);
    const up = client.status === 'ready';
    if (up) await Promise.race([Promise.allSettled([closing, ...[...screens.values()].flatMap((e) => [e.queues.illum.close(), e.queues.embed.close()])]), sleep(10_000)]);
    for (const entry of screens.values()) if (entry.context) await (await entry.context.catch(() => null))?.dispose();
    if (up) await Promise.race([client.quit().catch(() => {}), sleep(2000)]);
    client.disconnect();
  }

  say(`worker ${name}: waiting for jobs on ${redactUrl(opts.redis)} (concurrency ${concurrency}, lease ${lockDuration} ms; may use ${roots.dirs.join(', ')})`);
  try {
    while (!stop.signal.aborted) {
      let workLeft: boolean | undefined = true;
      try {
        workLeft = await unlessStopped(poll());
      } catch (err) {
        say(`warning: ${errorMessage(err)}; trying again`);
      }
      if (opts.once && workLeft === false) break;
      await sleep(opts.pollMs ?? 1000, undefined, { signal: stop.signal }).catch(() => {});
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    if (stop.signal.aborted) say(`worker ${name}: stopping; ${inflight.size ? 'finishing the running job(s)' : 'no job running'}`);
    await shutDown();
  }
  if (fatal) throw fatal;
  return result;
}
