/**
 * Single-cell deep profiles (DeepProfiler's method, with our own nuclei): a box of `boxSize` px
 * around every nucleus in every stain, each stain's crop fed as a greyscale image to the network
 * (enlarged to its input size, or natively at the box size), the per-stain embeddings of a cell
 * concatenated, and a field's cells aggregated (mean or median) into one row of the same feature
 * store whole-field embeddings use, with `Metadata_Count_Cells`. Profiles, evaluation, report,
 * grid and the queue take it unchanged.
 *
 * Batching: crops of consecutive fields fill full network batches (`cropBatch` crop-stain images);
 * while the network runs one batch on its own thread, this thread reads, segments and crops the
 * next fields into the other batch buffer. Batches restart at each shard, so a shard's features
 * do not depend on which shards ran before it: a resumed run, or a queue worker running one shard,
 * gives bitwise the same features as an uninterrupted run. Memory holds two batches and the
 * per-cell embeddings of the fields whose crops are in flight (plus, with `keepCells`, the
 * shard's per-cell rows).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { calibrationFields, embedSettings, nothingValidMessage, presentFieldsOrThrow } from '../embed/embed.js';
import { featureColumnNames, fieldError, METADATA_COLUMNS, modelTag, type EmbedSettings, fieldMetadata } from '../embed/embedder.js';
import { writeErrorTable, type FieldError } from '../embed/field-errors.js';
import { percentileRange, scaleTo255 } from '../embed/scale.js';
import { DEFAULT_SHARD_SIZE, FeatureStore, planShards, type Shard } from '../embed/store.js';
import { errorMessage, MorphoprofError } from '../errors.js';
import { loadIllumination, type IlluminationSet } from '../illum/index.js';
import { getModel } from '../models/registry.js';
import { openModel, type ModelSession, type OpenModelOptions } from '../models/session.js';
import { openModelInThread } from '../models/thread-session.js';
import { fieldKey, type Field, type Screen } from '../screen/types.js';
import type { MetadataValue, ProfileTable } from '../table/index.js';
import { Progress, type ProgressCallback } from '../util/progress.js';
import { CropWriter, objectCentres, type CellLocation, type CropResize } from './crops.js';
import { cellSettings, findObjects, type CellAggregate, type CellSettings, type CellSettingsInput } from './field.js';
import { readLocations, type LocationTable } from './locations.js';
import { readPlanes, StainError } from './read.js';
import type { Plane } from './types.js';

/** DeepProfiler's box on BBBC021's 1280x1024 fields. */
export const DEFAULT_BOX_SIZE = 96;

export interface CellDeepOptions {
  /** Side of the box around each nucleus, px (default 96). */
  boxSize?: number;
  /** Network input: `network` (its own size, e.g. 224: crops enlarged) or `native` (the box size). A number is a size. */
  cropInput?: 'network' | 'native' | number;
  /** How a field's cells become its row (default mean). */
  aggregate?: CellAggregate;
  /** A table of nucleus centres per field instead of segmentation (see locations.ts). */
  locations?: string | null;
  /** Segmentation settings when no locations are given (cells are not grown: only nuclei are needed). */
  segmentation?: CellSettingsInput;
  /** Crop-stain images per network batch (default: 24 at 224 px, 32 at smaller inputs). */
  cropBatch?: number;
  /**
   * Network sessions run side by side, each on its own thread and fed batches in turn (default:
   * one per CPU core, each with one onnxruntime thread; see `cropSessionLayout`). Features do not
   * depend on it.
   */
  sessions?: number;
  /** Enlargement of crops: bilinear (default) or the area resampler's pixel repetition (for comparison). */
  resize?: CropResize;
}

/** What decides a cell row (recorded in the feature store with the embedding settings). */
export interface CellDeepRecipe {
  mode: 'cells';
  boxSize: number;
  inputSize: number;
  aggregate: CellAggregate;
  resize: CropResize;
  cropBatch: number;
  /** nuclei from segmentation (settings) or from a table (path and SHA-256) */
  nuclei: { segmentation: Pick<CellSettings, 'nucleiChannel' | 'nuclei' | 'illum'> } | { locations: string; sha256: string };
}

