/**
 * Detection accuracy against known nucleus positions (the synthetic screens' `synth_nuclei.csv`):
 * a found nucleus matches a true one when its centroid lies inside the true figure's extent (an
 * ellipse). Each true nucleus is found or missed; a found nucleus inside no figure is a false
 * positive, and so is a second one inside a figure that is one nucleus (over-splitting). A
 * mitotic or fragmented figure is one object however many pieces are found in it.
 * F1 = 2 TP / (true + found), with `found` counting the pieces of such a figure once. A true
 * nucleus reaching the image border counts when found and is not missed when not (border objects
 * are dropped by default, as CellProfiler does).
 */
import { readProfiles, readTable } from '../table/index.js';

export interface TrueNucleus {
  x: number;
  y: number;
  a: number;
  b: number;
  angle: number;
  /** one object however many pieces are found in it (mitotic, fragmented) */
  pieces: boolean;
  /** reaches the image border: counted when found, not missed when not (segmentation drops border objects by default) */
  edge?: boolean;
}

export interface DetectionScore {
  truth: number;
  found: number;
  tp: number;
  fp: number;
  fn: number;
  f1: number;
}

function inside(t: TrueNucleus, x: number, y: number): number {
  const dx = x - t.x;
  const dy = y - t.y;
  const c = Math.cos(t.angle);
  const s = Math.sin(t.angle);
  const u = (dx * c + dy * s) / t.a;
  const v = (-dx * s + dy * c) / t.b;
  return u * u + v * v;
}

/** Score one field (or many: the counts add). */
export function scoreDetections(truth: readonly TrueNucleus[], found: ReadonlyArray<{ x: number; y: number }>): DetectionScore {
  const hits = new Int32Array(truth.length);
  let fp = 0;
  let extra = 0;
  for (const p of found) {
    let best = -1;
    let bestD = 1;
    truth.forEach((t, i) => {
      if (Math.abs(p.x - t.x) > t.a + 1 || Math.abs(p.y - t.y) > t.a + 1) return;
      const d = inside(t, p.x, p.y);
      if (d <= bestD) [best, bestD] = [i, d];
    });
    if (best < 0) fp++;
    else if (hits[best]!++ > 0) {
      if (truth[best]!.pieces) extra++;
      else fp++;
    }
  }
  const tp = hits.reduce((n, h) => n + (h > 0 ? 1 : 0), 0);
  const skipped = truth.reduce((n, t, i) => n + (t.edge && hits[i] === 0 ? 1 : 0), 0);
  const total = truth.length - skipped;
  const fn = total - tp;
  const counted = found.length - extra;
  return { truth: total, found: counted, tp, fp, fn, f1: total + counted ? (2 * tp) / (total + counted) : 1 };
}

/** Add up field scores. */
export function sumScores(scores: readonly DetectionScore[]): DetectionScore {
  const s = { truth: 0, found: 0, tp: 0, fp: 0, fn: 0, f1: 1 };
  for (const x of scores) for (const k of ['truth', 'found', 'tp', 'fp', 'fn'] as const) s[k] += x[k];
  s.f1 = s.truth + s.found ? (2 * s.tp) / (s.truth + s.found) : 1;
  return s;
}

/**
 * Score a segment run's nuclei (`<out>/cells/`) against a synthetic screen's `synth_nuclei.csv`,
 * over the fields the run segmented.
 */
export async function scoreAgainstSynth(cellsDir: string, truthCsv: string, size: { width: number; height: number }): Promise<DetectionScore & { fields: number }> {
  const truthTable = await readTable(truthCsv);
  const truth = new Map<string, TrueNucleus[]>();
  for (const r of truthTable.rows) {
    const key = `${r.Metadata_Plate}/${r.Metadata_Well}/${r.Metadata_Site}`;
    const list = truth.get(key) ?? [];
    const state = String(r.State);
    const [x, y, a] = [Number(r.Location_Center_X), Number(r.Location_Center_Y), Number(r.SemiMajorAxis)];
    const edge = x - a < 1 || y - a < 1 || x + a > size.width - 2 || y + a > size.height - 2;
    list.push({ x, y, a, b: Number(r.SemiMinorAxis), angle: Number(r.Angle), pieces: state === 'mitotic' || state === 'fragmented', edge });
    truth.set(key, list);
  }
  const found = await readProfiles(cellsDir);
  const cx = found.featureColumns.indexOf('Nuclei_Location_Center_X');
  const cy = found.featureColumns.indexOf('Nuclei_Location_Center_Y');
  const byField = new Map<string, Array<{ x: number; y: number }>>();
  found.metadata.forEach((m, i) => {
    const key = `${m.Metadata_Plate}/${m.Metadata_Well}/${m.Metadata_Site}`;
    const list = byField.get(key) ?? [];
    list.push({ x: found.features[i]![cx]!, y: found.features[i]![cy]! });
    byField.set(key, list);
  });
  const scores: DetectionScore[] = [];
  for (const [key, list] of byField) scores.push(scoreDetections(truth.get(key) ?? [], list));
  return { ...sumScores(scores), fields: byField.size };
}
