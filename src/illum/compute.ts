/**
 * `computeIllumination`: one function per plate and stain, streaming. For each plate, every
 * field's image of each missing stain is read and added to a running float64 sum of that stain
 * (a plain uncompressed TIFF read in place into a reused buffer and summed at once, in C when
 * built; other files decoded by libvips, a few at a time), so memory is one sum per stain being
 * computed (10 MB at 1280x1024) plus the images in flight, whatever the number of images.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { errorMessage, invalidParameter, MorphoprofError } from '../errors.js';
import { withImagePixels } from '../image/read.js';
import { accumulate } from '../native.js';
import type { Field, Screen } from '../screen/types.js';
import { Progress, type ProgressCallback } from '../util/progress.js';
import { illuminationFunction, ILLUMINATION_METHODS, type IlluminationMethod } from './function.js';
import {
  checkIdentity, functionStem, MANIFEST_FILE, manifestOf, readManifest, readRecord, writeAtomic, type FunctionRecord,
} from './manifest.js';
import { encodeNpy } from './npy.js';
import { functionSet, type IlluminationSet } from './set.js';

/**
 * Fewer images than this and a plate's function is warned about: the average still shows the
 * individual cells and the field-to-field differences in density that the median cannot remove
 * (BBBC021 plates have about 240 fields per stain).
 */
export const MIN_IMAGES = 10;
/** Images decoded at once per plate. */
const IN_FLIGHT = 4;

export interface ComputeIlluminationOptions {
  screen: Screen;
  out: string;
  /** `fast` (default): median at 1/4 scale (DeepProfiler); `full`: at full resolution (CellProfiler). */
  method?: IlluminationMethod;
  /** Only these plates (default: all of the screen's). */
  plates?: string[];
  /** Only these stains (default: all). */
  channels?: string[];
  onProgress?: ProgressCallback;
  warn?: (message: string) => void;
}

export const DEFAULT_METHOD: IlluminationMethod = 'fast';

interface Accumulator {
  channel: string;
  sum: Float64Array | null;
  width: number;
  height: number;
  firstFile: string;
  images: number;
  skipped: number;
  firstSkip: string;
}

function checkSubset(name: string, asked: string[] | undefined, known: string[]): string[] {
  if (asked === undefined) return known;
  const unknown = asked.find((a) => !known.includes(a));
  if (unknown !== undefined) throw invalidParameter(name, `one of ${known.slice(0, 8).join(', ')}${known.length > 8 ? ', ...' : ''}`, unknown);
  return asked;
}

/** Average the plate's images of each stain, one pass over its fields. */
async function averagePlate(plate: string, fields: Field[], channels: string[], progress: Progress): Promise<Accumulator[]> {
  const accs = channels.map((channel): Accumulator => ({ channel, sum: null, width: 0, height: 0, firstFile: '', images: 0, skipped: 0, firstSkip: '' }));
  let fatal: MorphoprofError | null = null;
  const add = async (acc: Accumulator, file: string | undefined): Promise<void> => {
    try {
      if (!file) throw new MorphoprofError('FILE_NOT_FOUND', `no image file for stain ${acc.channel}`);
      await withImagePixels(file, (img) => {
        if (acc.sum === null) {
          acc.sum = new Float64Array(img.width * img.height);
          acc.width = img.width;
          acc.height = img.height;
          acc.firstFile = file;
        } else if (img.width !== acc.width || img.height !== acc.height) {
          fatal ??= new MorphoprofError(
            'BAD_IMAGE',
            `Plate ${plate}, stain ${acc.channel}: images of different sizes, ${acc.width}x${acc.height} (${acc.firstFile}) and ${img.width}x${img.height} (${file})`,
            'An illumination function averages images of one size: check the metadata table lists the right files for this plate',
          );
          return;
        }
        accumulate(acc.sum, img.data);
        acc.images++;
      });
    } catch (err) {
      acc.skipped++;
      if (acc.skipped === 1) acc.firstSkip = errorMessage(err).split('\n')[0] as string;
    } finally {
      progress.tick();
    }
  };
  const pending = new Set<Promise<void>>();
  for (const field of fields) {
    for (const acc of accs) {
      if (fatal) break;
      const job = add(acc, field.images[acc.channel]).finally(() => pending.delete(job));
      pending.add(job);
      if (pending.size >= IN_FLIGHT) await Promise.race(pending);
    }
  }
  await Promise.all(pending);
  if (fatal) throw fatal;
  return accs;
}

async function writePreview(file: string, fn: Float32Array, width: number, height: number): Promise<void> {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of fn) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const scale = hi > lo ? 255 / (hi - lo) : 0;
  const pixels = Buffer.alloc(fn.length);
  for (let i = 0; i < fn.length; i++) pixels[i] = Math.round(((fn[i] as number) - lo) * scale);
  await writeAtomic(file, await sharp(pixels, { raw: { width, height, channels: 1 } }).png().toBuffer());
}