/**
 * Crop-stain images per batch by default: about 24 images' worth of 224-px work, at most 32
 * (measured at 96 px, int8, single-threaded sessions: 16 to 128 per batch equally fast per CPU-second, and the
 * batches in flight stay small).
 */
export function defaultCropBatch(inputSize: number): number {
  return Math.max(8, Math.min(32, Math.round((24 * 224 * 224) / (inputSize * inputSize))));
}

/**
 * Sessions and onnxruntime threads per session for crops: by default one single-threaded session
 * per core, fed batches in turn. Crops are small images whose GEMMs have few rows (3x3 at ResNet-50's
 * last stage at 96 px), which split badly over threads: measured at 96 px int8 on 2 cores, one
 * thread runs 248 images per CPU-second, two threads of one session 217, and on a loaded machine a
 * two-thread operator waits for its slower thread.
 */
export function cropSessionLayout(sessions: number | undefined, cores = availableParallelism()): { sessions: number; threads: number } {
  const n = sessions ?? cores;
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new MorphoprofError('BAD_ARGUMENT', `sessions must be an integer from 1 to 64, got ${sessions}`, 'give the number of network sessions to run side by side, e.g. the number of CPU cores');
  return { sessions: n, threads: Math.max(1, Math.floor(cores / n)) };
}

/**
 * Fields per queue job in cells mode, so that a job takes about as long as a whole-field job of
 * `fieldJobSize` fields (default 32) and at least `minSeconds` (a shard commit costs ~0.3 s).
 * A whole field is one network image per stain at 224 px; a field of cells is `cellsPerField`
 * images per stain at `inputSize` px, each costing (inputSize/224)^2 of a 224-px image (measured
 * rates can be given instead: `imagesPerSecond` at 224 and `cropStainsPerSecond` at inputSize).
 */
export function cellJobSize(opts: {
  cellsPerField?: number;
  inputSize: number;
  fieldJobSize?: number;
  stains?: number;
  imagesPerSecond?: number;
  cropStainsPerSecond?: number;
  minSeconds?: number;
}): number {
  const cells = opts.cellsPerField ?? 100;
  const stains = opts.stains ?? 3;
  const fieldJob = opts.fieldJobSize ?? 32;
  const fieldRate = opts.imagesPerSecond ?? 42;
  const cropRate = opts.cropStainsPerSecond ?? fieldRate * (224 / opts.inputSize) ** 2;
  const wholeFieldSeconds = (fieldJob * stains) / fieldRate;
  const target = Math.max(wholeFieldSeconds, opts.minSeconds ?? 20);
  const perField = (cells * stains) / cropRate;
  return Math.max(1, Math.round(target / perField));
}

interface PreparedField {
  field: Field;
  planes: Record<string, Plane>;
  cells: CellLocation[];
  /** errors about some of its cells (the field still gets a row) */
  notes: FieldError[];
}

/** A field whose crops are in flight: per-cell embeddings filled as batches return. */
interface Pending {
  index: number;
  field: Field;
  cells: CellLocation[];
  emb: Float32Array;
  left: number;
}

export interface CellShardOutput {
  fields: ProfileTable;
  cells: ProfileTable;
  errors: FieldError[];
  crops: number;
  /** network images run (crops x stains) */
  images: number;
}

export const CELL_FIELD_METADATA = [...METADATA_COLUMNS, 'Metadata_Count_Cells'] as const;
export const CELL_ROW_METADATA = [...METADATA_COLUMNS, 'Metadata_ObjectNumber', 'Metadata_Location_Center_X', 'Metadata_Location_Center_Y'] as const;


/** Mean or median over `n` rows of `width` values (row-major), as float32. Deterministic: float64 sums in row order. */
export function aggregateRows(values: Float32Array, n: number, width: number, how: CellAggregate): Float32Array {
  const out = new Float32Array(width);
  if (how === 'mean') {
    const acc = new Float64Array(width);
    for (let r = 0; r < n; r++) for (let j = 0, o = r * width; j < width; j++) acc[j] += values[o + j]!;
    for (let j = 0; j < width; j++) out[j] = acc[j]! / n;
    return out;
  }
  const col = new Float64Array(n);
  for (let j = 0; j < width; j++) {
    for (let r = 0; r < n; r++) col[r] = values[r * width + j]!;
    col.sort();
    out[j] = n % 2 ? col[(n - 1) / 2]! : (col[n / 2 - 1]! + col[n / 2]!) / 2;
  }
  return out;
}

