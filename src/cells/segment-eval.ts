/**
 * Accuracy of segmentNuclei on a folder of annotated images (Node side: reads files with sharp).
 *
 * Layout (as ../shared/data/nuclei/dsb2018-fluorescence): `INDEX.csv` with columns `image` and
 * `labels` (file names in the folder), each image an 8- or 16-bit greyscale file and each labels
 * file a 16-bit label PNG/TIFF (0 = background, one value per nucleus). Images are grouped into
 * kinds by their size (W x H), and F1 and mean IoU are reported per kind and overall, pooling the
 * objects of all images (F1 = 2 TP / (true + found), IoU > 0.5).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { MorphoprofError } from '../errors.js';
import { readImage } from '../image/index.js';
import { renumber } from './label.js';
import { matchObjects } from './match.js';
import { segmentNuclei } from './segment.js';
import type { LabelImage, NucleiOptions } from './types.js';

/** The DSB 2018 folder mixes magnifications (nuclei 5-85 px across): a range wide enough for all. */
export const EVAL_DIAMETER: [number, number] = [5, 150];

export interface AccuracyRow {
  /** `256x256`, ..., or `all`. */
  kind: string;
  images: number;
  truth: number;
  predicted: number;
  tp: number;
  f1: number;
  meanIoU: number;
}

export interface ImageAccuracy extends AccuracyRow {
  image: string;
  /** ms of segmentNuclei on this image. */
  ms: number;
}

export interface SegmentEvalResult {
  dir: string;
  options: Partial<NucleiOptions>;
  kinds: AccuracyRow[];
  overall: AccuracyRow;
  images: ImageAccuracy[];
}

/** Pairs (image, labels) listed by the folder's INDEX.csv. */
async function readIndex(dir: string): Promise<Array<{ image: string; labels: string }>> {
  const file = path.join(dir, 'INDEX.csv');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new MorphoprofError('FILE_NOT_FOUND', `No annotated images at ${dir}: cannot read ${file} (${(err as Error).message})`, 'Give --dir a folder holding INDEX.csv with columns image,labels and the images it names', { cause: err });
  }
  const lines = text.split(/\r?\n/).filter((l) => l.trim());
  const header = (lines[0] ?? '').split(',').map((s) => s.trim());
  const ci = header.indexOf('image');
  const cl = header.indexOf('labels');
  if (ci < 0 || cl < 0) {
    throw new MorphoprofError('MISSING_COLUMN', `${file} lacks column ${ci < 0 ? 'image' : 'labels'} (header: ${header.join(',')})`, 'INDEX.csv needs columns image and labels, one row per annotated image');
  }
  return lines.slice(1).map((line, k) => {
    const cells = line.split(',');
    const image = cells[ci]?.trim();
    const labels = cells[cl]?.trim();
    if (!image || !labels) throw new MorphoprofError('BAD_TABLE', `${file} row ${k + 2}: empty image or labels`, 'Fill both file names');
    return { image, labels };
  });
}

/** A label image file as consecutive labels 1..count. */
async function readLabels(file: string): Promise<LabelImage> {
  const img = await readImage(file);
  const labels = Int32Array.from(img.data);
  let max = 0;
  for (let i = 0; i < labels.length; i++) if ((labels[i] as number) > max) max = labels[i] as number;
  const count = renumber(labels, max);
  return { labels, width: img.width, height: img.height, count };
}

function row(kind: string, images: number, truth: number, predicted: number, tp: number, sumIoU: number): AccuracyRow {
  return { kind, images, truth, predicted, tp, f1: truth + predicted ? (2 * tp) / (truth + predicted) : 1, meanIoU: tp ? sumIoU / tp : 0 };
}

/**
 * Segment every image of the folder with `options` (defaults: segmentNuclei's, with diameter
 * EVAL_DIAMETER and border nuclei kept, since the annotations keep them) and score it against
 * its labels.
 */
export async function evaluateSegmentation(dir: string, options: Partial<NucleiOptions> = {}, onImage?: (r: ImageAccuracy) => void): Promise<SegmentEvalResult> {
  const index = await readIndex(dir);
  const opts: Partial<NucleiOptions> = { diameter: EVAL_DIAMETER, discardBorder: false, ...options };
  const images: ImageAccuracy[] = [];
  const sums = new Map<string, { images: number; truth: number; predicted: number; tp: number; sumIoU: number }>();
  for (const entry of index) {
    const img = await readImage(path.join(dir, entry.image));
    const truth = await readLabels(path.join(dir, entry.labels));
    if (truth.width !== img.width || truth.height !== img.height) {
      throw new MorphoprofError('BAD_IMAGE', `${entry.labels} is ${truth.width}x${truth.height} but ${entry.image} is ${img.width}x${img.height}`, 'Each labels file must match its image');
    }
    const t0 = performance.now();
    const predicted = segmentNuclei({ data: img.data, width: img.width, height: img.height }, opts);
    const ms = performance.now() - t0;
    const m = matchObjects(truth, predicted);
    const kind = `${img.width}x${img.height}`;
    const r: ImageAccuracy = { image: entry.image, ms, ...row(kind, 1, m.truth, m.predicted, m.tp, m.sumIoU) };
    images.push(r);
    onImage?.(r);
    const s = sums.get(kind) ?? { images: 0, truth: 0, predicted: 0, tp: 0, sumIoU: 0 };
    s.images++;
    s.truth += m.truth;
    s.predicted += m.predicted;
    s.tp += m.tp;
    s.sumIoU += m.sumIoU;
    sums.set(kind, s);
  }
  const kinds = [...sums.entries()]
    .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
    .map(([kind, s]) => row(kind, s.images, s.truth, s.predicted, s.tp, s.sumIoU));
  const all = [...sums.values()].reduce((a, s) => ({ images: a.images + s.images, truth: a.truth + s.truth, predicted: a.predicted + s.predicted, tp: a.tp + s.tp, sumIoU: a.sumIoU + s.sumIoU }), { images: 0, truth: 0, predicted: 0, tp: 0, sumIoU: 0 });
  return { dir, options: opts, kinds, overall: row('all', all.images, all.truth, all.predicted, all.tp, all.sumIoU), images };
}
