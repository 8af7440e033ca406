/**
 * The cells stage over a screen: every field's nuclei (and cells) found and measured on worker
 * threads, streamed into crash-safe shards as the embedding stage does.
 *
 * - `segment` mode: one row per nucleus (with its cell's shape when cells are grown) in `<out>/cells/`.
 * - `classical` mode: one row per field of classical features (objects averaged, `--cell-aggregate`)
 *   in `<out>/features/`, the same feature store the deep features use, so profile, evaluate,
 *   report, grid and the queue take it unchanged; with `keepCells` the per-object rows too.
 *
 * A field whose images cannot be read, or in which no nucleus is found, is recorded in errors.csv
 * (stage `read` or `segment`) and has no row; a rerun resumes at the first uncommitted shard.
 */
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { nothingValidMessage, presentFieldsOrThrow } from '../embed/embed.js';
import { fieldError, METADATA_COLUMNS, fieldMetadata } from '../embed/embedder.js';
import { writeErrorTable, type FieldError } from '../embed/field-errors.js';
import { DEFAULT_SHARD_SIZE, FeatureStore, planShards, type Shard } from '../embed/store.js';
import { MorphoprofError } from '../errors.js';
import { loadIllumination } from '../illum/index.js';
import type { Field, Screen } from '../screen/types.js';
import type { MetadataValue, ProfileTable } from '../table/index.js';
import { Progress, type ProgressCallback } from '../util/progress.js';
import { ThreadClient } from '../util/thread.js';
import { cellSettings, classicalFeatureColumns, objectColumns, objectKinds, type CellSettings, type CellSettingsInput } from './field.js';
import type { CellJob, CellReply, CellWorkerData } from './worker.js';

export type CellStageMode = 'segment' | 'classical';

export interface CellStageOptions extends CellStageOpenOptions {
  screen: Screen;
  mode: CellStageMode;
  /** Settings given (the rest from the screen's stains: cellSettings). `diameter` sets nuclei.diameter. */
  settings?: CellSettingsInput;
  onProgress?: ProgressCallback;
  progress?: boolean;
  priorErrors?: FieldError[];
  warn?: (message: string) => void;
}

export interface CellStageResult {
  /** `<out>/features/` in classical mode, else null */
  featuresDir: string | null;
  /** `<out>/cells/` when per-object rows are written, else null */
  cellsDir: string | null;
  settings: CellSettings & { mode: CellStageMode };
  channels: string[];
  featureDim: number;
  fieldsTotal: number;
  /** fields given a row in this run (named as the embedding stage names it) */
  fieldsEmbedded: number;
  fieldsResumed: number;
  /** objects (nuclei) found in this run */
  objects: number;
  shardsRebuilt: string[];
  errors: FieldError[];
  seconds: number;
  openSeconds: number;
  /** CPU-seconds per field spent in the worker threads (read, segment, measure), this run */
  secondsPerField: number;
}

/** Metadata columns of a per-object row. */
export const OBJECT_METADATA_COLUMNS = [...METADATA_COLUMNS, 'Metadata_ObjectNumber'] as const;
/** Metadata columns of a classical field row. */
export const CLASSICAL_METADATA_COLUMNS = [...METADATA_COLUMNS, 'Metadata_Count_Nuclei'] as const;


/** File stem of a field's pictures: `<plate>_<well>_s<site>`. */
export function fieldStem(f: Pick<Field, 'plate' | 'well' | 'site'>): string {
  return `${f.plate}_${f.well}_s${f.site}`.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** What the feature store of classical features records (so `run` and the queue resume each other). */
export function classicalRecipe(settings: CellSettings, shardSize: number): Record<string, unknown> {
  return { features: 'classical', ...settings, mode: 'classical', shardSize };
}

/** A fixed set of worker threads; each call goes to the next free one. */
class CellPool {
  private readonly free: ThreadClient[] = [];
  private readonly waiting: Array<(c: ThreadClient) => void> = [];
  constructor(private readonly clients: ThreadClient[]) {
    this.free.push(...clients);
  }

  static async open(n: number, data: CellWorkerData): Promise<CellPool> {
    const clients = Array.from({ length: n }, () => new ThreadClient(new URL('./worker.js', import.meta.url), 'a cells worker thread', { workerData: data }));
    return new CellPool(clients);
  }

  async run(job: CellJob): Promise<CellReply> {
    const client = this.free.pop() ?? (await new Promise<ThreadClient>((resolve) => this.waiting.push(resolve)));
    try {
      return await client.call<CellReply>(job);
    } finally {
      const next = this.waiting.shift();
      if (next) next(client);
      else this.free.push(client);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.terminate()));
  }
}

export interface CellStageOpenOptions {
  /** run directory */
  out: string;
  /** classical mode: also write the per-object rows to `<out>/cells/` */
  keepCells?: boolean;
  /** write each field's label images to `<out>/labels/` */
  labels?: boolean;
  /** write each field's outlines over the nuclei stain to `<out>/overlays/` */
  overlays?: boolean;
  /** label images as 16-bit PNG (default) or TIFF */
  labelFormat?: 'png' | 'tiff';
  /** worker threads (default: one per core) */
  threads?: number;
  shardSize?: number;
}

