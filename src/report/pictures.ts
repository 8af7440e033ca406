/**
 * Pictures of the cells for the report. For each treatment, its most typical field: the field whose
 * features are closest (cosine) to the mean of the treatment's fields, i.e. to its profile before
 * any normalization. The field's stains are mixed into one colour composite (DNA blue, tubulin
 * green, actin red by default; `parseComposite` for others), each stain scaled linearly between two
 * percentiles of its own intensities, and the report gets a thumbnail of the whole field and a crop
 * at full resolution of its brightest (most cell-dense) square, both as small WebP images.
 *
 * Two passes over a shard of features at a time (the treatments' feature sums, then each field's
 * similarity to its treatment), and two over the chosen fields' images (the stains' percentiles
 * over every picture, so that intensities compare between treatments; then the pictures): memory is
 * bounded by a shard, the treatments' sums and the encoded pictures, not by the screen.
 *
 * Nothing here throws on a run without images (profiles made elsewhere, images moved): the result
 * then holds no pictures and the reason, which the report prints.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { errorMessage, invalidParameter } from '../errors.js';
import { readImage, type GreyImage } from '../image/read.js';
import { areaResize } from '../image/resample.js';
import { loadScreen } from '../screen/load.js';
import { fieldKey, type Field } from '../screen/types.js';
import { readProfiles } from '../table/read.js';
import type { MetadataValue } from '../table/types.js';
import { valuesAtRanks } from '../util/select.js';

export type Rgb = readonly [number, number, number];

/** One stain of the composite and the colour it is drawn in. */
export interface CompositeChannel {
  channel: string;
  colorName: string;
  color: Rgb;
}

export const COLORS: Readonly<Record<string, Rgb>> = Object.freeze({
  red: [1, 0, 0],
  green: [0, 1, 0],
  blue: [0, 0, 1],
  cyan: [0, 1, 1],
  magenta: [1, 0, 1],
  yellow: [1, 1, 0],
  grey: [1, 1, 1],
  gray: [1, 1, 1],
  white: [1, 1, 1],
});

const COMPOSITE_EXAMPLE = 'stain:colour pairs separated by commas, e.g. DAPI:blue,Tubulin:green,Actin:red';

function colorOf(name: string): Rgb | null {
  if (Object.hasOwn(COLORS, name)) return COLORS[name]!;
  const hex = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(name);
  return hex ? [parseInt(hex[1]!, 16) / 255, parseInt(hex[2]!, 16) / 255, parseInt(hex[3]!, 16) / 255] : null;
}

/** `DAPI:blue,Tubulin:green,Actin:red` (colours: the names of COLORS or `#rrggbb`). */
export function parseComposite(text: string): CompositeChannel[] {
  const parts = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) throw invalidParameter('--composite', COMPOSITE_EXAMPLE, text);
  const seen = new Set<string>();
  return parts.map((part) => {
    const at = part.lastIndexOf(':');
    const channel = part.slice(0, at).trim();
    const colorName = part.slice(at + 1).trim().toLowerCase();
    if (at <= 0 || !channel) throw invalidParameter('--composite', COMPOSITE_EXAMPLE, text);
    const color = colorOf(colorName);
    if (!color) throw invalidParameter(`--composite colour of ${channel}`, `one of ${Object.keys(COLORS).join(', ')} or #rrggbb`, colorName);
    if (seen.has(channel.toLowerCase())) throw invalidParameter('--composite', `each stain once (${channel} is given twice)`, text);
    seen.add(channel.toLowerCase());
    return { channel, colorName, color };
  });
}

/** Stain names recognised for the default composite, in the order their colours are given out. */
const DEFAULT_RULES: ReadonlyArray<readonly [RegExp, string]> = [
  [/dapi|dna|hoechst|nucle/i, 'blue'],
  [/tubulin/i, 'green'],
  [/actin|phalloidin/i, 'red'],
];

/**
 * DNA blue, tubulin green, actin red, recognised by name; stains not recognised take the colours
 * left over (blue, green, red in this order) in table order, three stains at most.
 */