function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** The network input size for a crop input choice. */
function cropInputSize(choice: CellDeepOptions['cropInput'], box: number): number | undefined {
  if (choice === undefined || choice === 'network') return undefined;
  if (choice === 'native') return box;
  if (!Number.isInteger(choice) || choice < 32) throw new MorphoprofError('BAD_ARGUMENT', `--crop-input ${choice} is not an input size`, 'give native (the box size) or a size in px such as 224');
  return choice;
}

/** Turns fields into single-cell deep features with one network (see the module comment). */
export class CellEmbedder {
  readonly featureColumns: string[];
  readonly recipe: CellDeepRecipe;
  private readonly writer: CropWriter;
  private readonly pool: Float32Array[] = [];
  private constructor(
    readonly screen: Screen,
    readonly settings: EmbedSettings,
    /** the network's sessions, fed batches in turn (the same model) */
    private readonly models: readonly ModelSession[],
    private readonly illum: IlluminationSet | null,
    private readonly segmentation: CellSettings | null,
    /** the user's nucleus centres, when given instead of segmentation */
    readonly locations: LocationTable | null,
    recipe: CellDeepRecipe,
  ) {
    this.recipe = recipe;
    // e.g. DAPI_resnet50.cells96_0000 (crops enlarged to the network's input), DAPI_resnet50.s96.cells96_0000 (native)
    const tag = `${modelTag(settings)}${settings.inputSize !== undefined ? `.s${recipe.inputSize}` : ''}.cells${recipe.boxSize}`;
    this.featureColumns = featureColumnNames(screen.channels, tag, models[0]!.embeddingDim);
    this.writer = new CropWriter(recipe.boxSize, recipe.inputSize, models[0]!.preprocess, recipe.resize);
  }

  /** The recipe and the pieces it needs, checked before any network is opened. */
  static async plan(screen: Screen, given: Partial<EmbedSettings>, cells: CellDeepOptions): Promise<{ settings: EmbedSettings; recipe: Omit<CellDeepRecipe, 'inputSize' | 'cropBatch'> & { inputSize?: number; cropBatch?: number }; segmentation: CellSettings | null; locations: LocationTable | null }> {
    const settings = embedSettings(given);
    if (settings.channels === 'rgb')
      throw new MorphoprofError('BAD_ARGUMENT', 'cells mode feeds each stain\'s crop as a greyscale image; --channels rgb is for whole fields', 'leave out --channels rgb (or use --mode fields)');
    const boxSize = cells.boxSize ?? DEFAULT_BOX_SIZE;
    if (!Number.isInteger(boxSize) || boxSize < 8 || boxSize > 1024) throw new MorphoprofError('BAD_ARGUMENT', `--box-size ${boxSize} is not a box side in pixels`, 'give an integer from 8 to 1024, e.g. 96 for BBBC021\'s 1280x1024 fields');
    let inputSize = cropInputSize(cells.cropInput, boxSize);
    // the network's own size (e.g. --crop-input 224 with ResNet-50) is the default recipe, not another one
    if (inputSize !== undefined && !settings.model.endsWith('.onnx') && getModel(settings.model).inputSize === inputSize) inputSize = undefined;
    if (inputSize !== undefined) settings.inputSize = inputSize;
    const aggregate = cells.aggregate ?? 'mean';
    const resize = cells.resize ?? 'bilinear';
    let segmentation: CellSettings | null = null;
    let locations: LocationTable | null = null;
    let nuclei: CellDeepRecipe['nuclei'];
    if (cells.locations) {
      locations = await readLocations(cells.locations, screen);
      nuclei = { locations: locations.file, sha256: sha256File(locations.file) };
    } else {
      segmentation = cellSettings(screen.channels, { ...cells.segmentation, cellChannel: null, measureChannels: [], illum: settings.illum });
      nuclei = { segmentation: { nucleiChannel: segmentation.nucleiChannel, nuclei: segmentation.nuclei, illum: segmentation.illum } };
    }
    return { settings, recipe: { mode: 'cells', boxSize, inputSize, aggregate, resize, cropBatch: cells.cropBatch, nuclei }, segmentation, locations };
  }

