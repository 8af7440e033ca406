/**
 * INTERIM stand-in (lead's placeholder so the cells stage can be built and tested): Otsu threshold,
 * 8-connected components, diameter filter, growth of cells inside the cell stain's mask. The real
 * IdentifyPrimaryObjects / IdentifySecondaryObjects implementation replaces this file.
 */
import type { CellsOptions, LabelImage, NucleiOptions, Plane } from './types.js';

export function defaultNucleiOptions(diameter: [number, number] = [10, 40]): NucleiOptions {
  return { diameter, threshold: 'otsu', thresholdCorrection: 1, smoothing: 1, declump: 'none', fillHoles: true, discardBorder: false };
}

function otsu(data: Plane['data']): number {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!(hi > lo)) return Infinity;
  const bins = 256;
  const hist = new Float64Array(bins);
  const scale = (bins - 1) / (hi - lo);
  for (let i = 0; i < data.length; i++) hist[Math.round((data[i]! - lo) * scale)]!++;
  let sum = 0;
  for (let b = 0; b < bins; b++) sum += b * hist[b]!;
  let w0 = 0;
  let s0 = 0;
  let best = 0;
  let bestVar = -1;
  for (let b = 0; b < bins; b++) {
    w0 += hist[b]!;
    s0 += b * hist[b]!;
    const w1 = data.length - w0;
    if (w0 === 0 || w1 === 0) continue;
    const m0 = s0 / w0;
    const m1 = (sum - s0) / w1;
    const v = w0 * w1 * (m0 - m1) ** 2;
    if (v > bestVar) [bestVar, best] = [v, b];
  }
  return lo + (best + 0.5) / scale;
}

function components(mask: Uint8Array, w: number, h: number): { labels: Int32Array; count: number } {
  const labels = new Int32Array(w * h);
  const stack: number[] = [];
  let count = 0;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i] || labels[i]) continue;
    labels[i] = ++count;
    stack.push(i);
    while (stack.length) {
      const p = stack.pop()!;
      const x = p % w;
      const y = (p - x) / w;
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          const ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
          const q = ny * w + nx;
          if (mask[q] && !labels[q]) {
            labels[q] = count;
            stack.push(q);
          }
        }
    }
  }
  return { labels, count };
}

export function segmentNuclei(plane: Plane, opts: Partial<NucleiOptions> = {}): LabelImage & { threshold: number } {
  const o = { ...defaultNucleiOptions(opts.diameter), ...opts };
  const { width: w, height: h, data } = plane;
  const t = otsu(data) * o.thresholdCorrection;
  const mask = new Uint8Array(w * h);
  for (let i = 0; i < mask.length; i++) mask[i] = data[i]! > t ? 1 : 0;
  const { labels, count } = components(mask, w, h);
  const area = new Float64Array(count + 1);
  for (let i = 0; i < labels.length; i++) area[labels[i]!]!++;
  const minA = (Math.PI * o.diameter[0] ** 2) / 4;
  const maxA = (Math.PI * o.diameter[1] ** 2) / 4;
  const renum = new Int32Array(count + 1);
  let n = 0;
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (!l) continue;
    if (renum[l] === 0) renum[l] = area[l]! >= minA && area[l]! <= maxA ? ++n : -1;
    labels[i] = renum[l]! > 0 ? renum[l]! : 0;
  }
  return { labels, width: w, height: h, count: n, threshold: t };
}

export function segmentCells(nuclei: LabelImage, plane: Plane, _opts: Partial<CellsOptions> = {}): LabelImage {
  const { width: w, height: h } = nuclei;
  const t = otsu(plane.data);
  const labels = Int32Array.from(nuclei.labels);
  let front: number[] = [];
  for (let i = 0; i < labels.length; i++) if (labels[i]) front.push(i);
  while (front.length) {
    const next: number[] = [];
    for (const p of front) {
      const x = p % w;
      const y = (p - x) / w;
      for (const [dx, dy] of [[1, 0], [-1, 0], [0, 1], [0, -1]] as const) {
        const nx = x + dx;
        const ny = y + dy;
        if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
        const q = ny * w + nx;
        if (!labels[q] && plane.data[q]! > t) {
          labels[q] = labels[p]!;
          next.push(q);
        }
      }
    }
    front = next;
  }
  return { labels, width: w, height: h, count: nuclei.count };
}

export function cytoplasm(nuclei: LabelImage, cells: LabelImage): LabelImage {
  const labels = Int32Array.from(cells.labels);
  for (let i = 0; i < labels.length; i++) if (nuclei.labels[i]) labels[i] = 0;
  return { labels, width: cells.width, height: cells.height, count: cells.count };
}
