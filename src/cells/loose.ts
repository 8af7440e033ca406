/**
 * `morphoprof segment <image files...>`: nuclei of loose images of any size, to tune the settings
 * on a few images before a screen. One `<name>_labels.png` per image (and `<name>_overlay.png`
 * with `overlays`), and one table of every nucleus (`objects.csv`).
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../errors.js';
import { readImage } from '../image/index.js';
import { writeCsvRecords } from '../util/csv.js';
import { cellSettings, measureField } from './field.js';
import { writeLabelImage, writeOverlay } from './io.js';
import type { NucleiOptions } from './types.js';

export interface LooseImagesOptions {
  files: string[];
  out: string;
  nuclei?: Partial<NucleiOptions>;
  overlays?: boolean;
}

export interface LooseImageResult {
  file: string;
  labels: string | null;
  overlay: string | null;
  nuclei: number;
  threshold: number | null;
  error: string | null;
}

export const LOOSE_OBJECT_COLUMNS = ['Image', 'ObjectNumber', 'Location_Center_X', 'Location_Center_Y', 'AreaShape_Area', 'AreaShape_BoundingBoxMinimum_X', 'AreaShape_BoundingBoxMinimum_Y', 'AreaShape_BoundingBoxMaximum_X', 'AreaShape_BoundingBoxMaximum_Y'] as const;

/** Segment each image on its own; an unreadable image is reported and the others go on. */
export async function segmentImages(opts: LooseImagesOptions): Promise<LooseImageResult[]> {
  await mkdir(opts.out, { recursive: true });
  const results: LooseImageResult[] = [];
  const rows: Array<Record<string, string | number>> = [];
  const used = new Set<string>();
  const channel = 'DNA';
  const settings = cellSettings([channel], { cellChannel: null, measureChannels: [], nuclei: opts.nuclei });
  for (const file of opts.files) {
    let stem = path.basename(file).replace(/\.(ome\.)?(tiff?|png|jpe?g)$/i, '');
    for (let k = 2; used.has(stem); k++) stem = `${path.basename(file)}-${k}`;
    used.add(stem);
    try {
      const img = await readImage(file);
      const k = 1 / (img.bitDepth === 16 ? 65535 : 255);
      const data = Float32Array.from(img.data, (v) => v * k);
      const plane = { data, width: img.width, height: img.height };
      const m = measureField({ [channel]: plane }, settings);
      const labels = path.join(opts.out, `${stem}_labels.png`);
      await writeLabelImage(labels, m.objects.nuclei);
      let overlay: string | null = null;
      if (opts.overlays) {
        overlay = path.join(opts.out, `${stem}_overlay.png`);
        await writeOverlay(overlay, plane, m.objects.nuclei);
      }
      const t = m.measured.Nuclei!;
      const col = (name: string) => t.columns.indexOf(name);
      for (let o = 0; o < t.count; o++) {
        const row: Record<string, string | number> = { Image: file, ObjectNumber: o + 1 };
        for (const c of LOOSE_OBJECT_COLUMNS.slice(2)) row[c] = t.values[o * t.columns.length + col(c)]!;
        rows.push(row);
      }
      results.push({ file, labels, overlay, nuclei: m.objects.nuclei.count, threshold: m.objects.threshold, error: null });
    } catch (err) {
      results.push({ file, labels: null, overlay: null, nuclei: 0, threshold: null, error: errorMessage(err) });
    }
  }
  await writeCsvRecords(path.join(opts.out, 'objects.csv'), LOOSE_OBJECT_COLUMNS, rows);
  return results;
}