/** Function of one accumulated stain: written as .npy, .png and its record. */
async function finishFunction(out: string, plate: string, acc: Accumulator, method: IlluminationMethod, started: number, warn: (m: string) => void): Promise<FunctionRecord> {
  const where = `plate ${plate}, stain ${acc.channel}`;
  const total = acc.images + acc.skipped;
  if (acc.skipped > 0) warn(`${where}: ${acc.skipped} of ${total} images unreadable, skipped (first: ${acc.firstSkip})`);
  const stem = functionStem(plate, acc.channel);
  const record: FunctionRecord = {
    plate, channel: acc.channel, file: null, preview: null, method, width: acc.width, height: acc.height,
    images: acc.images, skipped: acc.skipped, robustMinimum: 0, seconds: 0,
  };
  if (acc.sum === null || acc.images === 0) {
    warn(`${where}: no readable image, no illumination function (its fields cannot be corrected)`);
  } else {
    if (acc.images < MIN_IMAGES) warn(`${where}: only ${acc.images} image${acc.images === 1 ? '' : 's'} averaged (fewer than ${MIN_IMAGES}): the function will still show cells`);
    const average = acc.sum;
    for (let i = 0; i < average.length; i++) average[i] = (average[i] as number) / acc.images;
    const { fn, robustMinimum } = illuminationFunction(average, acc.width, acc.height, method);
    if (robustMinimum === 0) warn(`${where}: the average image is black; the function is flat (1)`);
    record.file = `${stem}.npy`;
    record.preview = `${stem}.png`;
    record.robustMinimum = robustMinimum;
    await writeAtomic(path.join(out, record.file), encodeNpy(fn, acc.width, acc.height));
    await writePreview(path.join(out, record.preview), fn, acc.width, acc.height);
  }
  record.seconds = Number(((performance.now() - started) / 1000).toFixed(3));
  await writeAtomic(path.join(out, `${stem}.json`), `${JSON.stringify(record, null, 2)}\n`);
  return record;
}

/**
 * Compute the illumination functions of a screen into `out`, only those missing (a rerun, or a
 * job per plate and stain, reuses what is there). Returns the set of functions present for the
 * asked plates and stains.
 */
export async function computeIllumination(opts: ComputeIlluminationOptions): Promise<IlluminationSet> {
  const method = opts.method ?? DEFAULT_METHOD;
  if (!ILLUMINATION_METHODS.includes(method)) throw invalidParameter('method', `one of ${ILLUMINATION_METHODS.join(', ')}`, method);
  const warn = opts.warn ?? (() => {});
  const { screen, out } = opts;
  const byPlate = new Map<string, Field[]>();
  for (const f of screen.fields) {
    const list = byPlate.get(f.plate);
    if (list) list.push(f);
    else byPlate.set(f.plate, [f]);
  }
  const plates = checkSubset('plates', opts.plates, [...byPlate.keys()].sort());
  const channels = checkSubset('channels', opts.channels, screen.channels);
  await mkdir(out, { recursive: true });

  const existing = readManifest(out);
  if (existing) {
    checkIdentity(out, existing, screen);
    if (existing.method !== method) {
      throw new MorphoprofError(
        'BAD_ARGUMENT',
        `Illumination directory ${out} holds '${existing.method}' functions; asked for '${method}'`,
        `Use --method ${existing.method} to reuse them, or another --out for '${method}' functions`,
      );
    }
  }
  // the size every function must have: from the functions already there
  let size = existing && existing.width > 0 ? { width: existing.width, height: existing.height, where: `the functions in ${out}` } : null;

  const todo = new Map<string, string[]>();
  for (const plate of plates) {
    const missing = channels.filter((c) => {
      const r = readRecord(out, plate, c);
      return !r || r.method !== method;
    });
    if (missing.length > 0) todo.set(plate, missing);
  }
  const reads = [...todo].reduce((n, [plate, chs]) => n + (byPlate.get(plate)?.length ?? 0) * chs.length, 0);
  const progress = new Progress('illum', reads, opts.onProgress, process.stderr, 'images');
  for (const [plate, missing] of todo) {
    const started = performance.now();
    const accs = await averagePlate(plate, byPlate.get(plate) ?? [], missing, progress);
    for (const acc of accs) {
      if (acc.sum !== null) {
        if (size && (acc.width !== size.width || acc.height !== size.height)) {
          throw new MorphoprofError(
            'BAD_IMAGE',
            `Plate ${plate}, stain ${acc.channel}: images are ${acc.width}x${acc.height} but ${size.where} are ${size.width}x${size.height}`,
            'One illumination directory holds functions of one image size; check the metadata table',
          );
        }
        size ??= { width: acc.width, height: acc.height, where: `plate ${plate}'s images` };
      }
      await finishFunction(out, plate, acc, method, started, warn);
    }
  }
  progress.finish();

  // rebuild the manifest from every record present (other jobs may have added theirs)
  const everything = functionSet(out, screen.channels, byPlate.keys());
  const records = [...byPlate.keys()].sort().flatMap((p) => screen.channels.map((c) => readRecord(out, p, c)).filter((r): r is FunctionRecord => r !== null));
  const manifest = manifestOf(screen, method, { width: everything.width, height: everything.height }, records);
  await writeAtomic(path.join(out, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return functionSet(out, channels, plates);
}