export function defaultComposite(channels: readonly string[]): CompositeChannel[] {
  const chosen = new Map<string, string>();
  for (const [pattern, colour] of DEFAULT_RULES) {
    const channel = channels.find((c) => pattern.test(c) && !chosen.has(c));
    if (channel) chosen.set(channel, colour);
  }
  const left = ['blue', 'green', 'red'].filter((c) => ![...chosen.values()].includes(c));
  for (const channel of channels) if (!chosen.has(channel) && left.length) chosen.set(channel, left.shift()!);
  return channels.filter((c) => chosen.has(c)).map((channel) => ({ channel, colorName: chosen.get(channel)!, color: COLORS[chosen.get(channel)!]! }));
}

export interface PictureOptions {
  /** Stains and colours (default `defaultComposite` of the screen's stains). */
  composite?: string | CompositeChannel[];
  /**
   * `screen` (default): each stain scaled by its percentiles over all pictures shown, so that
   * brightness compares between treatments; `field`: each picture by its own.
   */
  scale?: 'screen' | 'field';
  /** Lower and upper percentile of each stain mapped to black and full colour (default 1, 99.8). */
  percentiles?: readonly [number, number];
  /** Longer side of a whole-field thumbnail in pixels (default 176). */
  thumbnail?: number;
  /** Side of the full-resolution crop in image pixels (default 144). */
  crop?: number;
  /** WebP quality, 1-100 (default 70). */
  quality?: number;
}

/** The picture of one treatment. */
export interface TreatmentPicture {
  /** `compound@concentration` as `pictureKey` writes it. */
  key: string;
  compound: string;
  concentration: string;
  moa: string | null;
  plate: string;
  well: string;
  site: number;
  /** Cosine of the field's features to the mean of the treatment's fields. */
  similarity: number;
  /** Fields of the treatment the choice was made from. */
  fields: number;
  /** WebP of the whole field, `thumbnailSize` pixels. */
  thumbnail: Buffer;
  thumbnailSize: [number, number];
  /** WebP of a `crop`-pixel square at full resolution, its top-left corner at `cropAt` in the field. */
  crop: Buffer;
  cropAt: [number, number];
  cropSize: number;
}

export interface CellPictures {
  pictures: TreatmentPicture[];
  composite: CompositeChannel[];
  /** Display range of each stain (file units), in composite order; per picture with scale `field`. */
  ranges: Array<[number, number]> | null;
  scale: 'screen' | 'field';
  percentiles: readonly [number, number];
  /** Treatments without a picture and why (e.g. every field's images unreadable). */
  missing: Array<{ key: string; reason: string }>;
  /** Fields whose features have no screen row (different table), counted. */
  unmatched: number;
}

/** Why a run has no pictures: the report prints it. */
export interface NoPictures {
  reason: string;
}

/** Treatment key shared by the features, the neighbour table and the pictures: `compound@concentration`. */
export function pictureKey(compound: MetadataValue | undefined, concentration: MetadataValue | undefined): string {
  const c = typeof concentration === 'number' ? concentration : Number(concentration);
  return `${String(compound ?? '')}@${concentration !== null && concentration !== undefined && String(concentration).trim() !== '' && Number.isFinite(c) ? String(c) : String(concentration ?? '')}`;
}

const REQUIRED = ['Metadata_Plate', 'Metadata_Well', 'Metadata_Site', 'Metadata_Compound', 'Metadata_Concentration'] as const;

/** The Parquet files of a features folder (or the file itself). */
function featureFiles(features: string): string[] {
  if (!statSync(features).isDirectory()) return [features];
  return readdirSync(features)
    .filter((f) => f.endsWith('.parquet'))
    .sort()
    .map((f) => path.join(features, f));
}

interface Candidate {
  plate: string;
  well: string;
  site: number;
  similarity: number;
}

interface TypicalFields {
  compound: string;
  concentration: string;
  moa: string | null;
  fields: number;
  /** The best few fields, most similar first (later ones replace an unreadable first). */
  candidates: Candidate[];
}

const CANDIDATES = 3;

