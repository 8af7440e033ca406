/**
 * Not-same-compound (NSC) 1-nearest-neighbour MOA classification (Ljosa et al. 2013): each
 * treatment takes the MOA of its most similar treatment among those of OTHER compounds.
 */
import { invalidParameter, MorphoprofError } from '../errors.js';
import type { MetadataValue, ProfileTable } from '../table/types.js';

export type Similarity = 'cosine';
export const SIMILARITIES: readonly Similarity[] = ['cosine'];

export interface NscOptions {
  /** Compound of the negative control, excluded from evaluation (default `DMSO`). */
  controlCompound?: string;
  similarity?: Similarity;
}

export interface NscNeighbor {
  compound: string;
  concentration: MetadataValue;
  moa: string;
  neighborCompound: string;
  neighborConcentration: MetadataValue;
  neighborMoa: string;
  similarity: number;
  correct: boolean;
}

export interface NscResult {
  nsc: { accuracy: number; correct: number; total: number };
  neighbors: NscNeighbor[];
  /** counts[i][j]: treatments of true MOA labels[i] predicted as labels[j]. */
  confusion: { labels: string[]; counts: number[][] };
  excluded: {
    /** Treatments of the control compound. */
    control: number;
    /** Treatments without an MOA, as `compound@concentration`. */
    withoutMoa: string[];
  };
  similarity: Similarity;
  controlCompound: string;
}

/** The metadata column called `name`, also accepting another capitalisation (`Metadata_moa`). */
export function findColumn(table: ProfileTable, name: string): string | undefined {
  return table.metadataColumns.find((c) => c === name) ?? table.metadataColumns.find((c) => c.toLowerCase() === name.toLowerCase());
}

function requireColumn(table: ProfileTable, name: string): string {
  const found = findColumn(table, name);
  if (found) return found;
  throw new MorphoprofError(
    'MISSING_COLUMN',
    `The treatment profiles have no ${name} column (metadata columns: ${table.metadataColumns.join(', ') || 'none'})`,
    'annotate the profiles with a platemap and an MOA table (--metadata <image.csv> --moa <moa.csv>)',
  );
}

function cosine(a: Float32Array, b: Float32Array, normA: number, normB: number): number {
  if (normA === 0 || normB === 0) return 0;
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  return dot / (normA * normB);
}

function norm(a: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
  return Math.sqrt(s);
}

/**
 * NSC 1-NN accuracy over the treatments (one row per compound and concentration) that have an MOA
 * and are not the control. Ties go to the earlier row.
 */
export function evaluateNsc(treatments: ProfileTable, options: NscOptions = {}): NscResult {
  const controlCompound = options.controlCompound ?? 'DMSO';
  const similarity = options.similarity ?? 'cosine';
  if (!SIMILARITIES.includes(similarity)) throw invalidParameter('similarity', `one of ${SIMILARITIES.join(', ')}`, similarity);
  const compoundCol = requireColumn(treatments, 'Metadata_Compound');
  const concentrationCol = requireColumn(treatments, 'Metadata_Concentration');
  const moaCol = requireColumn(treatments, 'Metadata_MOA');

  const seen = new Set<string>();
  let control = 0;
  const withoutMoa: string[] = [];
  const rows: number[] = [];
  treatments.metadata.forEach((row, i) => {
    const compound = String(row[compoundCol] ?? '');
    const key = `${compound}@${String(row[concentrationCol] ?? '')}`;
    if (seen.has(key)) {
      throw new MorphoprofError('BAD_ARGUMENT', `Treatment ${key} has more than one profile (row ${i + 1})`, 'average to one profile per treatment first (treatmentProfiles)');
    }
    seen.add(key);
    const moa = row[moaCol];
    if (compound === controlCompound) control++;
    else if (moa === null || moa === undefined || moa === '') withoutMoa.push(key);
    else rows.push(i);
  });
  const compounds = new Set(rows.map((r) => String(treatments.metadata[r]![compoundCol])));
  if (compounds.size < 2) {
    throw new MorphoprofError('NOTHING_VALID', `NSC needs MOA-annotated treatments of at least 2 compounds; found ${compounds.size}`, 'check the MOA table matches the compounds and concentrations of the profiles');
  }

  const norms = rows.map((r) => norm(treatments.features[r]!));
  const meta = (r: number, c: string): string => String(treatments.metadata[r]![c]);
  const neighbors: NscNeighbor[] = rows.map((r, i) => {
    let best = -1;
    let bestSim = -Infinity;
    rows.forEach((s, j) => {
      if (meta(s, compoundCol) === meta(r, compoundCol)) return;
      const sim = cosine(treatments.features[r]!, treatments.features[s]!, norms[i]!, norms[j]!);
      if (sim > bestSim || best < 0) {
        best = s;
        bestSim = sim;
      }
    });
    return {
      compound: meta(r, compoundCol),
      concentration: treatments.metadata[r]![concentrationCol] ?? null,
      moa: meta(r, moaCol),
      neighborCompound: meta(best, compoundCol),
      neighborConcentration: treatments.metadata[best]![concentrationCol] ?? null,
      neighborMoa: meta(best, moaCol),
      similarity: bestSim,
      correct: meta(best, moaCol) === meta(r, moaCol),
    };
  });

  const labels = [...new Set(neighbors.flatMap((n) => [n.moa, n.neighborMoa]))].sort();
  const counts = labels.map(() => labels.map(() => 0));
  for (const n of neighbors) counts[labels.indexOf(n.moa)]![labels.indexOf(n.neighborMoa)]!++;
  const correct = neighbors.filter((n) => n.correct).length;
  return {
    nsc: { accuracy: correct / neighbors.length, correct, total: neighbors.length },
    neighbors,
    confusion: { labels, counts },
    excluded: { control, withoutMoa },
    similarity,
    controlCompound,
  };
}