  /** The plan completed by a provisional fp32 session, which tells the input size and preprocessing (and int8 needs its crops). */
  private static async probe(screen: Screen, given: Partial<EmbedSettings>, cells: CellDeepOptions, cacheDir?: string) {
    const { settings, recipe: r, segmentation, locations } = await CellEmbedder.plan(screen, given, cells);
    const modelOptions: OpenModelOptions = {
      cacheDir,
      layer: settings.layer,
      inputSize: settings.inputSize,
      preprocessing: settings.preprocess,
      embeddingOutput: settings.output,
    };
    const probe = await openModel(settings.model, modelOptions);
    await probe.dispose();
    const recipe: CellDeepRecipe = { ...r, inputSize: probe.inputSize, cropBatch: r.cropBatch ?? defaultCropBatch(probe.inputSize) };
    if (!Number.isInteger(recipe.cropBatch) || recipe.cropBatch < 1) throw new MorphoprofError('BAD_ARGUMENT', `crop batch must be a positive integer, got ${recipe.cropBatch}`);
    return { settings, recipe, segmentation, locations, modelOptions, probe };
  }

  /** The settings and whole recipe `open` would use, without keeping a network open (what `queue submit` records). */
  static async recipeOf(screen: Screen, given: Partial<EmbedSettings>, cells: CellDeepOptions, cacheDir?: string): Promise<{ settings: EmbedSettings; recipe: CellDeepRecipe; locations: LocationTable | null }> {
    const { settings, recipe, locations } = await CellEmbedder.probe(screen, given, cells, cacheDir);
    return { settings, recipe, locations };
  }

  /**
   * Open the network. With int8, `calibrationFields` (control fields) are cropped like any field
   * and a spread of their crops calibrates the quantized network.
   */
  static async open(screen: Screen, given: Partial<EmbedSettings>, cells: CellDeepOptions, opts: { cacheDir?: string; calibrationFields?: Field[] } = {}): Promise<CellEmbedder> {
    const { settings, recipe, segmentation, locations, modelOptions, probe } = await CellEmbedder.probe(screen, given, cells, opts.cacheDir);
    const illum = settings.illum ? await loadIllumination(settings.illum, screen) : null;
    if (settings.precision === 'int8') {
      const tmp = new CellEmbedder(screen, settings, [probe], illum, segmentation, locations, recipe);
      const { batch, count } = await tmp.calibrationCrops(opts.calibrationFields ?? []);
      // only the embedding is read: the int8 file keeps no other output (ResNet-50's classifier is not run)
      Object.assign(modelOptions, { precision: 'int8', calibration: batch, calibrationCount: count, int8Outputs: [probe.embeddingOutput] });
    }
    const layout = cropSessionLayout(cells.sessions);
    modelOptions.intraOpNumThreads = layout.threads;
    // one after the other: the first converts (and quantizes) the network, the others load the cached file
    const models: ModelSession[] = [];
    try {
      for (let k = 0; k < layout.sessions; k++) models.push(await openModelInThread(settings.model, modelOptions));
    } catch (err) {
      await Promise.all(models.map((m) => m.dispose()));
      throw err;
    }
    return new CellEmbedder(screen, settings, models, illum, segmentation, locations, recipe);
  }

  get embeddingDim(): number {
    return this.models[0]!.embeddingDim;
  }

  /** Network images (crop-stains) of control crops for int8 calibration, spread over the fields and their cells. */
  private async calibrationCrops(fields: readonly Field[]): Promise<{ batch: Float32Array; count: number }> {
    const S = this.recipe.inputSize;
    const want = Math.max(24, Math.min(96, Math.round((24 * 224 * 224) / (S * S))));
    const prepared: PreparedField[] = [];
    for (const f of fields) {
      const p = await this.prepare(f);
      if ('cells' in p) prepared.push(p);
    }
    const per = this.screen.channels.length;
    const cellsWanted = Math.ceil(want / per);
    const picks: Array<{ p: PreparedField; cell: CellLocation }> = [];
    const perField = Math.max(1, Math.ceil(cellsWanted / Math.max(1, prepared.length)));
    for (const p of prepared) {
      const step = Math.max(1, Math.floor(p.cells.length / perField));
      for (let k = 0; k < p.cells.length && picks.length < cellsWanted; k += step) picks.push({ p, cell: p.cells[k]! });
    }
    if (picks.length === 0) throw new MorphoprofError('NOTHING_VALID', 'int8 needs calibration crops, and no cell was found in the calibration (control) fields', 'Check the control wells of the screen, or use --precision fp32');
    const size = 3 * S * S;
    const batch = new Float32Array(picks.length * per * size);
    picks.forEach(({ p, cell }, i) =>
      this.screen.channels.forEach((ch, c) => {
        const pl = p.planes[ch]!;
        this.writer.write(batch, (i * per + c) * size, pl.data, pl.width, pl.height, cell.x, cell.y);
      }),
    );
    return { batch, count: picks.length * per };
  }

