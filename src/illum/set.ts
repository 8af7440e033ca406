/** A directory of illumination functions, as the embedding stage uses it. */
import path from 'node:path';
import { MorphoprofError } from '../errors.js';
import { areaResize, withImagePixels } from '../image/index.js';
import type { Screen } from '../screen/types.js';
import { checkIdentity, functionStem, MANIFEST_FILE, readManifest, readRecord, type FunctionRecord } from './manifest.js';
import { readNpy } from './npy.js';

export interface IlluminationSet {
  dir: string;
  channels: string[];
  plates: string[];
  width: number;
  height: number;
  /** The plate's function for the channel, area-downsampled (src/image areaResize) to w x h; cached. Throws MorphoprofError naming plate and channel if absent. */
  resized(plate: string, channel: string, w: number, h: number): Float32Array;
  full(plate: string, channel: string): Float32Array;
}

/** Full-resolution functions kept in memory (5 MB each at 1280x1024); resized ones are all kept. */
const FULL_CACHE = 3;

export class FunctionSet implements IlluminationSet {
  readonly plates: string[];
  private readonly small = new Map<string, Float32Array>();
  private readonly large = new Map<string, Float32Array>();

  constructor(
    readonly dir: string,
    readonly channels: string[],
    readonly width: number,
    readonly height: number,
    private readonly records: ReadonlyMap<string, FunctionRecord>,
  ) {
    this.plates = [...new Set([...records.values()].map((r) => r.plate))].sort();
  }

  /** Is there a record (a function, or the note that no image was readable) for this plate and stain? */
  has(plate: string, channel: string): boolean {
    return this.records.has(`${plate}\n${channel}`);
  }

  full(plate: string, channel: string): Float32Array {
    const key = `${plate}\n${channel}`;
    const cached = this.large.get(key);
    if (cached) return cached;
    const record = this.records.get(key);
    if (!record) {
      throw new MorphoprofError(
        'FILE_NOT_FOUND',
        `No illumination function for plate ${plate}, stain ${channel} in ${this.dir} (${functionStem(plate, channel)}.npy)`,
        'Compute it: morphoprof illum --metadata <csv> --images <root> --out <this dir> (computes only what is missing)',
      );
    }
    if (record.file === null) {
      throw new MorphoprofError(
        'NOTHING_VALID',
        `No illumination function for plate ${plate}, stain ${channel}: none of its images could be read when it was computed`,
        `Fix the plate's images, delete ${functionStem(plate, channel)}.json in ${this.dir} and rerun morphoprof illum`,
      );
    }
    const npy = readNpy(path.join(this.dir, record.file));
    if (npy.width !== this.width || npy.height !== this.height) {
      throw new MorphoprofError('BAD_IMAGE', `Illumination function ${record.file} (plate ${plate}, stain ${channel}) is ${npy.width}x${npy.height}, not ${this.width}x${this.height}`, 'Recompute it with morphoprof illum');
    }
    if (this.large.size >= FULL_CACHE) this.large.delete(this.large.keys().next().value as string);
    this.large.set(key, npy.data);
    return npy.data;
  }

  resized(plate: string, channel: string, w: number, h: number): Float32Array {
    const key = `${plate}\n${channel}\n${w}x${h}`;
    let fn = this.small.get(key);
    if (!fn) {
      fn = areaResize(this.full(plate, channel), this.width, this.height, w, h);
      this.small.set(key, fn);
    }
    return fn;
  }
}

/** Divide an image by an illumination function, in place; returns the image. */
export function applyIllumination(image: Float32Array, fn: Float32Array): Float32Array {
  if (image.length !== fn.length) {
    throw new MorphoprofError('BAD_ARGUMENT', `Image has ${image.length} pixels but the illumination function has ${fn.length}`, 'Resize both to the same size first (IlluminationSet.resized)');
  }
  for (let i = 0; i < image.length; i++) image[i] = (image[i] as number) / (fn[i] as number);
  return image;
}

/** The set of the records present for these plates and channels (no check that all are). */
export function functionSet(dir: string, channels: string[], plates: Iterable<string>): FunctionSet {
  const records = new Map<string, FunctionRecord>();
  let size: FunctionRecord | null = null;
  for (const plate of plates) {
    for (const channel of channels) {
      const r = readRecord(dir, plate, channel);
      if (!r) continue;
      if (r.file !== null) {
        if (size && (r.width !== size.width || r.height !== size.height)) {
          throw new MorphoprofError(
            'BAD_IMAGE',
            `Illumination functions of different sizes in ${dir}: plate ${r.plate}, stain ${r.channel} is ${r.width}x${r.height} but plate ${size.plate}, stain ${size.channel} is ${size.width}x${size.height}`,
            'All fields of a screen must have one size; check the images of these plates',
          );
        }
        size ??= r;
      }
      records.set(`${plate}\n${channel}`, r);
    }
  }
  return new FunctionSet(dir, channels, size?.width ?? 0, size?.height ?? 0, records);
}

/**
 * Open an illumination directory for a screen. Checks that it was made for this screen's stains
 * and plates, that every plate and stain has a function, and that the screen's images (one
 * header per plate) have the functions' size; each failure is an error naming plate and stain.
 */
export async function loadIllumination(dir: string, screen: Screen): Promise<IlluminationSet> {
  const m = readManifest(dir);
  if (!m) {
    throw new MorphoprofError(
      'FILE_NOT_FOUND',
      `No illumination functions in ${dir} (${MANIFEST_FILE} missing)`,
      `Compute them: morphoprof illum --metadata <csv> --images <root> --out ${dir}`,
    );
  }
  checkIdentity(dir, m, screen);
  const platesOfScreen = [...new Set(screen.fields.map((f) => f.plate))].sort();
  const set = functionSet(dir, screen.channels, platesOfScreen);
  for (const plate of platesOfScreen) {
    for (const channel of screen.channels) {
      if (!set.has(plate, channel)) {
        throw new MorphoprofError(
          'FILE_NOT_FOUND',
          `Illumination directory ${dir} has no function for plate ${plate}, stain ${channel}`,
          `Compute the missing ones: morphoprof illum --metadata ${screen.metadataPath} --images ${screen.imagesRoot} --out ${dir}`,
        );
      }
    }
  }
  // one image header per plate: a screen of another image size is refused here, not per field
  const firstField = new Map<string, Screen['fields'][number]>();
  for (const f of screen.fields) if (!firstField.has(f.plate)) firstField.set(f.plate, f);
  for (const [plate, field] of firstField) {
    const channel = screen.channels[0] as string;
    const file = field.images[channel];
    if (!file || set.width === 0) continue;
    // the field's image through the one reader (a file, a page of one, a Zarr field); unreadable: reported by the embedding
    const meta = await withImagePixels(file, (img) => ({ width: img.width, height: img.height })).catch(() => null);
    if (meta && (meta.width !== set.width || meta.height !== set.height)) {
      throw new MorphoprofError(
        'BAD_IMAGE',
        `Plate ${plate}, stain ${channel}: image ${file} is ${meta.width}x${meta.height} but the illumination functions in ${dir} are ${set.width}x${set.height}`,
        'These functions were made from images of another size; compute them for this screen: morphoprof illum ... --out <new dir>',
      );
    }
  }
  return set;
}
