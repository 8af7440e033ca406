import path from 'node:path';
import { errorMessage, MorphoprofError } from '../errors.js';
import { loadIllumination, type IlluminationSet } from '../illum/index.js';
import { readImageResized } from '../image/index.js';
import { preprocessInto } from '../models/preprocess.js';
import { openModel, type ModelSession } from '../models/session.js';
import { openModelInThread } from '../models/thread-session.js';
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

interface Geometry {
  width: number;
  height: number;
  bitDepth: number;
  source: string;
}

interface LoadedField {
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
 * open session, so a job-queue worker can call `embed` on any group of fields.
 */
export class FieldEmbedder {
  readonly featureColumns: string[];
  readonly inputs: string[];
  private constructor(
    readonly screen: Screen,
    readonly settings: EmbedSettings,
    private readonly model: ModelSession,
    private readonly geometry: Geometry,
    private readonly illum: IlluminationSet | null,
  ) {
    this.inputs = settings.channels === 'grey' ? [...screen.channels] : ['RGB'];
    this.featureColumns = featureColumnNames(this.inputs, modelTag(settings), model.embeddingDim);
  }

  /**
   * Open the network. `calibrationFields` (int8 only) are read like any field to calibrate the
   * quantized network; give a few control fields of the screen.
   */
  static async open(
    screen: Screen,
    settings: EmbedSettings,
    opts: { cacheDir?: string; geometryFrom: readonly Field[]; calibrationFields?: Field[] },
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
    const geometry = await readGeometry(opts.geometryFrom, screen.channels[0]!);
    let illum: IlluminationSet | null = null;
    if (settings.illum) {
      illum = await loadIllumination(settings.illum, screen);
    }
    const modelOptions: Record<string, unknown> = {
      cacheDir: opts.cacheDir,
      layer: settings.layer,
      inputSize: settings.inputSize,
      preprocessing: settings.preprocess,
      embeddingOutput: settings.output,
    };
    if (settings.precision === 'int8') {
      // read calibration images through the same path as every field, with a provisional fp32 session for the input size
      const probe = await openModel(settings.model, modelOptions as Parameters<typeof openModel>[1]);
      const size = probe.inputSize;
      const preprocess = probe.preprocess;
      await probe.dispose();
      const tmp = new FieldEmbedder(screen, settings, probe, geometry, illum);
      const loaded = await Promise.all((opts.calibrationFields ?? []).map((f) => tmp.load(f, size)));
      const images = loaded.flatMap((l) => l.inputs ?? []);
      if (images.length === 0) throw new MorphoprofError('NOTHING_VALID', 'int8 needs calibration images, and none of the calibration fields could be read', 'Check the control wells of the screen');
      const calibration = new Float32Array(images.length * 3 * size * size);
      images.forEach((rgb, i) => preprocessInto(calibration, i * 3 * size * size, rgb, preprocess));
      modelOptions.precision = 'int8';
      modelOptions.calibration = calibration;
      modelOptions.calibrationCount = images.length;
    }
    // on its own thread, so that reading the next batch overlaps inference (see thread-session.ts)
    const model = await openModelInThread(settings.model, modelOptions as Parameters<typeof openModel>[1]);
    return new FieldEmbedder(screen, settings, model, geometry, illum);
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
    return new FieldEmbedder(screen, settings, model, geometry, null);
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
      const data = img.data;
      if (this.illum) {
        const fn = this.illum.resized(field.plate, ch, size, size);
        for (let i = 0; i < data.length; i++) data[i] = data[i]! / fn[i]!;
      }
      const [lo, hi] = percentileRange(data, this.settings.scaling);
      planes.set(ch, scaleTo255(data, lo, hi));
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

  /** Features of loaded fields, one row each (fields that failed to load are returned as errors). */
  async embedLoaded(loaded: LoadedField[]): Promise<{ table: ProfileTable; errors: FieldError[] }> {
    const table: ProfileTable = { metadataColumns: [...METADATA_COLUMNS], metadata: [], featureColumns: this.featureColumns, features: [] };
    const errors = loaded.filter((l) => l.error).map((l) => l.error!);
    const ok = loaded.filter((l) => l.inputs !== null);
    if (ok.length === 0) return { table, errors };
    const size = this.model.inputSize;
    const per = this.inputs.length;
    const n = ok.length * per;
    const batch = this.takeBatch(n * 3 * size * size);
    ok.forEach((l, i) => l.inputs!.forEach((rgb, c) => preprocessInto(batch, (i * per + c) * 3 * size * size, rgb, this.model.preprocess)));
    for (const l of ok) if (l.planes) this.planes.push(...l.planes.splice(0));
    let emb: Float32Array;
    try {
      emb = await this.model.embed(batch, n);
    } finally {
      this.batches.push(new Float32Array(batch.buffer));
    }
    const dim = this.model.embeddingDim;
    ok.forEach((l, i) => {
      const f = l.field;
      table.metadata.push(fieldMetadata(f));
      table.features.push(emb.slice(i * per * dim, (i + 1) * per * dim));
    });
    return { table, errors };
  }

  /** Load a group of fields (their images are read one after another: reading is CPU work). */
  loadAll(fields: readonly Field[]): Promise<LoadedField[]> {
    return Promise.all(fields.map((f) => this.load(f)));
  }

  /**
   * Embed groups of fields in order, handing each group's features to `onBatch`. The network runs
   * group b on its own thread while this thread reads group b+1 (a bounded queue of one group), so
   * reading, downsampling and scaling overlap inference; memory holds two groups at most.
   */
  async stream<T extends { fields: readonly Field[] }>(
    batches: readonly T[],
    onBatch: (batch: T, part: { table: ProfileTable; errors: FieldError[] }) => void | Promise<void>,
  ): Promise<void> {
    let loaded = batches.length > 0 ? await this.loadAll(batches[0]!.fields) : [];
    for (let b = 0; b < batches.length; b++) {
      const running = this.embedLoaded(loaded); // posted to the inference thread before the next read starts
      const next = b + 1 < batches.length ? this.loadAll(batches[b + 1]!.fields) : null;
      next?.catch(() => {}); // surfaced when awaited below
      await onBatch(batches[b]!, await running);
      loaded = next ? await next : [];
    }
  }

  /** Embed fields in batches of `batchSize` (see `stream`). */
  async embed(fields: readonly Field[], batchSize: number, onBatch?: (n: number) => void): Promise<{ table: ProfileTable; errors: FieldError[] }> {
    const table: ProfileTable = { metadataColumns: [...METADATA_COLUMNS], metadata: [], featureColumns: this.featureColumns, features: [] };
    const errors: FieldError[] = [];
    const batches: Array<{ fields: Field[] }> = [];
    for (let i = 0; i < fields.length; i += batchSize) batches.push({ fields: fields.slice(i, i + batchSize) });
    await this.stream(batches, (b, part) => {
      table.metadata.push(...part.table.metadata);
      table.features.push(...part.table.features);
      errors.push(...part.errors);
      onBatch?.(b.fields.length);
    });
    return { table, errors };
  }

  async dispose(): Promise<void> {
    await this.model.dispose();
  }
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