/** What one shard gave: its tables (not yet committed) and what was measured. */
export interface CellShardResult {
  fieldRows: ProfileTable;
  objectRows: ProfileTable;
  errors: FieldError[];
  /** fields read and segmented (with or without nuclei) */
  fieldsRun: number;
  objects: number;
  /** worker-thread seconds over those fields */
  workerSeconds: number;
}

/**
 * The cells stage of one screen, shard by shard: the stores, the recipe and (opened on first use)
 * the worker threads. `cellScreen` runs it over a whole screen; a queue worker runs one shard a job.
 */
export class CellStage {
  private pool: Promise<CellPool> | null = null;
  readonly featureColumns: string[];
  readonly objectFeatureColumns: string[];
  private constructor(
    readonly screen: Screen,
    readonly mode: CellStageMode,
    readonly settings: CellSettings,
    readonly features: FeatureStore | null,
    readonly cells: FeatureStore | null,
    private readonly opts: CellStageOpenOptions,
  ) {
    this.featureColumns = classicalFeatureColumns(settings).columns;
    const perKind = objectColumns(settings);
    this.objectFeatureColumns = objectKinds(settings).flatMap((k) => perKind[k]);
  }

  /** Check the settings, open (or create) the stores. The recipe a store records is `settings` + mode + shard size. */
  static async open(screen: Screen, mode: CellStageMode, given: CellSettingsInput, opts: CellStageOpenOptions): Promise<CellStage> {
    const settings = cellSettings(screen.channels, { ...given, measureChannels: mode === 'segment' ? [] : given.measureChannels });
    if (settings.illum) settings.illum = path.resolve(settings.illum);
    const shardSize = opts.shardSize ?? DEFAULT_SHARD_SIZE;
    const features = mode === 'classical' ? await FeatureStore.open(path.join(opts.out, 'features'), classicalRecipe(settings, shardSize)) : null;
    const keepCells = mode === 'segment' || opts.keepCells === true;
    const cells = keepCells ? await FeatureStore.open(path.join(opts.out, 'cells'), { objects: true, ...settings, mode, shardSize }) : null;
    return new CellStage(screen, mode, settings, features, cells, opts);
  }

  get stores(): FeatureStore[] {
    return [this.features, this.cells].filter((s): s is FeatureStore => s !== null);
  }

  /** Shards committed in every store (with their receipts' errors), and the problems found. */
  async committed(plan: readonly Shard[]): Promise<{ done: Map<string, FieldError[]>; problems: string[] }> {
    const states = await Promise.all(this.stores.map((s) => s.committed(plan)));
    const done = new Map<string, FieldError[]>();
    for (const shard of plan) {
      const receipts = states.map((st) => st.receipts.get(shard.id));
      if (receipts.every((r) => r !== undefined)) done.set(shard.id, receipts[0]!.errors);
    }
    return { done, problems: states.flatMap((st) => st.problems) };
  }

  private openPool(fields: number): Promise<CellPool> {
    this.pool ??= (async () => {
      const labelsDir = this.opts.labels ? path.join(this.opts.out, 'labels') : null;
      const overlaysDir = this.opts.overlays ? path.join(this.opts.out, 'overlays') : null;
      for (const d of [labelsDir, overlaysDir]) if (d) await mkdir(d, { recursive: true });
      const threads = Math.max(1, Math.min(this.opts.threads ?? os.availableParallelism(), fields));
      return CellPool.open(threads, {
        settings: this.settings,
        plates: [...new Set(this.screen.fields.map((f) => f.plate))],
        channels: this.screen.channels,
        labelsDir,
        overlaysDir,
        labelFormat: this.opts.labelFormat ?? 'png',
        profile: this.mode === 'classical',
      });
    })();
    return this.pool;
  }

  /** Read, segment and measure a shard's fields on the worker threads (nothing is committed). */
  async process(shard: Shard, onField?: () => void): Promise<CellShardResult> {
    const pool = await this.openPool(this.screen.fields.length);
    const replies = await Promise.all(
      shard.fields.map((f) =>
        pool.run({ plate: f.plate, stem: fieldStem(f), images: f.images }).then((r) => {
          onField?.();
          return r;
        }),
      ),
    );
    const s = this.settings;
    const res: CellShardResult = {
      fieldRows: { metadataColumns: [...CLASSICAL_METADATA_COLUMNS], metadata: [], featureColumns: this.featureColumns, features: [] },
      objectRows: { metadataColumns: [...OBJECT_METADATA_COLUMNS], metadata: [], featureColumns: this.objectFeatureColumns, features: [] },
      errors: [],
      fieldsRun: 0,
      objects: 0,
      workerSeconds: 0,
    };
    replies.forEach((r, i) => {
      const f = shard.fields[i]!;
      if (!r.ok) {
        res.errors.push({ ...fieldError(f, 'read', r.reason, r.channel), file: r.file });
        return;
      }
      res.fieldsRun++;
      res.workerSeconds += r.seconds;
      res.objects += r.count;
      if (r.count === 0 || (this.mode === 'classical' && r.row === null)) {
        const what = this.mode === 'classical' ? 'classical profile' : 'objects';
        res.errors.push(fieldError(f, 'segment', `no nuclei found on ${s.nucleiChannel} (threshold ${r.threshold.toPrecision(4)}, diameter ${s.nuclei.diameter.join('-')} px): the field has no ${what}`, s.nucleiChannel));
        return;
      }
      const meta = fieldMetadata(f);
      if (r.row) {
        res.fieldRows.metadata.push({ ...meta, Metadata_Count_Nuclei: r.count });
        res.fieldRows.features.push(r.row);
      }
      if (this.cells)
        for (let k = 0; k < r.count; k++) {
          res.objectRows.metadata.push({ ...meta, Metadata_ObjectNumber: k + 1 });
          res.objectRows.features.push(r.objects.subarray(k * r.objectColumns, (k + 1) * r.objectColumns));
        }
    });
    return res;
  }