/** Per treatment: its fields most similar (cosine) to the mean of its fields' features. */
export async function typicalFields(features: string): Promise<Map<string, TypicalFields> | NoPictures> {
  const files = featureFiles(features);
  if (files.length === 0) return { reason: `${features} holds no Parquet file of field features` };
  const sums = new Map<string, { sum: Float64Array; info: TypicalFields }>();
  let width = -1;
  for (const pass of [1, 2]) {
    for (const file of files) {
      const table = await readProfiles(file);
      const missing = REQUIRED.filter((c) => !table.metadataColumns.includes(c));
      if (missing.length) return { reason: `the features in ${file} have no ${missing.join(', ')} column: they are not one row per field of a screen` };
      if (width < 0) width = table.featureColumns.length;
      if (table.featureColumns.length !== width) return { reason: `${file} has ${table.featureColumns.length} features, other shards ${width}` };
      table.metadata.forEach((m, r) => {
        const key = pictureKey(m.Metadata_Compound, m.Metadata_Concentration);
        const f = table.features[r]!;
        if (pass === 1) {
          let entry = sums.get(key);
          if (!entry) {
            const moa = m.Metadata_MOA;
            entry = {
              sum: new Float64Array(width),
              info: { compound: String(m.Metadata_Compound ?? ''), concentration: key.slice(key.lastIndexOf('@') + 1), moa: moa === null || moa === undefined || moa === '' ? null : String(moa), fields: 0, candidates: [] },
            };
            sums.set(key, entry);
          }
          entry.info.fields++;
          for (let j = 0; j < width; j++) if (f[j] === f[j]) entry.sum[j]! += f[j]!;
          return;
        }
        const { sum, info } = sums.get(key)!;
        let dot = 0;
        let ff = 0;
        let ss = 0;
        for (let j = 0; j < width; j++) {
          const v = f[j]! === f[j]! ? f[j]! : 0;
          dot += v * sum[j]!;
          ff += v * v;
          ss += sum[j]! * sum[j]!;
        }
        const similarity = ff > 0 && ss > 0 ? dot / Math.sqrt(ff * ss) : -1;
        info.candidates.push({ plate: String(m.Metadata_Plate), well: String(m.Metadata_Well), site: Number(m.Metadata_Site), similarity });
        info.candidates.sort((a, b) => b.similarity - a.similarity);
        if (info.candidates.length > CANDIDATES) info.candidates.pop();
      });
    }
  }
  return new Map([...sums].map(([key, { info }]) => [key, info]));
}

/** Stains of the composite as the screen names them (case-insensitive), or why not. */
function compositeOf(option: PictureOptions['composite'], channels: readonly string[]): CompositeChannel[] | NoPictures {
  const asked = typeof option === 'string' ? parseComposite(option) : option;
  if (!asked) return defaultComposite(channels);
  const out: CompositeChannel[] = [];
  for (const c of asked) {
    const channel = channels.find((s) => s.toLowerCase() === c.channel.toLowerCase());
    if (!channel) return { reason: `the composite names the stain ${c.channel}, which the screen does not have (its stains: ${channels.join(', ')})` };
    out.push({ ...c, channel });
  }
  return out;
}

/** Display size of a field's thumbnail: longer side `longest`, aspect kept. */
function thumbnailSize(width: number, height: number, longest: number): [number, number] {
  const k = Math.min(1, longest / Math.max(width, height));
  return [Math.max(1, Math.round(width * k)), Math.max(1, Math.round(height * k))];
}

/** The composite's stains of one field, read at full resolution (all the same size). */
async function readStains(field: Field, composite: readonly CompositeChannel[]): Promise<GreyImage[]> {
  const images: GreyImage[] = [];
  for (const c of composite) {
    const file = field.images[c.channel];
    if (!file) throw new Error(`no ${c.channel} image in the screen's table`);
    if (!existsSync(file)) throw new Error(`${file} not found`);
    const image = await readImage(file);
    if (images.length && (image.width !== images[0]!.width || image.height !== images[0]!.height)) {
      throw new Error(`${file} is ${image.width}x${image.height}, the field's other stains ${images[0]!.width}x${images[0]!.height}`);
    }
    images.push(image);
  }
  return images;
}

/** Values at percentiles `p` (0-100) of `data`. */
function percentilesOf(data: Float32Array, p: readonly [number, number]): [number, number] {
  const ranks = p.map((q) => Math.min(data.length - 1, Math.max(0, Math.round((q / 100) * (data.length - 1)))));
  const [lo, hi] = valuesAtRanks(data, ranks) as [number, number];
  return [lo, hi > lo ? hi : lo + 1];
}

