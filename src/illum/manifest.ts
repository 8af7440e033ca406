/**
 * The files of an illumination directory and the screen identity they are checked against.
 *
 *   <plate>_Illum<Channel>.npy   the function, float32 (height, width), >= 1
 *   <plate>_Illum<Channel>.png   8-bit preview, min..max stretched
 *   <plate>_Illum<Channel>.json  its record (images averaged, skipped, method, size, robust minimum)
 *   illum.json                   the manifest: screen identity (plates, channels, image size),
 *                                method, and every record, rebuilt from the per-function records
 *
 * The per-function record is written last and atomically, so it marks a finished function; jobs
 * that compute one plate and stain each can run side by side without sharing a file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MorphoprofError } from '../errors.js';
import type { Screen } from '../screen/types.js';
import { FILTER_RADIUS, FILTER_SIZE, ROBUST_FRACTION, type IlluminationMethod } from './function.js';

export const MANIFEST_FILE = 'illum.json';

/** What one illumination function was made from. */
export interface FunctionRecord {
  plate: string;
  channel: string;
  /** The .npy file name (relative to the directory), or null when no image was readable. */
  file: string | null;
  preview: string | null;
  method: IlluminationMethod;
  width: number;
  height: number;
  /** Images averaged. */
  images: number;
  /** Images that could not be read, skipped. */
  skipped: number;
  robustMinimum: number;
  seconds: number;
}

export interface IlluminationManifest {
  format: 'morphoprof-illum';
  version: 1;
  metadata: string;
  imagesRoot: string;
  /** Every plate of the screen the directory was made for. */
  plates: string[];
  channels: string[];
  width: number;
  height: number;
  method: IlluminationMethod;
  filter: { size: number; radius: number; window: 'disk' };
  robustFraction: number;
  functions: FunctionRecord[];
}

/** File stem of a plate's function for a stain, as CellProfiler names them: `Week1_22123_IllumDAPI`. */
export function functionStem(plate: string, channel: string): string {
  const safe = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '_');
  return `${safe(plate)}_Illum${safe(channel)}`;
}

export async function writeAtomic(file: string, data: string | Buffer): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}

function readJson<T>(file: string): T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (err) {
    throw new MorphoprofError('BAD_TABLE', `Cannot read ${file}: ${(err as Error).message}`, 'Delete it and rerun `morphoprof illum` (it recomputes what is missing)', { cause: err });
  }
}

export function readManifest(dir: string): IlluminationManifest | null {
  const file = path.join(dir, MANIFEST_FILE);
  if (!existsSync(file)) return null;
  const m = readJson<IlluminationManifest>(file);
  if (m.format !== 'morphoprof-illum' || !Array.isArray(m.plates) || !Array.isArray(m.channels)) {
    throw new MorphoprofError('BAD_TABLE', `${file} is not a morphoprof illumination manifest`, 'Point --illum at a directory written by `morphoprof illum`');
  }
  return m;
}

/** The record of a finished function, or null. */
export function readRecord(dir: string, plate: string, channel: string): FunctionRecord | null {
  const file = path.join(dir, `${functionStem(plate, channel)}.json`);
  if (!existsSync(file)) return null;
  const r = readJson<FunctionRecord>(file);
  if (r.file !== null && !existsSync(path.join(dir, r.file))) return null;
  return r;
}

export function manifestOf(
  screen: Screen,
  method: IlluminationMethod,
  size: { width: number; height: number },
  functions: FunctionRecord[],
): IlluminationManifest {
  const plates = [...new Set(screen.fields.map((f) => f.plate))].sort();
  return {
    format: 'morphoprof-illum',
    version: 1,
    metadata: path.resolve(screen.metadataPath),
    imagesRoot: path.resolve(screen.imagesRoot),
    plates,
    channels: [...screen.channels],
    width: size.width,
    height: size.height,
    method,
    filter: { size: FILTER_SIZE, radius: FILTER_RADIUS, window: 'disk' },
    robustFraction: ROBUST_FRACTION,
    functions,
  };
}

/**
 * Does this directory belong to this screen? Same stains, and every plate of the screen among the
 * directory's plates (a directory may hold more plates: the screen may be a subset).
 */
export function checkIdentity(dir: string, m: IlluminationManifest, screen: Screen): void {
  const hint = 'Use the illumination directory made for this screen, or compute one: morphoprof illum --metadata <csv> --images <root> --out <new dir>';
  const missingStain = screen.channels.find((c) => !m.channels.includes(c));
  const extraStain = m.channels.find((c) => !screen.channels.includes(c));
  if (missingStain !== undefined || extraStain !== undefined) {
    throw new MorphoprofError(
      'BAD_ARGUMENT',
      `Illumination directory ${dir} was made for stains ${m.channels.join(', ')} but the screen has ${screen.channels.join(', ')}` +
        (missingStain !== undefined ? ` (no functions for stain ${missingStain})` : ` (stain ${extraStain} is not in the screen)`),
      hint,
    );
  }
  const known = new Set(m.plates);
  const foreign = [...new Set(screen.fields.map((f) => f.plate))].filter((p) => !known.has(p));
  if (foreign.length > 0) {
    throw new MorphoprofError(
      'BAD_ARGUMENT',
      `Illumination directory ${dir} belongs to another screen: plate ${foreign[0]}` +
        (foreign.length > 1 ? ` (and ${foreign.length - 1} more)` : '') +
        ` is not among its ${m.plates.length} plates (${m.plates.slice(0, 3).join(', ')}${m.plates.length > 3 ? ', ...' : ''})`,
      hint,
    );
  }
}
