/**
 * Not-same-compound (NSC) and not-same-compound-or-batch (NSCB) 1-nearest-neighbour MOA
 * classification (Ljosa et al. 2013), and mean average precision of same-MOA retrieval with a
 * permutation p-value. Each evaluated treatment (one row per compound and concentration, with an
 * MOA, not the control) takes the MOA of its most similar treatment among those of OTHER compounds
 * (NSC), also of other batches (NSCB). Similarities are computed in blocks (`similarity.ts`).
 */
import { invalidParameter, MorphoprofError } from '../errors.js';
import { Rng } from '../synth/random.js';
import type { MetadataValue, ProfileTable } from '../table/types.js';
import { averagePrecisionOf, RowScanner, type RetrievalCodes } from './retrieval.js';
import { forEachSimilarityBlock, SIMILARITIES, unitRows, type Similarity } from './similarity.js';

export { SIMILARITIES, type Similarity } from './similarity.js';

export interface NscOptions {
  /** Compound of the negative control, excluded from evaluation (default `DMSO`). */
  controlCompound?: string;
  similarity?: Similarity;
  /** Label permutations for the mAP p-value (default 1000; 0 = none). */
  permutations?: number;
  /** Seed of the permutations (default 1). */
  seed?: number;
  /** Query rows per similarity block (default: ~64 MB of similarities). */
  blockRows?: number;
  /**
   * Permutations need every query's ranking kept (n x n) and cost n x n per permutation: they run
   * only while n x n x permutations stays under this (default 2e9); else the p-value is null.
   */
  permutationBudget?: number;
}

export interface NscNeighbor {
  compound: string;
  concentration: MetadataValue;
  moa: string;
  batch: MetadataValue;
  neighborCompound: string;
  neighborConcentration: MetadataValue;
  neighborMoa: string;
  neighborBatch: MetadataValue;
  similarity: number;
  correct: boolean;
  /** NSCB neighbour (null without batches or when every other treatment shares the batch). */
  nscb: { compound: string; concentration: MetadataValue; moa: string; batch: MetadataValue; similarity: number; correct: boolean } | null;
  /** A same-MOA treatment of another compound and batch exists. */
  nscbEligible: boolean;
  averagePrecision: number | null;
}

export interface Accuracy {
  accuracy: number;
  correct: number;
  total: number;
}