/** RGB bytes of stains (each `size` values) mixed in their colours after scaling to [0, 1]. */
function mix(stains: ReadonlyArray<ArrayLike<number>>, composite: readonly CompositeChannel[], ranges: ReadonlyArray<readonly [number, number]>, size: number): Buffer {
  const rgb = new Float32Array(size * 3);
  stains.forEach((data, s) => {
    const [lo, hi] = ranges[s]!;
    const [r, g, b] = composite[s]!.color;
    const k = 1 / (hi - lo);
    for (let i = 0; i < size; i++) {
      const v = Math.min(1, Math.max(0, (data[i]! - lo) * k));
      rgb[3 * i] += v * r;
      rgb[3 * i + 1] += v * g;
      rgb[3 * i + 2] += v * b;
    }
  });
  const out = Buffer.alloc(size * 3);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(255 * Math.min(1, rgb[i]!));
  return out;
}

/** Top-left corner (in `brightness` pixels) of the w x h window with the largest sum. */
function brightestWindow(brightness: Float32Array, width: number, height: number, w: number, h: number): [number, number] {
  const iw = width + 1;
  const integral = new Float64Array(iw * (height + 1));
  for (let y = 0; y < height; y++) {
    let row = 0;
    for (let x = 0; x < width; x++) {
      row += brightness[y * width + x]!;
      integral[(y + 1) * iw + x + 1] = integral[y * iw + x + 1]! + row;
    }
  }
  let best = -1;
  let at: [number, number] = [0, 0];
  for (let y = 0; y + h <= height; y++) {
    for (let x = 0; x + w <= width; x++) {
      const s = integral[(y + h) * iw + x + w]! - integral[y * iw + x + w]! - integral[(y + h) * iw + x]! + integral[y * iw + x]!;
      if (s > best) {
        best = s;
        at = [x, y];
      }
    }
  }
  return at;
}

const webp = (rgb: Buffer, width: number, height: number, quality: number): Promise<Buffer> =>
  sharp(rgb, { raw: { width, height, channels: 3 } }).webp({ quality }).toBuffer();

/** A screen field's key as the features write it. */
const keyOf = (c: Candidate): string => fieldKey(c);

/**
 * The pictures of a run's treatments: the screen's table and images root as run.json records them,
 * the field features of `features`. Returns the reason instead when there can be none.
 */
