/**
 * Object-level accuracy of a segmentation against ground truth, as the Data Science Bowl 2018
 * and most nucleus papers count it: a predicted and a true object match when their
 * intersection over union exceeds the IoU level (> 0.5 makes matches unique).
 */
import { MorphoprofError } from '../errors.js';
import type { LabelImage } from './types.js';

export interface MatchResult {
  /** Objects in the truth and in the prediction. */
  truth: number;
  predicted: number;
  /** Matched pairs; predicted objects without a match; true objects without a match. */
  tp: number;
  fp: number;
  fn: number;
  /** 2 TP / (truth + predicted); 1 when both are empty. */
  f1: number;
  /** Mean IoU of the matched pairs (0 when there is none). */
  meanIoU: number;
  /** Sum of the matched pairs' IoU (to pool images: sum / tp). */
  sumIoU: number;
}

/**
 * Match predicted objects to true objects at `iou` (default 0.5, strictly greater). For
 * levels >= 0.5 a pair is unique by construction; below, each object is used at most once,
 * best IoU first.
 */
export function matchObjects(truth: LabelImage, predicted: LabelImage, iou = 0.5): MatchResult {
  if (truth.width !== predicted.width || truth.height !== predicted.height) {
    throw new MorphoprofError(
      'BAD_ARGUMENT',
      `matchObjects: the truth is ${truth.width}x${truth.height} but the prediction ${predicted.width}x${predicted.height}`,
      'Compare label images of the same field',
    );
  }
  const nt = truth.count;
  const np = predicted.count;
  const areaT = new Float64Array(nt + 1);
  const areaP = new Float64Array(np + 1);
  const overlap = new Map<number, number>();
  const t = truth.labels;
  const p = predicted.labels;
  for (let i = 0; i < t.length; i++) {
    const a = t[i] as number;
    const b = p[i] as number;
    areaT[a]++;
    areaP[b]++;
    if (a > 0 && b > 0) {
      const key = a * (np + 1) + b;
      overlap.set(key, (overlap.get(key) ?? 0) + 1);
    }
  }
  const pairs: Array<[number, number, number]> = [];
  for (const [key, inter] of overlap) {
    const a = Math.floor(key / (np + 1));
    const b = key - a * (np + 1);
    const value = inter / ((areaT[a] as number) + (areaP[b] as number) - inter);
    if (value > iou) pairs.push([value, a, b]);
  }
  pairs.sort((x, y) => y[0] - x[0]);
  const usedT = new Uint8Array(nt + 1);
  const usedP = new Uint8Array(np + 1);
  let tp = 0;
  let sumIoU = 0;
  for (const [value, a, b] of pairs) {
    if (usedT[a] || usedP[b]) continue;
    usedT[a] = 1;
    usedP[b] = 1;
    tp++;
    sumIoU += value;
  }
  return {
    truth: nt,
    predicted: np,
    tp,
    fp: np - tp,
    fn: nt - tp,
    f1: nt + np === 0 ? 1 : (2 * tp) / (nt + np),
    meanIoU: tp ? sumIoU / tp : 0,
    sumIoU,
  };
}