  /** Read a field's stains, find (or look up) its nuclei, scale each stain to 0..255. */
  async prepare(field: Field): Promise<PreparedField | { error: FieldError }> {
    let planes: Record<string, Plane>;
    try {
      planes = await readPlanes(field, this.screen.channels, this.illum);
    } catch (err) {
      if (err instanceof StainError) return { error: { ...fieldError(field, 'read', err.message, err.channel), file: err.file || null } };
      return { error: fieldError(field, 'read', errorMessage(err)) };
    }
    const first = planes[this.screen.channels[0]!]!;
    const { width, height } = first;
    const box = this.recipe.boxSize;
    if (box > width || box > height)
      return { error: fieldError(field, 'segment', `the box of ${box} px around each cell is larger than the field (${width}x${height} px)`) };
    const notes: FieldError[] = [];
    let cells: CellLocation[];
    if (this.locations) {
      const given = this.locations.byField.get(fieldKey(field)) ?? [];
      if (given.length === 0) return { error: fieldError(field, 'segment', `no nucleus locations for this field in ${this.locations.file}: the field has no cells`) };
      cells = given.filter((c) => c.x >= 0 && c.y >= 0 && c.x <= width - 1 && c.y <= height - 1);
      if (cells.length < given.length) {
        const out = given.filter((c) => !cells.includes(c)).map((c) => `object ${c.object} at (${c.x}, ${c.y})`);
        notes.push(fieldError(field, 'segment', `${out.length} of ${given.length} nucleus centres in ${this.locations.file} lie outside the ${width}x${height} image and were left out: ${out.slice(0, 5).join(', ')}${out.length > 5 ? ', ...' : ''}`));
      }
      if (cells.length === 0) return { error: notes[0]! };
    } else {
      const s = this.segmentation!;
      const objects = findObjects(planes, s);
      cells = objectCentres(objects.nuclei);
      if (cells.length === 0)
        return { error: fieldError(field, 'segment', `no nuclei found on ${s.nucleiChannel} (threshold ${objects.threshold.toPrecision(4)}, diameter ${s.nuclei.diameter.join('-')} px): the field has no cells`, s.nucleiChannel) };
    }
    for (const ch of this.screen.channels) {
      const data = planes[ch]!.data as Float32Array;
      const [lo, hi] = percentileRange(data, this.settings.scaling);
      scaleTo255(data, lo, hi);
    }
    return { field, planes, cells, notes };
  }

  private takeBatch(): Float32Array {
    const n = this.recipe.cropBatch * 3 * this.recipe.inputSize ** 2;
    return this.pool.pop() ?? new Float32Array(new SharedArrayBuffer(n * 4));
  }