export async function cellPictures(
  screenSource: { metadata?: unknown; images?: unknown; moa?: unknown; controlCompound?: unknown } | null,
  features: string,
  options: PictureOptions = {},
): Promise<CellPictures | NoPictures> {
  if (!screenSource || typeof screenSource.metadata !== 'string' || typeof screenSource.images !== 'string') {
    return { reason: 'the run does not name its screen\'s image table and images folder (run.json settings metadata and images), e.g. profiles measured elsewhere such as CellProfiler tables' };
  }
  if (!existsSync(features)) return { reason: `no field features (${features}) to choose each treatment's typical field from` };
  if (!existsSync(screenSource.metadata)) return { reason: `the screen's image table ${screenSource.metadata} is not there any more (moved?)` };
  let fields: Map<string, Field>;
  let channels: string[];
  try {
    const { screen } = await loadScreen({
      metadata: screenSource.metadata,
      images: screenSource.images,
      moa: typeof screenSource.moa === 'string' && existsSync(screenSource.moa) ? screenSource.moa : undefined,
      controlCompound: typeof screenSource.controlCompound === 'string' ? screenSource.controlCompound : undefined,
    });
    fields = new Map(screen.fields.map((f) => [fieldKey(f), f]));
    channels = screen.channels;
  } catch (err) {
    return { reason: `the screen's image table ${screenSource.metadata} could not be read: ${errorMessage(err)}` };
  }
  const composite = compositeOf(options.composite, channels);
  if ('reason' in composite) return composite;
  const typical = await typicalFields(features);
  if ('reason' in typical) return typical;

  const scale = options.scale ?? 'screen';
  const percentiles = options.percentiles ?? [1, 99.8];
  const quality = options.quality ?? 70;
  const missing: CellPictures['missing'] = [];
  let unmatched = 0;
  let firstProblem = '';

  // Pass 1: which field of each treatment can be read, and (scale `screen`) samples of each stain.
  const chosen: Array<{ key: string; info: TypicalFields; field: Field; candidate: Candidate }> = [];
  const samples: Float32Array[][] = composite.map(() => []);
  const perField = Math.max(256, Math.floor(2e6 / Math.max(1, typical.size)));
  for (const [key, info] of typical) {
    const problems: string[] = [];
    for (const candidate of info.candidates) {
      const field = fields.get(keyOf(candidate));
      if (!field) {
        unmatched++;
        problems.push(`${keyOf(candidate)} is not in the screen's table`);
        continue;
      }
      try {
        const images = await readStains(field, composite);
        if (scale === 'screen') {
          const [w, h] = thumbnailSize(images[0]!.width, images[0]!.height, 64);
          images.forEach((img, s) => {
            const small = areaResize(img.data, img.width, img.height, w, h);
            const step = Math.max(1, Math.floor(small.length / perField));
            samples[s]!.push(step === 1 ? small : Float32Array.from({ length: Math.floor(small.length / step) }, (_, i) => small[i * step]!));
          });
        }
        chosen.push({ key, info, field, candidate });
        problems.length = 0;
        break;
      } catch (err) {
        problems.push(`${keyOf(candidate)}: ${errorMessage(err)}`);
      }
    }
    if (problems.length) {
      missing.push({ key, reason: problems.join('; ') });
      firstProblem ||= problems[0]!;
    }
  }
  if (chosen.length === 0) {
    return { reason: `no image of any treatment's typical field could be read (${typical.size} treatments; first problem: ${firstProblem || 'none'}); were the images moved from ${screenSource.images}?` };
  }
  const concat = (parts: Float32Array[]): Float32Array => {
    const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  };
  const ranges = scale === 'screen' ? samples.map((parts) => percentilesOf(concat(parts), percentiles)) : null;

  // Pass 2: the pictures.
  const pictures: TreatmentPicture[] = [];
  for (const { key, info, field, candidate } of chosen) {
    let images: GreyImage[];
    try {
      images = await readStains(field, composite);
    } catch (err) {
      missing.push({ key, reason: `${keyOf(candidate)}: ${errorMessage(err)}` });
      continue;
    }
    const { width, height } = images[0]!;
    const [tw, th] = thumbnailSize(width, height, options.thumbnail ?? 176);
    const thumbs = images.map((img) => areaResize(img.data, width, height, tw, th));
    const fieldRanges = ranges ?? thumbs.map((t) => percentilesOf(t, percentiles));
    const thumbRgb = mix(thumbs, composite, fieldRanges, tw * th);
    // The crop goes where the composite is brightest: where the cells are.
    const side = Math.min(options.crop ?? 144, width, height);
    const brightness = new Float32Array(tw * th);
    for (let i = 0; i < brightness.length; i++) brightness[i] = thumbRgb[3 * i]! + thumbRgb[3 * i + 1]! + thumbRgb[3 * i + 2]!;
    const [bx, by] = brightestWindow(brightness, tw, th, Math.max(1, Math.round((side * tw) / width)), Math.max(1, Math.round((side * th) / height)));
    const x0 = Math.min(width - side, Math.round((bx * width) / tw));
    const y0 = Math.min(height - side, Math.round((by * height) / th));
    const crops = images.map((img) => {
      const out = new Float32Array(side * side);
      for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) out[y * side + x] = img.data[(y0 + y) * width + x0 + x]!;
      return out;
    });
    pictures.push({
      key,
      compound: info.compound,
      concentration: info.concentration,
      moa: info.moa,
      plate: field.plate,
      well: field.well,
      site: field.site,
      similarity: candidate.similarity,
      fields: info.fields,
      thumbnail: await webp(thumbRgb, tw, th, quality),
      thumbnailSize: [tw, th],
      crop: await webp(mix(crops, composite, fieldRanges, side * side), side, side, quality),
      cropAt: [x0, y0],
      cropSize: side,
    });
  }
  return { pictures, composite, ranges, scale, percentiles, missing, unmatched };
}

/** A smaller WebP of a picture (for the neighbour table and the map when the gallery is elsewhere). */
export async function shrinkPicture(picture: Buffer, longest: number, quality = 70): Promise<Buffer> {
  return sharp(picture).resize(longest, longest, { fit: 'inside' }).webp({ quality }).toBuffer();
}
