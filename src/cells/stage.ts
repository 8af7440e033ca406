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
import { checkFieldFiles, nothingValidMessage } from '../embed/embed.js';
import { fieldError, METADATA_COLUMNS } from '../embed/embedder.js';
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

export interface CellStageOptions {
  screen: Screen;
  out: string;
  mode: CellStageMode;
  /** Settings given (the rest from the screen's stains: cellSettings). `diameter` sets nuclei.diameter. */
  settings?: CellSettingsInput;
  /** classical mode: also write the per-object rows to `<out>/cells/` */
  keepCells?: boolean;
  /** write each field's label images to `<out>/labels/` */
  labels?: boolean;
  /** write each field's outlines over the nuclei stain to `<out>/overlays/` */
  overlays?: boolean;
  /** worker threads (default: one per core) */
  threads?: number;
  shardSize?: number;
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

function fieldMetadata(f: Field): Record<string, MetadataValue> {
  return {
    Metadata_Plate: f.plate,
    Metadata_Well: f.well,
    Metadata_Site: f.site,
    Metadata_Compound: f.compound,
    Metadata_Concentration: f.concentration,
    Metadata_MOA: f.moa,
    Metadata_Batch: f.batch,
  };
}

/** File stem of a field's pictures: `<plate>_<well>_s<site>`. */
export function fieldStem(f: Pick<Field, 'plate' | 'well' | 'site'>): string {
  return `${f.plate}_${f.well}_s${f.site}`.replace(/[^A-Za-z0-9._-]/g, '_');
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

/** Run the cells stage over a screen (see the module comment). */
export async function cellScreen(opts: CellStageOptions): Promise<CellStageResult> {
  const started = performance.now();
  const { screen, mode } = opts;
  const settings = cellSettings(screen.channels, { ...opts.settings, measureChannels: mode === 'segment' ? [] : opts.settings?.measureChannels });
  if (settings.illum) settings.illum = path.resolve(settings.illum);
  const shardSize = opts.shardSize ?? DEFAULT_SHARD_SIZE;
  await mkdir(opts.out, { recursive: true });
  const errorTable = path.join(opts.out, 'errors.csv');

  const checked = checkFieldFiles(screen);
  const present = checked.present;
  const errors: FieldError[] = [...(opts.priorErrors ?? []), ...checked.errors];
  if (present.length === 0) {
    await writeErrorTable(errorTable, errors);
    throw new MorphoprofError('NOTHING_VALID', nothingValidMessage(screen, errors), `Every skipped field and its reason is in ${errorTable}. Check --images and that the files were downloaded.`);
  }
  if (settings.illum) await loadIllumination(settings.illum, screen); // checked once here, naming plate and stain

  const recipe = { ...settings, mode, shardSize };
  const features = mode === 'classical' ? await FeatureStore.open(path.join(opts.out, 'features'), { features: 'classical', ...recipe }) : null;
  const keepCells = mode === 'segment' || opts.keepCells === true;
  const cells = keepCells ? await FeatureStore.open(path.join(opts.out, 'cells'), { objects: true, ...recipe }) : null;
  const stores = [features, cells].filter((s): s is FeatureStore => s !== null);
  for (const s of stores) await s.cleanStaging();

  const plan = planShards(present, shardSize);
  const problems: string[] = [];
  const done = new Set<string>();
  const resumedErrors: FieldError[] = [];
  let resumed = 0;
  const states = await Promise.all(stores.map((s) => s.committed(plan)));
  for (const st of states) problems.push(...st.problems);
  for (const shard of plan) {
    const receipts = states.map((st) => st.receipts.get(shard.id));
    if (receipts.every((r) => r !== undefined)) {
      done.add(shard.id);
      resumedErrors.push(...receipts[0]!.errors);
      resumed += shard.fields.length - receipts[0]!.errors.length;
    }
  }
  for (const p of problems) opts.warn?.(`${p}; rebuilding it`);
  errors.push(...resumedErrors);
  const todo: Shard[] = plan.filter((s) => !done.has(s.id));

  const { columns: featureColumns } = classicalFeatureColumns(settings);
  const perKind = objectColumns(settings);
  const objectFeatureColumns = objectKinds(settings).flatMap((k) => perKind[k]);

  const progress = new Progress(mode === 'segment' ? 'segment' : 'classical', present.length, opts.onProgress, opts.progress === false ? ({ isTTY: false } as NodeJS.WriteStream) : process.stderr, 'fields');
  progress.tick(present.length - todo.reduce((n, s) => n + s.fields.length, 0));
  let rowsWritten = 0;
  let objects = 0;
  let workerSeconds = 0;
  let fieldsRun = 0;
  let openSeconds = 0;
  if (todo.length > 0) {
    const opening = performance.now();
    const labelsDir = opts.labels ? path.join(opts.out, 'labels') : null;
    const overlaysDir = opts.overlays ? path.join(opts.out, 'overlays') : null;
    for (const d of [labelsDir, overlaysDir]) if (d) await mkdir(d, { recursive: true });
    const threads = Math.max(1, Math.min(opts.threads ?? os.availableParallelism(), present.length));
    const pool = await CellPool.open(threads, {
      settings,
      plates: [...new Set(present.map((f) => f.plate))],
      channels: screen.channels,
      labelsDir,
      overlaysDir,
      profile: mode === 'classical',
    });
    openSeconds = (performance.now() - opening) / 1000;
    let commit: Promise<void> = Promise.resolve();
    try {
      for (const shard of todo) {
        for (const s of stores) await s.discard(shard.id);
        const replies = await Promise.all(
          shard.fields.map((f) =>
            pool.run({ plate: f.plate, stem: fieldStem(f), images: f.images }).then((r) => {
              progress.tick(1);
              return r;
            }),
          ),
        );
        const fieldRows: ProfileTable = { metadataColumns: [...CLASSICAL_METADATA_COLUMNS], metadata: [], featureColumns, features: [] };
        const objectRows: ProfileTable = { metadataColumns: [...OBJECT_METADATA_COLUMNS], metadata: [], featureColumns: objectFeatureColumns, features: [] };
        const shardErrors: FieldError[] = [];
        replies.forEach((r, i) => {
          const f = shard.fields[i]!;
          if (!r.ok) {
            shardErrors.push({ ...fieldError(f, 'read', r.reason, r.channel), file: r.file });
            return;
          }
          fieldsRun++;
          workerSeconds += r.seconds;
          objects += r.count;
          if (r.count === 0 || (mode === 'classical' && r.row === null)) {
            shardErrors.push(fieldError(f, 'segment', `no nuclei found on ${settings.nucleiChannel} (threshold ${r.threshold.toPrecision(4)}, diameter ${settings.nuclei.diameter.join('-')} px): the field has no ${mode === 'classical' ? 'classical profile' : 'objects'}`, settings.nucleiChannel));
            return;
          }
          const meta = fieldMetadata(f);
          if (r.row) {
            fieldRows.metadata.push({ ...meta, Metadata_Count_Nuclei: r.count });
            fieldRows.features.push(r.row);
          }
          for (let k = 0; k < r.count; k++) {
            objectRows.metadata.push({ ...meta, Metadata_ObjectNumber: k + 1 });
            objectRows.features.push(r.objects.subarray(k * r.objectColumns, (k + 1) * r.objectColumns));
          }
        });
        await commit;
        commit = (async () => {
          // the per-object rows first: a shard counts as done when every store has it
          if (cells) await cells.commit(shard, objectRows, shardErrors);
          if (features) await features.commit(shard, fieldRows, shardErrors);
          rowsWritten += features ? fieldRows.features.length : new Set(objectRows.metadata.map((m) => `${m.Metadata_Well}/${m.Metadata_Site}`)).size;
          errors.push(...shardErrors);
        })();
        commit.catch(() => {});
      }
      await commit;
    } finally {
      progress.finish();
      await pool.close();
    }
  } else progress.finish();

  await writeErrorTable(errorTable, errors);
  if (rowsWritten + resumed === 0)
    throw new MorphoprofError('NOTHING_VALID', nothingValidMessage(screen, errors), `Every skipped field and its reason is in ${errorTable}; if nuclei were not found, check --nuclei-channel and --diameter on a few images first: morphoprof segment <image files> --out <dir> --overlays`);
  return {
    featuresDir: features?.dir ?? null,
    cellsDir: cells?.dir ?? null,
    settings: { ...settings, mode },
    channels: screen.channels,
    featureDim: mode === 'classical' ? featureColumns.length : objectFeatureColumns.length,
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