  /**
   * Embed one shard's fields: rows of field profiles (cells aggregated), and with `keepCells` the
   * per-cell rows. Nothing is committed.
   */
  async embedShard(fields: readonly Field[], opts: { keepCells?: boolean; onField?: () => void } = {}): Promise<CellShardOutput> {
    const per = this.screen.channels.length;
    const dim = this.models[0]!.embeddingDim;
    const width = per * dim;
    const size = 3 * this.recipe.inputSize ** 2;
    const cap = this.recipe.cropBatch;
    const rows = new Map<number, { meta: Record<string, MetadataValue>; row: Float32Array }>();
    const cellRows: ProfileTable = { metadataColumns: [...CELL_ROW_METADATA], metadata: [], featureColumns: this.featureColumns, features: [] };
    const cellParts = new Map<number, { meta: Record<string, MetadataValue>[]; rows: Float32Array[] }>();
    const errors: FieldError[] = [];
    let crops = 0;
    let images = 0;

    const finish = (p: Pending) => {
      const meta = fieldMetadata(p.field);
      rows.set(p.index, { meta: { ...meta, Metadata_Count_Cells: p.cells.length }, row: aggregateRows(p.emb, p.cells.length, width, this.recipe.aggregate) });
      if (opts.keepCells)
        cellParts.set(p.index, {
          meta: p.cells.map((c) => ({ ...meta, Metadata_ObjectNumber: c.object, Metadata_Location_Center_X: c.x, Metadata_Location_Center_Y: c.y })),
          rows: p.cells.map((_, k) => p.emb.slice(k * width, (k + 1) * width)),
        });
    };

    let batch = this.takeBatch();
    let owners: Array<{ p: Pending; slot: number }> = [];
    // batches go to the sessions in turn; a session's next batch waits for its previous one
    const inflight: Array<Promise<void> | null> = this.models.map(() => null);
    let turn = 0;
    const flush = async () => {
      if (owners.length === 0) return;
      const [buf, own] = [batch, owners];
      const k = turn++ % this.models.length;
      if (inflight[k]) await inflight[k];
      images += own.length;
      const done = (inflight[k] = this.models[k]!.embed(buf, own.length).then((emb) => {
        this.pool.push(buf);
        own.forEach(({ p, slot }, i) => {
          p.emb.set(emb.subarray(i * dim, (i + 1) * dim), slot * dim);
          if (--p.left === 0) finish(p);
        });
      }));
      done.catch(() => {}); // surfaced by the next await
      batch = this.takeBatch();
      owners = [];
    };

    for (let index = 0; index < fields.length; index++) {
      const prepared = await this.prepare(fields[index]!);
      opts.onField?.();
      if ('error' in prepared) {
        errors.push(prepared.error);
        continue;
      }
      errors.push(...prepared.notes);
      const p: Pending = { index, field: prepared.field, cells: prepared.cells, emb: new Float32Array(prepared.cells.length * width), left: prepared.cells.length * per };
      crops += p.cells.length;
      for (let k = 0; k < p.cells.length; k++) {
        const cell = p.cells[k]!;
        for (let c = 0; c < per; c++) {
          const plane = prepared.planes[this.screen.channels[c]!]!;
          this.writer.write(batch, owners.length * size, plane.data, plane.width, plane.height, cell.x, cell.y);
          owners.push({ p, slot: k * per + c });
          if (owners.length === cap) await flush();
        }
      }
    }
    await flush();
    await Promise.all(inflight);

    const table: ProfileTable = { metadataColumns: [...CELL_FIELD_METADATA], metadata: [], featureColumns: this.featureColumns, features: [] };
    for (const i of [...rows.keys()].sort((a, b) => a - b)) {
      table.metadata.push(rows.get(i)!.meta);
      table.features.push(rows.get(i)!.row);
      const part = cellParts.get(i);
      if (part) {
        cellRows.metadata.push(...part.meta);
        cellRows.features.push(...part.rows);
      }
    }
    return { fields: table, cells: cellRows, errors, crops, images };
  }

  async dispose(): Promise<void> {
    await Promise.all(this.models.map((m) => m.dispose()));
  }
}

export interface CellDeepScreenOptions extends Partial<EmbedSettings>, CellDeepOptions {
  screen: Screen;
  out: string;
  keepCells?: boolean;
  shardSize?: number;
  cacheDir?: string;
  onProgress?: ProgressCallback;
  progress?: boolean;
  priorErrors?: FieldError[];
  warn?: (message: string) => void;
}

export interface CellDeepResult {
  featuresDir: string;
  cellsDir: string | null;
  settings: EmbedSettings & CellDeepRecipe;
  channels: string[];
  featureDim: number;
  fieldsTotal: number;
  fieldsEmbedded: number;
  fieldsResumed: number;
  /** cells (crops) embedded in this run, and network images run (crops x stains) */
  crops: number;
  images: number;
  shardsRebuilt: string[];
  errors: FieldError[];
  seconds: number;
  openSeconds: number;
}

