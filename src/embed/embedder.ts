import { availableParallelism } from 'node:os';
import path from 'node:path';
import { errorMessage, invalidParameter, MorphoprofError } from '../errors.js';
import { loadIllumination, type IlluminationSet } from '../illum/index.js';
import { readImageResized } from '../image/index.js';
import { preprocessInto } from '../models/preprocess.js';
import { openModel, type ModelSession, type OpenModelOptions } from '../models/session.js';
import type { NetworkInfo } from '../models/session-core.js';
import { getModel } from '../models/registry.js';
import { openModelInThread } from '../models/thread-session.js';
import { native } from '../native.js';
import type { Field, Screen } from '../screen/types.js';
import type { ProfileTable } from '../table/index.js';
import type { FieldError } from './field-errors.js';
import { DEFAULT_SCALING, percentileRange, scaleTo255, type ScalingSpec } from './scale.js';

export type ChannelMode = 'grey' | 'rgb';
export type Precision = 'fp32' | 'int8';

/** Everything that decides what a field's features are. Two runs with equal settings give bitwise-equal features. */
export interface EmbedSettings {
  /** Built-in model name (`morphoprof models list`) or the path of your own .onnx file. */
  model: string;
  /** Hidden layer of a built-in network to use (global-average-pooled) instead of its default embedding. */
  layer?: string;
  precision: Precision;
  /** `grey`: each stain alone, replicated to 3 channels, embeddings concatenated (the paper's best). `rgb`: one pass with `rgbMapping`. */
  channels: ChannelMode;
  /** Stains mapped to R, G, B in `rgb` mode (default: the first three channels: DNA, tubulin, actin in BBBC021). */
  rgbMapping?: [string, string, string];
  /** Illumination functions folder (`morphoprof illum`), or null for none. */
  illum: string | null;
  scaling: ScalingSpec;
  /** For your own .onnx file. */
  inputSize?: number;
  preprocess?: 'caffe' | 'tf' | 'torch';
  output?: string;
}

export const DEFAULT_SETTINGS: Readonly<EmbedSettings> = Object.freeze({
  model: 'resnet50',
  precision: 'fp32',
  channels: 'grey',
  illum: null,
  scaling: DEFAULT_SCALING,
});

export const METADATA_COLUMNS = [
  'Metadata_Plate',
  'Metadata_Well',
  'Metadata_Site',
  'Metadata_Compound',
  'Metadata_Concentration',
  'Metadata_MOA',
  'Metadata_Batch',
] as const;

