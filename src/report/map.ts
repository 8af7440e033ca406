/** 2-D maps of treatment profiles for the report: PCA always, UMAP on request. */
import { findColumn } from '../evaluate/nsc.js';
import type { ProfileTable } from '../table/types.js';
import { columnMeans, pca2 } from './pca.js';

export type MapMethod = 'pca' | 'umap';

export interface MapPoint {
  compound: string;
  concentration: string;
  moa: string;
  /** 'control' for the negative-control compound, else 'treatment'. */
  role: 'control' | 'treatment';
  /** Profiles averaged into this treatment (Metadata_Count), when known. */
  profiles: number | null;
  x: number;
  y: number;
  /** Id of the treatment's picture in the page (./gallery.ts), when it has one. */
  picture?: string | null;
}

export interface ProfileMap {
  method: MapMethod;
  points: MapPoint[];
  /** Axis titles, e.g. `PC1 (34% of variance)`. */
  xTitle: string;
  yTitle: string;
}

export const NO_MOA = '(no MOA)';

/** Fewest treatments for a UMAP layout (it needs a few neighbours per point). */
export const UMAP_MIN_TREATMENTS = 5;

function pointsOf(treatments: ProfileTable, controlCompound: string, xy: ReadonlyArray<readonly [number, number]>): MapPoint[] {
  const column = (name: string): string | undefined => findColumn(treatments, name);
  const [compound, concentration, moa, count] = ['Metadata_Compound', 'Metadata_Concentration', 'Metadata_MOA', 'Metadata_Count'].map(column);
  const text = (row: Record<string, unknown>, c: string | undefined): string => (c && row[c] !== null && row[c] !== undefined ? String(row[c]) : '');
  return treatments.metadata.map((row, i) => ({
    compound: text(row, compound),
    concentration: text(row, concentration),
    moa: text(row, moa) || NO_MOA,
    role: text(row, compound) === controlCompound ? 'control' : 'treatment',
    profiles: count && typeof row[count] === 'number' ? row[count] : null,
    x: xy[i]![0],
    y: xy[i]![1],
  }));
}

const percent = (fraction: number): string => `${(100 * fraction).toFixed(fraction < 0.1 ? 1 : 0)}%`;

export function pcaMap(treatments: ProfileTable, controlCompound: string): ProfileMap {
  const { scores, explained } = pca2(treatments.features);
  return {
    method: 'pca',
    points: pointsOf(treatments, controlCompound, scores),
    xTitle: `PC1 (${percent(explained[0])} of variance)`,
    yTitle: `PC2 (${percent(explained[1])} of variance)`,
  };
}

/** Deterministic uniform [0, 1) generator (mulberry32) so a UMAP layout is reproducible. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function cosineDistance(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na === 0 || nb === 0 ? 1 : 1 - dot / Math.sqrt(na * nb);
}

/**
 * UMAP (umap-js) of the treatment profiles with cosine distance, the similarity the evaluation
 * uses; NaN feature values count as the column mean. Returns null with fewer than
 * UMAP_MIN_TREATMENTS treatments.
 */
export async function umapMap(treatments: ProfileTable, controlCompound: string, seed = 42): Promise<ProfileMap | null> {
  const n = treatments.features.length;
  if (n < UMAP_MIN_TREATMENTS) return null;
  const { UMAP } = await import('umap-js');
  const mean = columnMeans(treatments.features, treatments.featureColumns.length);
  const data = treatments.features.map((row) => Array.from(row, (v, j) => (v === v ? v : mean[j]! === mean[j]! ? mean[j]! : 0)));
  const umap = new UMAP({
    nComponents: 2,
    nNeighbors: Math.min(15, n - 1),
    minDist: 0.1,
    distanceFn: cosineDistance,
    random: seededRandom(seed),
  });
  const embedding = umap.fit(data);
  return {
    method: 'umap',
    points: pointsOf(treatments, controlCompound, embedding.map((p) => [p[0] ?? 0, p[1] ?? 0] as const)),
    xTitle: 'UMAP 1',
    yTitle: 'UMAP 2',
  };
}