export interface NscResult {
  nsc: Accuracy;
  /**
   * null when the treatments have no Metadata_Batch. `note` says why NSCB is not defined when no
   * treatment is eligible (e.g. every treatment spans all batches): its accuracies are then no
   * measurement (0 of 0) and are shown as n/a.
   */
  nscb: (Accuracy & { eligible: Accuracy; note?: string }) | null;
  map: {
    meanAveragePrecision: number | null;
    /** (1 + permutations with mAP >= observed) / (1 + permutations); null when not run. */
    pValue: number | null;
    permutations: number;
    /** Treatments with at least one same-MOA treatment of another compound (the AP queries). */
    queries: number;
    note?: string;
  };
  perMoa: Array<{ moa: string; correct: number; total: number; accuracy: number }>;
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

const accuracyOf = (correct: number, total: number): Accuracy => ({ accuracy: total > 0 ? correct / total : 0, correct, total });

/** Why no treatment is NSCB-eligible, in words (`batches`: each treatment's `a|b` batch list). */
function nscbUndefined(neighbors: readonly NscNeighbor[], batches: readonly string[]): string {
  if (neighbors.some((nb) => nb.nscb !== null)) return 'no treatment has a same-MOA treatment of another compound in another batch';
  const lists = batches.map((b) => new Set(b.split('|').filter(Boolean)));
  const all = new Set(lists.flatMap((l) => [...l]));
  if (all.size > 1 && lists.every((l) => l.size === all.size)) return `every treatment spans all ${all.size} batches (${[...all].sort().join(', ')}), so none has a neighbour in another batch`;
  return 'every treatment shares a batch with every other one, so none has a neighbour in another batch';
}

/** Integer codes of `values` (first appearance order) and the distinct values. */
function encode(values: string[]): { codes: Int32Array; names: string[] } {
  const index = new Map<string, number>();
  const codes = Int32Array.from(values, (v) => {
    let c = index.get(v);
    if (c === undefined) index.set(v, (c = index.size));
    return c;
  });
  return { codes, names: [...index.keys()] };
}

/** Batch bit sets from `Week1|Week2`-style values. */
function batchSets(values: string[]): { batch: Uint32Array; words: number } {
  const index = new Map<string, number>();
  const lists = values.map((v) =>
    v.split('|').map((b) => {
      let c = index.get(b);
      if (c === undefined) index.set(b, (c = index.size));
      return c;
    }),
  );
  const words = Math.max(1, Math.ceil(index.size / 32));
  const batch = new Uint32Array(values.length * words);
  lists.forEach((list, i) => {
    for (const c of list) batch[i * words + (c >> 5)]! |= 1 << (c & 31);
  });
  return { batch, words };
}

/**
 * mAP p-value: MOA labels are shuffled across COMPOUNDS (a compound's treatments keep sharing a
 * label, as under the null), each query's ranking is re-scored, and the permuted mAPs are compared
 * with the observed one.
 */
function permutationPValue(rankings: Int32Array[], compound: Int32Array, moa: Int32Array, observed: number, permutations: number, seed: number): number {
  const nCompounds = Math.max(...compound) + 1;
  const compoundMoa = new Int32Array(nCompounds);
  for (let i = 0; i < compound.length; i++) compoundMoa[compound[i]!] = moa[i]!;
  const rng = new Rng(seed);
  const shuffled = Int32Array.from(compoundMoa);
  let atLeast = 0;
  for (let t = 0; t < permutations; t++) {
    for (let k = nCompounds - 1; k > 0; k--) {
      const j = Math.floor(rng.next() * (k + 1));
      const tmp = shuffled[k]!;
      shuffled[k] = shuffled[j]!;
      shuffled[j] = tmp;
    }
    let sum = 0;
    let queries = 0;
    rankings.forEach((order, i) => {
      const label = shuffled[compound[i]!]!;
      let hits = 0;
      let ap = 0;
      for (let r = 0; r < order.length; r++) {
        if (shuffled[compound[order[r]!]!] === label) ap += ++hits / (r + 1);
      }
      if (hits > 0) {
        sum += ap / hits;
        queries++;
      }
    });
    if (queries > 0 && sum / queries >= observed - 1e-12) atLeast++;
  }
  return (1 + atLeast) / (1 + permutations);
}

/**
 * NSC and NSCB 1-NN accuracy, per-MOA accuracy, confusion matrix and same-MOA mAP over the
 * treatments (one row per compound and concentration) that have an MOA and are not the control.
 * Ties go to the earlier row. A treatment's batch is `Metadata_Batch` (`a|b` when it spans
 * batches: NSCB then excludes neighbours sharing any of them).
 */
export async function evaluateNsc(treatments: ProfileTable, options: NscOptions = {}): Promise<NscResult> {
  const controlCompound = options.controlCompound ?? 'DMSO';
  const similarity = options.similarity ?? 'cosine';
  if (!SIMILARITIES.includes(similarity)) throw invalidParameter('similarity', `one of ${SIMILARITIES.join(', ')}`, similarity);
  const permutations = options.permutations ?? 1000;
  if (!Number.isInteger(permutations) || permutations < 0) throw invalidParameter('permutations', 'an integer >= 0', permutations);
  const compoundCol = requireColumn(treatments, 'Metadata_Compound');
  const concentrationCol = requireColumn(treatments, 'Metadata_Concentration');
  const moaCol = requireColumn(treatments, 'Metadata_MOA');
  const batchCol = findColumn(treatments, 'Metadata_Batch');

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
  const meta = (r: number, c: string): string => String(treatments.metadata[r]![c] ?? '');
  const compounds = encode(rows.map((r) => meta(r, compoundCol)));
  if (compounds.names.length < 2) {
    throw new MorphoprofError('NOTHING_VALID', `NSC needs MOA-annotated treatments of at least 2 compounds; found ${compounds.names.length}`, 'check the MOA table matches the compounds and concentrations of the profiles');
  }
  const moas = encode(rows.map((r) => meta(r, moaCol)));
  const hasBatch = batchCol !== undefined && rows.some((r) => treatments.metadata[r]![batchCol] !== null && meta(r, batchCol) !== '');
  const codes: RetrievalCodes = { compound: compounds.codes, moa: moas.codes, batch: null, words: 1 };
  if (hasBatch) Object.assign(codes, batchSets(rows.map((r) => meta(r, batchCol!))));

  const n = rows.length;
  const unit = unitRows(rows.map((r) => treatments.features[r]!), treatments.featureColumns.length, similarity);
  const keepRankings = permutations > 0 && n * n * permutations <= (options.permutationBudget ?? 2e9);
  const rankings: Int32Array[] = [];
  const scanner = new RowScanner(codes);
  const results: ReturnType<RowScanner['scan']>[] = [];
  await forEachSimilarityBlock(
    unit,
    (start, count, sims) => {
      for (let k = 0; k < count; k++) {
        const row = sims.subarray(k * n, (k + 1) * n);
        const i = start + k;
        results.push(scanner.scan(row, i));
        if (keepRankings) {
          const others = [...row.keys()].filter((j) => codes.compound[j] !== codes.compound[i]);
          others.sort((a, b) => row[b]! - row[a]! || a - b);
          rankings.push(Int32Array.from(others));
        }
      }
    },
    { blockRows: options.blockRows },
  );

  const value = (r: number, c: string | undefined): MetadataValue => (c === undefined ? null : (treatments.metadata[r]![c] ?? null));
  const neighbors: NscNeighbor[] = results.map((res, i) => {
    const r = rows[i]!;
    const s = rows[res.nsc]!;
    const b = res.nscb >= 0 ? rows[res.nscb]! : -1;
    return {
      compound: meta(r, compoundCol),
      concentration: value(r, concentrationCol),
      moa: meta(r, moaCol),
      batch: hasBatch ? value(r, batchCol) : null,
      neighborCompound: meta(s, compoundCol),
      neighborConcentration: value(s, concentrationCol),
      neighborMoa: meta(s, moaCol),
      neighborBatch: hasBatch ? value(s, batchCol) : null,
      similarity: res.nscSimilarity,
      correct: codes.moa[res.nsc] === codes.moa[i],
      nscb:
        b < 0
          ? null
          : { compound: meta(b, compoundCol), concentration: value(b, concentrationCol), moa: meta(b, moaCol), batch: value(b, batchCol), similarity: res.nscbSimilarity, correct: codes.moa[res.nscb] === codes.moa[i] },
      nscbEligible: res.nscbEligible,
      averagePrecision: res.averagePrecision,
    };
  });

  const labels = [...new Set(neighbors.flatMap((nb) => [nb.moa, nb.neighborMoa]))].sort();
  const counts = labels.map(() => labels.map(() => 0));
  for (const nb of neighbors) counts[labels.indexOf(nb.moa)]![labels.indexOf(nb.neighborMoa)]!++;
  const correct = neighbors.filter((nb) => nb.correct).length;
  const perMoa = [...new Set(neighbors.map((nb) => nb.moa))].sort().map((moa) => {
    const of = neighbors.filter((nb) => nb.moa === moa);
    const ok = of.filter((nb) => nb.correct).length;
    return { moa, correct: ok, total: of.length, accuracy: ok / of.length };
  });
  let nscb: NscResult['nscb'] = null;
  if (hasBatch) {
    const right = neighbors.filter((nb) => nb.nscb?.correct).length;
    const eligible = neighbors.filter((nb) => nb.nscbEligible);
    nscb = { ...accuracyOf(right, n), eligible: accuracyOf(eligible.filter((nb) => nb.nscb?.correct).length, eligible.length) };
    if (eligible.length === 0) nscb.note = nscbUndefined(neighbors, rows.map((r) => meta(r, batchCol!)));
  }
  const aps = neighbors.map((nb) => nb.averagePrecision).filter((ap): ap is number => ap !== null);
  const meanAp = aps.length > 0 ? aps.reduce((a, b) => a + b, 0) / aps.length : null;
  let pValue: number | null = null;
  let note: string | undefined;
  if (meanAp !== null && keepRankings) pValue = permutationPValue(rankings, codes.compound, codes.moa, meanAp, permutations, options.seed ?? 1);
  else if (permutations > 0 && meanAp !== null) note = `permutation p-value skipped: ${n} treatments x ${permutations} permutations exceeds the budget (each permutation re-scores n x n rankings)`;
  return {
    nsc: accuracyOf(correct, n),
    nscb,
    map: { meanAveragePrecision: meanAp, pValue, permutations: pValue === null ? 0 : permutations, queries: aps.length, ...(note ? { note } : {}) },
    perMoa,
    neighbors,
    confusion: { labels, counts },
    excluded: { control, withoutMoa },
    similarity,
    controlCompound,
  };
}