/** The `Metadata_*` values of a field's row (METADATA_COLUMNS), for every stage that writes one row per field. */
export function fieldMetadata(f: Field): Record<(typeof METADATA_COLUMNS)[number], string | number | null> {
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

/** Short tag of the network for feature names: `resnet50`, `resnet50.activation_40`, `mymodel`. */
export function modelTag(settings: Pick<EmbedSettings, 'model' | 'layer' | 'precision'>): string {
  const base = settings.model.endsWith('.onnx') ? path.basename(settings.model, '.onnx') : settings.model;
  return `${base}${settings.layer ? `.${settings.layer}` : ''}${settings.precision === 'int8' ? '.int8' : ''}`;
}

/** Feature column names: `<stain>_<model>_<index>` (grey) or `RGB_<model>_<index>`. */
export function featureColumnNames(inputs: readonly string[], tag: string, dim: number): string[] {
  const width = String(dim - 1).length;
  return inputs.flatMap((name) => Array.from({ length: dim }, (_, i) => `${name}_${tag}_${String(i).padStart(width, '0')}`));
}

/**
 * How the network runs beside the reading thread: `sessions` inference threads, each with its own
 * onnxruntime session of `threads` intra-op threads (spinning or not while waiting for work).
 * Batches go to the sessions in turn. Changes speed only: features are bitwise equal whatever
 * the layout (test/embed/layout.test.ts).
 */
export interface InferenceLayout {
  sessions: number;
  threads: number;
  spinning: boolean;
}

/**
 * The layout per precision, measured on 2 cores (README, "Keeping the CPU busy with inference").
 * fp32: one session with an intra-op thread per core. int8: a session per core, one intra-op
 * thread each: an int8 operator is short, so two threads meeting at every operator (and the
 * reading thread preempting one of them) cost more than they share.
 */
export function defaultLayout(precision: Precision, cores = availableParallelism()): InferenceLayout {
  const env = process.env['MORPHOPROF_LAYOUT'];
  if (env) return parseLayout(env);
  return precision === 'int8' && cores > 1 ? { sessions: cores, threads: 1, spinning: true } : { sessions: 1, threads: cores, spinning: true };
}

/**
 * A layout written `<sessions>x<threads>`, `nospin` appended to turn spinning off: `2x1`,
 * `1x2nospin` (MORPHOPROF_LAYOUT, to measure another layout with the unchanged command).
 */
export function parseLayout(text: string): InferenceLayout {
  const m = /^\s*(\d+)x(\d+)(nospin)?\s*$/.exec(text);
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw invalidParameter('MORPHOPROF_LAYOUT', '<sessions>x<threads>, optionally followed by nospin (e.g. 2x1, 1x2nospin)', text);
  return { sessions: Number(m[1]), threads: Number(m[2]), spinning: !m[3] };
}

/** Main-thread CPU of the stages beside the network, in ms (thread CPU time with the C addon, else wall time), when a `timing` object is given to `FieldEmbedder.open`. */
export interface StageTimes {
  images: number;
  illum: number;
  percentiles: number;
  scale: number;
  /** preprocessing into the shared batch buffer (NCHW, 3 channels) */
  assemble: number;
  /** posting batches and taking back embeddings (rows of the table) */
  post: number;
}

export function emptyStageTimes(): StageTimes {
  return { images: 0, illum: 0, percentiles: 0, scale: 0, assemble: 0, post: 0 };
}

/** What calibrating an int8 network took: fields read, their images, seconds (reading and quantizing or finding the cached file). */
export interface CalibrationInfo {
  fields: number;
  images: number;
  /** reading and preprocessing the calibration fields */
  readSeconds: number;
  /** quantizing the network, or finding it in the cache (opening the sessions included) */
  quantizeSeconds: number;
  /** the calibration fields that could not be read, with the reason */
  broken: FieldError[];
  /** true when fields other than the chosen controls were used */
  fallback: boolean;
  /** the quantized ONNX file (cached per network and calibration images) */
  onnxPath: string;
}

/** Control fields an int8 network is calibrated on. */
export const CALIBRATION_FIELDS = 8;

interface Geometry {
  width: number;
  height: number;
  bitDepth: number;
  source: string;
}

/**
 * Fields read and preprocessed into one batch of network inputs: what `FieldEmbedder.assemble`
 * makes and `embedAssembled` embeds (the browser page makes it in a reading worker of its own).
 */
export interface AssembledBatch {
  /** the fields whose inputs `inputs` holds, in order */
  fields: Field[];
  /** the fields that could not be read */
  errors: FieldError[];
  /** `fields.length * imagesPerField` preprocessed images (NCHW, 3 x size x size each) */
  inputs: Float32Array;
}

export interface LoadedField {
  field: Field;
  /** network inputs of the field, each 3 planes (R, G, B) of 0..255 */
  inputs: Array<[Float32Array, Float32Array, Float32Array]> | null;
  /** the distinct planes behind `inputs`, handed back to the pool once in a batch */
  planes?: Float32Array[];
  error: FieldError | null;
}

export function fieldError(f: Field, stage: FieldError['stage'], reason: string, channel: string | null = null): FieldError {
  return { plate: f.plate, well: f.well, site: f.site, channel, file: channel ? (f.images[channel] ?? null) : null, row: f.row, stage, reason };
}

/**
 * Turns fields into feature vectors with one network. Stateless between calls except for the
 * open sessions, so a job-queue worker can call `embed` on any group of fields.
 */
export class FieldEmbedder {
  readonly featureColumns: string[];
  readonly inputs: string[];
  /** int8: how the network was calibrated (null for fp32) */
  calibration: CalibrationInfo | null = null;
  private readonly model: ModelSession;
  private constructor(
    readonly screen: Screen,
    readonly settings: EmbedSettings,
    /** one or more sessions of the same network file, run in turn (InferenceLayout) */
    private readonly models: ModelSession[],
    private readonly geometry: Geometry,
    private readonly illum: IlluminationSet | null,
    private readonly timing: StageTimes | null = null,
    /** how the network runs (sessions, threads, spinning) */
    readonly layout: InferenceLayout = { sessions: models.length, threads: 1, spinning: true },
  ) {
    this.model = models[0]!;
    this.inputs = settings.channels === 'grey' ? [...screen.channels] : ['RGB'];
    this.featureColumns = featureColumnNames(this.inputs, modelTag(settings), this.model.embeddingDim);
  }

  /**
   * Open the network. `calibrationFields` (int8 only): the fields to calibrate the quantized
   * network on, read like any field (give a few control fields of the screen, see
   * `calibrationFields`); those that cannot be read are replaced by other control fields of
   * `geometryFrom`, then by any of its fields, each replacement told to `warn`.
   * `layout`: inference threads and sessions (default `defaultLayout` of the precision).
   * `timing`: accumulates the main thread's time per stage (bench/embed.ts --breakdown).
   */
  static async open(
    screen: Screen,
    settings: EmbedSettings,
    opts: {
      cacheDir?: string;
      geometryFrom: readonly Field[];
      calibrationFields?: Field[];
      layout?: Partial<InferenceLayout>;
      timing?: StageTimes;
      warn?: (message: string) => void;
    },
  ): Promise<FieldEmbedder> {
    if (settings.channels === 'rgb') {
      const mapping = settings.rgbMapping ?? (screen.channels.slice(0, 3) as [string, string, string]);
      if (mapping.length !== 3 || mapping.some((c) => !screen.channels.includes(c)))
        throw new MorphoprofError(
          'BAD_ARGUMENT',
          `RGB mapping ${JSON.stringify(mapping)} must name three of the screen's channels (${screen.channels.join(', ')})`,
          'e.g. --rgb-mapping DAPI,Tubulin,Actin (R, G, B)',
        );
      settings = { ...settings, rgbMapping: mapping };
    }
    const layout = { ...defaultLayout(settings.precision), ...opts.layout };
    for (const k of ['sessions', 'threads'] as const)
      if (!Number.isInteger(layout[k]) || layout[k] < 1) throw invalidParameter(`layout.${k}`, 'a positive integer', layout[k]);
    const geometry = await readGeometry(opts.geometryFrom, screen.channels[0]!);
    let illum: IlluminationSet | null = null;
    if (settings.illum) {
      illum = await loadIllumination(settings.illum, screen);
    }
    const modelOptions: OpenModelOptions = {
      cacheDir: opts.cacheDir,
      layer: settings.layer,
      inputSize: settings.inputSize,
      preprocessing: settings.preprocess,
      embeddingOutput: settings.output,
      intraOpNumThreads: layout.threads,
      allowSpinning: layout.spinning,
    };
    let calibration: Omit<CalibrationInfo, 'quantizeSeconds' | 'onnxPath'> | null = null;
    const quantizing = performance.now();
    if (settings.precision === 'int8') {
      const reading = performance.now();
      // read calibration images through the same path as every field; the input size and
      // preprocessing of a registered network are known, an .onnx file's from a provisional session
      const isFile = settings.model.endsWith('.onnx');
      const probe = isFile ? await openModel(settings.model, { ...modelOptions, intraOpNumThreads: 1 }) : null;
      const info = isFile ? null : getModel(settings.model);
      const size = probe?.inputSize ?? settings.inputSize ?? info!.inputSize;
      const preprocess = probe?.preprocess ?? info!.preprocessing;
      await probe?.dispose();
      const tmp = new FieldEmbedder(screen, settings, [{ inputSize: size } as ModelSession], geometry, illum);
      const chosen = await tmp.calibrationImages(opts.calibrationFields ?? [], opts.geometryFrom, size, opts.warn);
      const images = chosen.images;
      const data = new Float32Array(images.length * 3 * size * size);
      images.forEach((rgb, i) => preprocessInto(data, i * 3 * size * size, rgb, preprocess));
      modelOptions.precision = 'int8';
      modelOptions.calibration = data;
      modelOptions.calibrationCount = images.length;
      calibration = { fields: chosen.fields, images: images.length, readSeconds: (performance.now() - reading) / 1000, broken: chosen.broken, fallback: chosen.fallback };
    }
    // on threads of their own, so that reading the next batch overlaps inference (see thread-session.ts)
    const first = await openModelInThread(settings.model, modelOptions);
    const models = [first];
    try {
      // the other sessions open the file the first one runs (for int8 the quantized one, already made)
      const same: OpenModelOptions = { ...modelOptions, precision: 'fp32', calibration: undefined, calibrationCount: undefined, layer: undefined };
      Object.assign(same, { inputSize: first.inputSize, preprocessing: first.preprocess, embeddingOutput: first.embeddingOutput });
      for (let i = 1; i < layout.sessions; i++) models.push(await openModelInThread(first.onnxPath, same));
      for (const m of models)
        if (m.embeddingDim !== first.embeddingDim) throw new MorphoprofError('INTERNAL', `a second session of ${first.onnxPath} gives ${m.embeddingDim} features, the first ${first.embeddingDim}`);
    } catch (err) {
      await Promise.all(models.map((m) => m.dispose()));
      throw err;
    }
    const embedder = new FieldEmbedder(screen, settings, models, geometry, illum, opts.timing ?? null, layout);
    if (calibration) embedder.calibration = { ...calibration, quantizeSeconds: (performance.now() - quantizing) / 1000 - calibration.readSeconds, onnxPath: first.onnxPath };
    return embedder;
  }

  /**
   * The network inputs of `wanted` calibration fields; a field that cannot be read is replaced by
   * the next control field of `pool` not yet used, then by any other field of `pool`, and said.
   */
  private async calibrationImages(
    wanted: readonly Field[],
    pool: readonly Field[],
    size: number,
    warn: ((message: string) => void) | undefined,
  ): Promise<{ images: Array<[Float32Array, Float32Array, Float32Array]>; fields: number; broken: FieldError[]; fallback: boolean }> {
    const control = this.screen.controlCompound;
    const used = new Set(wanted);
    const spare = [...pool.filter((f) => f.compound === control && !used.has(f)), ...pool.filter((f) => f.compound !== control && !used.has(f))];
    const images: Array<[Float32Array, Float32Array, Float32Array]> = [];
    const broken: FieldError[] = [];
    const stand: Field[] = [];
    let fields = 0;
    const take = async (f: Field): Promise<boolean> => {
      const l = await this.load(f, size);
      if (!l.inputs) {
        broken.push(l.error!);
        return false;
      }
      // the pooled planes are reused by the next load: keep copies
      images.push(...l.inputs.map((rgb) => rgb.map((p) => p.slice()) as [Float32Array, Float32Array, Float32Array]));
      this.planes.push(...(l.planes ?? []));
      fields++;
      return true;
    };
    for (const f of wanted) await take(f);
    // replacements for the broken ones, at most a screen's worth of tries bounded by 8x the wanted count
    let tries = 0;
    for (const f of spare) {
      if (fields >= wanted.length || broken.length === 0 || tries >= 8 * Math.max(1, wanted.length)) break;
      tries++;
      if (await take(f)) stand.push(f);
    }
    const where = (f: { plate: string; well: string; site: number | string | null }) => `${f.plate} ${f.well} site ${f.site}`;
    if (images.length === 0) {
      throw new MorphoprofError(
        'NOTHING_VALID',
        `int8 needs calibration images, and none of the ${broken.length} fields tried could be read (${broken
          .slice(0, 3)
          .map((e) => `${where(e)}: ${e.reason}`)
          .join('; ')}${broken.length > 3 ? '; ...' : ''})`,
        'Check the control wells of the screen (their files are listed above), or run with --precision fp32',
      );
    }
    const fallback = stand.length > 0;
    if (broken.length > 0) {
      const others = stand.filter((f) => f.compound !== control).length;
      warn?.(
        `int8 calibration: ${broken.length} calibration field(s) could not be read (${broken
          .slice(0, 3)
          .map((e) => `${where(e)}: ${e.reason}`)
          .join('; ')}${broken.length > 3 ? '; ...' : ''}); ` +
          (fallback
            ? `calibrated instead on ${stand.length} other field(s) (${stand.length - others} ${control} control, ${others} treated: ${stand.slice(0, 4).map(where).join(', ')}${stand.length > 4 ? ', ...' : ''}), ${fields} fields in all. The quantized network differs from one calibrated on the usual controls (cached apart); fix the files to get it back`
            : `calibrated on the ${fields} readable one(s) only`),
      );
    }
    return { images, fields, broken, fallback };
  }

  /**
   * An embedder over a model session opened by the caller (e.g. onnxruntime-web in the browser
   * page, web/src/session.ts): the same reading, scaling and preprocessing as `open`. fp32 and no
   * illumination correction (those are opened from files by `open`).
   */
  static async withModel(screen: Screen, settings: EmbedSettings, model: ModelSession, geometryFrom: readonly Field[]): Promise<FieldEmbedder> {
    if (settings.channels !== 'grey' || settings.illum) {
      throw new MorphoprofError('BAD_ARGUMENT', 'an embedder over a given model session takes grey channels without illumination functions', 'Use FieldEmbedder.open for rgb mode or illumination correction');
    }
    const geometry = await readGeometry(geometryFrom, screen.channels[0]!);
    return new FieldEmbedder(screen, settings, [model], geometry, null);
  }

  /**
   * An embedder that only reads (`load`, `assemble`) for a network it is told of, whose session
   * runs elsewhere (the browser page reads in a worker of its own while its inference worker runs
   * the network). Its batches are embedded by an embedder over the session (`embedAssembled`).
   */
  static async reading(screen: Screen, settings: EmbedSettings, network: NetworkInfo, geometryFrom: readonly Field[]): Promise<FieldEmbedder> {
    const elsewhere = async (): Promise<never> => {
      throw new MorphoprofError('INTERNAL', `this embedder only reads: the network ${network.name} runs in another thread (FieldEmbedder.reading)`);
    };
    return FieldEmbedder.withModel(screen, settings, { ...network, run: elsewhere, embed: elsewhere, dispose: async () => {} }, geometryFrom);
  }

  get embeddingDim(): number {
    return this.model.embeddingDim;
  }

  /** Read, correct, downsample and scale one field's stains into network inputs. */
  async load(field: Field, size = this.model.inputSize): Promise<LoadedField> {
    const planes = new Map<string, Float32Array>();
    const needed = this.settings.channels === 'grey' ? this.screen.channels : this.settings.rgbMapping!;
    const failed = (error: FieldError): LoadedField => {
      this.planes.push(...planes.values());
      return { field, inputs: null, error };
    };
    const clock = this.timing;
    for (const ch of needed) {
      const file = field.images[ch]!;
      const plane = this.planes.pop() ?? new Float32Array(size * size);
      let img;
      try {
        img = await readImageResized(file, size, size, plane.length === size * size ? plane : undefined);
      } catch (err) {
        this.planes.push(plane);
        return failed(fieldError(field, 'read', errorMessage(err), ch));
      }
      planes.set(ch, img.data);
      const g = this.geometry;
      if (img.srcWidth !== g.width || img.srcHeight !== g.height || img.bitDepth !== g.bitDepth) {
        const reason = `image is ${img.srcWidth}x${img.srcHeight} ${img.bitDepth}-bit but the screen's images are ${g.width}x${g.height} ${g.bitDepth}-bit (as ${g.source})`;
        return failed(fieldError(field, 'read', reason, ch));
      }
      // reading and downsampling are not timed here: loads of a batch interleave at their awaits
      // (bench/embed.ts takes them as the main thread's CPU less the stages timed)
      let t = clock ? stageClock() : 0;
      const data = img.data;
      if (this.illum) {
        const fn = this.illum.resized(field.plate, ch, size, size);
        for (let i = 0; i < data.length; i++) data[i] = data[i]! / fn[i]!;
        if (clock) t = lap(clock, 'illum', t);
      }
      const [lo, hi] = percentileRange(data, this.settings.scaling);
      if (clock) t = lap(clock, 'percentiles', t);
      planes.set(ch, scaleTo255(data, lo, hi));
      if (clock) {
        lap(clock, 'scale', t);
        clock.images++;
      }
    }
    const inputs: Array<[Float32Array, Float32Array, Float32Array]> =
      this.settings.channels === 'grey'
        ? this.screen.channels.map((ch) => {
            const p = planes.get(ch)!;
            return [p, p, p];
          })
        : [this.settings.rgbMapping!.map((ch) => planes.get(ch)!) as [Float32Array, Float32Array, Float32Array]];
    return { field, inputs, error: null, planes: [...planes.values()] };
  }

  /** Network-size planes, reused between batches (at most two batches' worth exist). */
  private readonly planes: Float32Array[] = [];
  /** Batch buffers in shared memory (plain memory in a page that is not cross-origin isolated), reused: first touches of fresh memory cost more than filling it (thread-session.ts). */
  private readonly batches: Float32Array[] = [];
  private takeBatch(length: number): Float32Array {
    const i = this.batches.findIndex((b) => b.length >= length);
    const buf = i >= 0 ? this.batches.splice(i, 1)[0]! : new Float32Array(typeof SharedArrayBuffer === 'function' ? new SharedArrayBuffer(length * 4) : new ArrayBuffer(length * 4));
    return buf.subarray(0, length);
  }
  /** the session the next batch goes to (in turn) */
  private turn = 0;

  /** Features of loaded fields, one row each (fields that failed to load are returned as errors). */
  async embedLoaded(loaded: LoadedField[]): Promise<{ table: ProfileTable; errors: FieldError[] }> {
    const assembled = this.assemble(loaded, (length) => this.takeBatch(length));
    try {
      return await this.embedAssembled(assembled);
    } finally {
      if (assembled.inputs.length > 0) this.batches.push(new Float32Array(assembled.inputs.buffer));
    }
  }

  /** Network inputs of one field, in images of 3 x size x size values (one image per stain, or one RGB image). */
  get imagesPerField(): number {
    return this.inputs.length;
  }

  /**
   * The reading half of `embedLoaded`: the loaded fields' network inputs preprocessed into one
   * batch (NCHW), written into the buffer `take(length)` gives (default: fresh memory, e.g. to be
   * handed to another thread); the planes go back to the pool.
   */
  assemble(loaded: readonly LoadedField[], take: (length: number) => Float32Array = (length) => new Float32Array(length)): AssembledBatch {
    const errors = loaded.filter((l) => l.error).map((l) => l.error!);
    const ok = loaded.filter((l) => l.inputs !== null);
    if (ok.length === 0) return { fields: [], errors, inputs: new Float32Array(0) };
    const clock = this.timing;
    const t = clock ? stageClock() : 0;
    const size = this.model.inputSize;
    const per = this.inputs.length;
    const batch = take(ok.length * per * 3 * size * size);
    ok.forEach((l, i) => l.inputs!.forEach((rgb, c) => preprocessInto(batch, (i * per + c) * 3 * size * size, rgb, this.model.preprocess)));
    for (const l of ok) if (l.planes) this.planes.push(...l.planes.splice(0));
    if (clock) lap(clock, 'assemble', t);
    return { fields: ok.map((l) => l.field), errors, inputs: batch };
  }

  /** The inference half of `embedLoaded`: features of an assembled batch, one row per field (its errors passed on). */
  async embedAssembled(assembled: AssembledBatch): Promise<{ table: ProfileTable; errors: FieldError[] }> {
    const table: ProfileTable = { metadataColumns: [...METADATA_COLUMNS], metadata: [], featureColumns: this.featureColumns, features: [] };
    const { fields, errors } = assembled;
    if (fields.length === 0) return { table, errors };
    const clock = this.timing;
    let t = clock ? stageClock() : 0;
    const per = this.inputs.length;
    const model = this.models[this.turn]!;
    this.turn = (this.turn + 1) % this.models.length;
    const running = model.embed(assembled.inputs, fields.length * per);
    if (clock) lap(clock, 'post', t);
    const emb = await running;
    if (clock) t = stageClock();
    const dim = this.model.embeddingDim;
    fields.forEach((f, i) => {
      table.metadata.push(fieldMetadata(f));
      table.features.push(emb.slice(i * per * dim, (i + 1) * per * dim));
    });
    if (clock) lap(clock, 'post', t);
    return { table, errors };
  }

  /** Load a group of fields (their images are read one after another: reading is CPU work). */
  loadAll(fields: readonly Field[]): Promise<LoadedField[]> {
    return Promise.all(fields.map((f) => this.load(f)));
  }

  /**
   * Embed groups of fields in order, handing each group's features to `onBatch`. The network runs
   * group b on a thread of its own while this thread reads group b+1, so reading, downsampling
   * and scaling overlap inference; with several sessions (InferenceLayout) as many groups run at
   * once, one per session. Memory holds sessions + 1 groups at most.
   */
  async stream<T extends { fields: readonly Field[] }>(
    batches: readonly T[],
    onBatch: (batch: T, part: { table: ProfileTable; errors: FieldError[] }) => void | Promise<void>,
  ): Promise<void> {
    const running: Array<Promise<{ table: ProfileTable; errors: FieldError[] }>> = [];
    try {
      for (let b = 0; b < batches.length; b++) {
        const loaded = await this.loadAll(batches[b]!.fields);
        if (running.length === this.models.length) await onBatch(batches[b - running.length]!, await running.shift()!);
        const run = this.embedLoaded(loaded); // posted to an inference thread before the next read starts
        run.catch(() => {}); // surfaced when awaited
        running.push(run);
      }
      while (running.length > 0) await onBatch(batches[batches.length - running.length]!, await running.shift()!);
    } finally {
      await Promise.allSettled(running);
    }
  }

  /** Embed fields, `batchSize` of them in inference at once, split between the sessions (see `stream`). */
  async embed(fields: readonly Field[], batchSize: number, onBatch?: (n: number) => void): Promise<{ table: ProfileTable; errors: FieldError[] }> {
    const table: ProfileTable = { metadataColumns: [...METADATA_COLUMNS], metadata: [], featureColumns: this.featureColumns, features: [] };
    const errors: FieldError[] = [];
    const batches: Array<{ fields: Field[] }> = [];
    const per = Math.max(1, Math.ceil(batchSize / this.models.length));
    for (let i = 0; i < fields.length; i += per) batches.push({ fields: fields.slice(i, i + per) });
    await this.stream(batches, (b, part) => {
      table.metadata.push(...part.table.metadata);
      table.features.push(...part.table.features);
      errors.push(...part.errors);
      onBatch?.(b.fields.length);
    });
    return { table, errors };
  }

  async dispose(): Promise<void> {
    await Promise.all(this.models.map((m) => m.dispose()));
  }
}

/** This thread's CPU time in ms where the C addon gives it (Linux, macOS), else the wall clock. */
const stageClock: () => number = native?.threadCpuMs ?? (() => performance.now());

/** Add the time since `t` to a stage; returns now. */
function lap(clock: StageTimes, stage: Exclude<keyof StageTimes, 'images'>, t: number): number {
  const now = stageClock();
  clock[stage] += now - t;
  return now;
}

/** Readable images the screen's geometry is voted from. */
const GEOMETRY_SAMPLE = 9;

/**
 * Indices 0..n-1 spread over the range first (0, n/2, n/4, 3n/4, ... by halving steps), then every
 * other one: a sample of a screen that does not sit in one plate, and in the end all of it.
 */
export function* spreadOrder(n: number): Generator<number> {
  const seen = new Uint8Array(n);
  let step = 1;
  while (step < n) step *= 2;
  for (; step >= 1; step /= 2) {
    for (let i = 0; i < n; i += step) {
      if (seen[i]) continue;
      seen[i] = 1;
      yield i;
    }
  }
}

/**
 * The screen's image geometry: the most common size and bit depth among the first
 * GEOMETRY_SAMPLE readable images of `channel`, looked for spread over the whole screen (see
 * spreadOrder), so a plate of broken files at the top of the table neither decides it nor stops
 * the run (its fields are then skipped at reading, each with its reason). Deterministic, so all
 * workers of a queue agree on it; every field is checked against it.
 */
async function readGeometry(fields: readonly Field[], channel: string): Promise<Geometry> {
  const tried: string[] = [];
  const votes = new Map<string, { geometry: Geometry; n: number }>();
  let readable = 0;
  for (const i of spreadOrder(fields.length)) {
    if (readable >= GEOMETRY_SAMPLE) break;
    const file = fields[i]!.images[channel]!;
    try {
      const img = await readImageResized(file, 8, 8);
      const key = `${img.srcWidth}x${img.srcHeight}x${img.bitDepth}`;
      const vote = votes.get(key) ?? votes.set(key, { geometry: { width: img.srcWidth, height: img.srcHeight, bitDepth: img.bitDepth, source: file }, n: 0 }).get(key)!;
      vote.n++;
      readable++;
    } catch (err) {
      tried.push(`${file}: ${errorMessage(err)}`);
    }
  }
  if (readable === 0) {
    throw new MorphoprofError(
      'BAD_IMAGE',
      `Cannot read any of the ${tried.length} images of stain ${channel} to learn the screen's image size:\n  ${tried.slice(0, 5).join('\n  ')}${tried.length > 5 ? `\n  ... and ${tried.length - 5} more` : ''}`,
      'Check that the files are TIFF or PNG images',
    );
  }
  // the most common geometry; a tie goes to the one seen first
  let best: { geometry: Geometry; n: number } | null = null;
  for (const v of votes.values()) if (!best || v.n > best.n) best = v;
  const g = best!.geometry;
  if (votes.size > 1) g.source = `${best!.n} of ${readable} images sampled, e.g. ${g.source}`;
  return g;
}