/** The store settings of a cells run: the embedding settings and the cells recipe. */
export function storeSettings(settings: EmbedSettings, recipe: CellDeepRecipe, shardSize: number): Record<string, unknown> {
  return { ...settings, ...recipe, shardSize };
}

/**
 * Single-cell deep features of every field of a screen into `<out>/features/` (and, with
 * `keepCells`, the per-cell embeddings into `<out>/cells/`), shard by shard, resumable.
 */
export async function cellDeepScreen(opts: CellDeepScreenOptions): Promise<CellDeepResult> {
  const started = performance.now();
  const { screen } = opts;
  await mkdir(opts.out, { recursive: true });
  const errorTable = path.join(opts.out, 'errors.csv');
  const shardSize = opts.shardSize ?? DEFAULT_SHARD_SIZE;
  const { present, errors } = await presentFieldsOrThrow(screen, errorTable, opts.priorErrors);
  const opening = performance.now();
  const embedder = await CellEmbedder.open(screen, opts, opts, {
    cacheDir: opts.cacheDir,
    calibrationFields: opts.precision === 'int8' ? calibrationFields(present, screen.controlCompound) : undefined,
  });
  const openSeconds = (performance.now() - opening) / 1000;
  errors.push(...(embedder.locations?.errors ?? []));
  const recorded = storeSettings(embedder.settings, embedder.recipe, shardSize);
  let crops = 0;
  let images = 0;
  let embedded = 0;
  let resumed = 0;
  let problems: string[] = [];
  let cellsDir: string | null = null;
  try {
    const features = await FeatureStore.open(path.join(opts.out, 'features'), recorded);
    const cells = opts.keepCells ? await FeatureStore.open(path.join(opts.out, 'cells'), { objects: true, ...recorded }) : null;
    cellsDir = cells?.dir ?? null;
    const stores = [features, cells].filter((s): s is FeatureStore => s !== null);
    for (const s of stores) await s.cleanStaging();
    const plan = planShards(present, shardSize);
    const states = await Promise.all(stores.map((s) => s.committed(plan)));
    problems = states.flatMap((s) => s.problems);
    for (const p of problems) opts.warn?.(`${p}; rebuilding it`);
    const todo: Shard[] = [];
    for (const shard of plan) {
      const receipt = states[0]!.receipts.get(shard.id);
      if (receipt && states.every((s) => s.receipts.has(shard.id))) {
        resumed += receipt.rows;
        errors.push(...receipt.errors);
      } else todo.push(shard);
    }
    const progress = new Progress('cells', present.length, opts.onProgress, opts.progress === false ? ({ isTTY: false } as NodeJS.WriteStream) : process.stderr, 'fields');
    progress.tick(present.length - todo.reduce((n, s) => n + s.fields.length, 0));
    try {
      let commit: Promise<void> = Promise.resolve();
      for (const shard of todo) {
        for (const s of stores) await s.discard(shard.id);
        const out = await embedder.embedShard(shard.fields, { keepCells: opts.keepCells, onField: () => progress.tick(1) });
        crops += out.crops;
        images += out.images;
        await commit;
        // committed on the writer thread while the next shard's crops run
        commit = (async () => {
          if (cells) await cells.commit(shard, out.cells, out.errors);
          await features.commit(shard, out.fields, out.errors);
          embedded += out.fields.features.length;
          errors.push(...out.errors);
        })();
        commit.catch(() => {});
      }
      await commit;
    } finally {
      progress.finish();
    }
  } finally {
    await embedder.dispose();
  }
  await writeErrorTable(errorTable, errors);
  if (embedded + resumed === 0)
    throw new MorphoprofError('NOTHING_VALID', nothingValidMessage(screen, errors), `Every skipped field and its reason is in ${errorTable}; if nuclei were not found, check --nuclei-channel and --diameter on a few images first: morphoprof segment <image files> --out <dir> --overlays`);
  return {
    featuresDir: path.join(opts.out, 'features'),
    cellsDir,
    settings: { ...embedder.settings, ...embedder.recipe },
    channels: screen.channels,
    featureDim: embedder.featureColumns.length,
    fieldsTotal: screen.fields.length,
    fieldsEmbedded: embedded,
    fieldsResumed: resumed,
    crops,
    images,
    shardsRebuilt: problems,
    errors,
    seconds: (performance.now() - started) / 1000,
    openSeconds,
  };
}