  /** Commit a processed shard: the per-object rows first, so a shard counts as done only when every store has it. Returns the fields given a row. */
  async commit(shard: Shard, res: CellShardResult): Promise<number> {
    if (this.cells) await this.cells.commit(shard, res.objectRows, res.errors);
    if (this.features) await this.features.commit(shard, res.fieldRows, res.errors);
    return this.features ? res.fieldRows.features.length : new Set(res.objectRows.metadata.map((m) => `${m.Metadata_Well}/${m.Metadata_Site}`)).size;
  }

  async dispose(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    if (pool) await (await pool).close();
  }
}

/** Run the cells stage over a screen (see the module comment). */
export async function cellScreen(opts: CellStageOptions): Promise<CellStageResult> {
  const started = performance.now();
  const { screen, mode } = opts;
  await mkdir(opts.out, { recursive: true });
  const errorTable = path.join(opts.out, 'errors.csv');
  const stage = await CellStage.open(screen, mode, opts.settings ?? {}, opts);
  const settings = stage.settings;

  const { present, errors } = await presentFieldsOrThrow(screen, errorTable, opts.priorErrors);
  if (settings.illum) await loadIllumination(settings.illum, screen); // checked once here, naming plate and stain
  for (const s of stage.stores) await s.cleanStaging();

  const plan = planShards(present, opts.shardSize ?? DEFAULT_SHARD_SIZE);
  const { done, problems } = await stage.committed(plan);
  for (const p of problems) opts.warn?.(`${p}; rebuilding it`);
  let resumed = 0;
  for (const shard of plan) {
    const errs = done.get(shard.id);
    if (!errs) continue;
    errors.push(...errs);
    resumed += shard.fields.length - errs.length;
  }
  const todo: Shard[] = plan.filter((s) => !done.has(s.id));

  const progress = new Progress(mode === 'segment' ? 'segment' : 'classical', present.length, opts.onProgress, opts.progress === false ? ({ isTTY: false } as NodeJS.WriteStream) : process.stderr, 'fields');
  progress.tick(present.length - todo.reduce((n, s) => n + s.fields.length, 0));
  let rowsWritten = 0;
  let objects = 0;
  let workerSeconds = 0;
  let fieldsRun = 0;
  const openSeconds = 0;
  try {
    let commit: Promise<void> = Promise.resolve();
    for (const shard of todo) {
      for (const s of stage.stores) await s.discard(shard.id);
      const res = await stage.process(shard, () => progress.tick(1));
      fieldsRun += res.fieldsRun;
      workerSeconds += res.workerSeconds;
      objects += res.objects;
      await commit;
      // the commit (on the writer thread) overlaps the next shard's segmentation
      commit = stage.commit(shard, res).then((n) => {
        rowsWritten += n;
        errors.push(...res.errors);
      });
      commit.catch(() => {});
    }
    await commit;
  } finally {
    progress.finish();
    await stage.dispose();
  }

  await writeErrorTable(errorTable, errors);
  if (rowsWritten + resumed === 0)
    throw new MorphoprofError('NOTHING_VALID', nothingValidMessage(screen, errors), `Every skipped field and its reason is in ${errorTable}; if nuclei were not found, check --nuclei-channel and --diameter on a few images first: morphoprof segment <image files> --out <dir> --overlays`);
  return {
    featuresDir: stage.features?.dir ?? null,
    cellsDir: stage.cells?.dir ?? null,
    settings: { ...settings, mode },
    channels: screen.channels,
    featureDim: mode === 'classical' ? stage.featureColumns.length : stage.objectFeatureColumns.length,
    fieldsTotal: screen.fields.length,
    fieldsEmbedded: rowsWritten,
    fieldsResumed: resumed,
    objects,
    shardsRebuilt: problems,
    errors,
    seconds: (performance.now() - started) / 1000,
    openSeconds,
    secondsPerField: fieldsRun ? workerSeconds / fieldsRun : 0,
  };
}
