/**
 * The real BBBC021 single-cell crops (../shared/data/bbbc021/single-cell-crops: 68x68x3 uint16
 * .npy, DMSO vs cycloheximide) as a screen: each crop one field of three 16-bit TIFFs (DNA,
 * Tubulin, Actin), with a locations table naming the crop's centre as its one nucleus. Used by
 * the real check (test/cells/deep-real.test.ts) and by bench/singlecell.ts.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type { ProfileTable } from '../src/table/index.js';
import { cosine } from '../src/util/cosine.js';
import { rowKey } from '../test/helpers.js';

export const CROP_CHANNELS = ['DNA', 'Tubulin', 'Actin'] as const;

/** A C-order uint16 .npy of shape (h, w, c). */
export function readCropNpy(file: string): { data: Uint16Array; height: number; width: number; channels: number } {
  const buf = readFileSync(file);
  const headerLength = buf[6] === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = buf[6] === 1 ? 10 : 12;
  const header = buf.subarray(start, start + headerLength).toString('latin1');
  const shape = /'shape':\s*\((\d+),\s*(\d+),\s*(\d+)\)/.exec(header);
  if (!/'descr':\s*'<u2'/.test(header) || !shape || /'fortran_order':\s*True/.test(header)) throw new Error(`${file}: not a C-order (h, w, c) uint16 .npy (${header.trim()})`);
  const [height, width, channels] = [Number(shape[1]), Number(shape[2]), Number(shape[3])];
  const data = new Uint16Array(height * width * channels);
  Buffer.from(data.buffer).set(buf.subarray(start + headerLength, start + headerLength + data.byteLength));
  return { data, height, width, channels };
}

export interface CropScreen {
  metadata: string;
  images: string;
  locations: string;
  /** crops per class */
  counts: Record<string, number>;
  size: number;
}

const CLASSES: Record<string, { compound: string; concentration: number; moa: string }> = {
  DMSO: { compound: 'DMSO', concentration: 0, moa: 'DMSO' },
  Protein_synthesis: { compound: 'cycloheximide', concentration: 50, moa: 'Protein synthesis' },
};

/** Write the crops under `crops` as a screen in `out` (every crop; `limit` per class to take fewer). */
export async function writeCropScreen(crops: string, out: string, limit = Infinity): Promise<CropScreen> {
  const images = path.join(out, 'images');
  await mkdir(images, { recursive: true });
  const rows: string[] = [];
  const locs: string[] = ['Metadata_Plate,Metadata_Well,Metadata_Site,Nuclei_Location_Center_X,Nuclei_Location_Center_Y'];
  const counts: Record<string, number> = {};
  let size = 0;
  const head = ['Metadata_Plate', 'Metadata_Well', 'Metadata_Site', ...CROP_CHANNELS.flatMap((c) => [`FileName_${c}`, `PathName_${c}`]), 'Metadata_Compound', 'Metadata_Concentration', 'Metadata_MOA'];
  for (const [cls, t] of Object.entries(CLASSES)) {
    const files = readdirSync(path.join(crops, cls)).filter((f) => f.endsWith('.npy')).sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).slice(0, limit);
    counts[cls] = files.length;
    for (let i = 0; i < files.length; i++) {
      const npy = readCropNpy(path.join(crops, cls, files[i]!));
      const { width, height, channels } = npy;
      size = width;
      const site = i + 1;
      const names: string[] = [];
      for (let c = 0; c < channels; c++) {
        const plane = new Uint16Array(width * height);
        for (let p = 0; p < plane.length; p++) plane[p] = npy.data[p * channels + c]!;
        const name = `${cls}_${site}_${CROP_CHANNELS[c]}.tif`;
        await sharp(plane, { raw: { width, height, channels: 1 } }).toColourspace('grey16').tiff({ compression: 'none' }).toFile(path.join(images, name));
        names.push(name, '.');
      }
      rows.push([cls, 'A01', site, ...names, t.compound, t.concentration, t.moa].join(','));
      // the crop's centre: with a box of the crop's size the box is exactly the crop
      locs.push([cls, 'A01', site, (width - 1) / 2, (height - 1) / 2].join(','));
    }
  }
  const metadata = path.join(out, 'metadata.csv');
  writeFileSync(metadata, [head.join(','), ...rows].join('\n') + '\n');
  const locations = path.join(out, 'locations.csv');
  writeFileSync(locations, locs.join('\n') + '\n');
  return { metadata, images, locations, counts, size };
}

/** Leave-one-out 1-nearest-neighbour accuracy (cosine) of rows labelled by `label`. */
export function leaveOneOut(table: ProfileTable, label: string): number {
  const n = table.features.length;
  const norm = table.features.map((f) => {
    let s = 0;
    for (let j = 0; j < f.length; j++) s += f[j]! * f[j]!;
    return Math.sqrt(s) || 1;
  });
  let right = 0;
  for (let i = 0; i < n; i++) {
    let best = -Infinity;
    let at = -1;
    for (let k = 0; k < n; k++) {
      if (k === i) continue;
      const a = table.features[i]!;
      const b = table.features[k]!;
      let dot = 0;
      for (let j = 0; j < a.length; j++) dot += a[j]! * b[j]!;
      const sim = dot / (norm[i]! * norm[k]!);
      if (sim > best) [best, at] = [sim, k];
    }
    if (table.metadata[at]![label] === table.metadata[i]![label]) right++;
  }
  return right / n;
}

/** Cosine of each row of `b` to the row of `a` of the same field (plate, well, site). */
export function rowCosines(a: ProfileTable, b: ProfileTable): number[] {
  const rows = new Map(a.metadata.map((m, i) => [rowKey(m), a.features[i]!]));
  return b.metadata.map((m, i) => {
    const x = rows.get(rowKey(m));
    const y = b.features[i]!;
    if (!x) throw new Error(`field ${rowKey(m)} is missing from the reference table`);
    return cosine(x, y);
  });
}
