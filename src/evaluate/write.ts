/**
 * Writes an evaluation: metrics.json, confusion_matrix.csv, neighbors.csv, per_moa.csv and
 * treatment_profiles.parquet (the evaluated treatment profiles, for the report's map).
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeProfiles } from '../table/write.js';
import type { MetadataValue, ProfileTable } from '../table/types.js';
import type { Accuracy, NscResult } from './nsc.js';

export interface EvaluationFiles {
  metrics: string;
  confusion: string;
  neighbors: string;
  perMoa: string;
  /** Absent when no treatment table was given to write. */
  treatmentProfiles?: string;
}

export interface Metrics {
  nsc: Accuracy;
  /** null without a Metadata_Batch column. `eligible`: over treatments with a same-MOA treatment of another compound and batch. */
  nscb: (Accuracy & { eligible: Accuracy; note?: string }) | null;
  map: { mean_average_precision: number | null; p_value: number | null; permutations: number; queries: number; note?: string };
  per_moa: Array<{ moa: string; correct: number; total: number; accuracy: number }>;
  similarity: string;
  control_compound: string;
  excluded: { control: number; without_moa: number; without_moa_treatments: string[] };
}

export function metricsOf(result: NscResult): Metrics {
  const { meanAveragePrecision, pValue, permutations, queries, note } = result.map;
  return {
    nsc: result.nsc,
    nscb: result.nscb,
    map: { mean_average_precision: meanAveragePrecision, p_value: pValue, permutations, queries, ...(note ? { note } : {}) },
    per_moa: result.perMoa,
    similarity: result.similarity,
    control_compound: result.controlCompound,
    excluded: {
      control: result.excluded.control,
      without_moa: result.excluded.withoutMoa.length,
      without_moa_treatments: result.excluded.withoutMoa,
    },
  };
}

/** A table of metadata only, for the one table writer. */
function recordsTable(columns: string[], rows: Array<Record<string, MetadataValue>>): ProfileTable {
  return { metadataColumns: columns, metadata: rows, featureColumns: [], features: rows.map(() => new Float32Array(0)) };
}

export const NEIGHBOR_COLUMNS = [
  'Metadata_Compound',
  'Metadata_Concentration',
  'Metadata_MOA',
  'Neighbor_Compound',
  'Neighbor_Concentration',
  'Neighbor_MOA',
  'Similarity',
  'Correct',
  'Metadata_Batch',
  'Neighbor_Batch',
  'NSCB_Neighbor_Compound',
  'NSCB_Neighbor_Concentration',
  'NSCB_Neighbor_MOA',
  'NSCB_Neighbor_Batch',
  'NSCB_Similarity',
  'NSCB_Correct',
  'NSCB_Eligible',
  'Average_Precision',
] as const;

/** One row per evaluated treatment (its nearest neighbours and AP): the rows of neighbors.csv. */
export function neighborRows(result: NscResult): Array<Record<(typeof NEIGHBOR_COLUMNS)[number], MetadataValue>> {
  const nscb = result.nscb !== null;
  return result.neighbors.map((n) => ({
    Metadata_Compound: n.compound,
    Metadata_Concentration: n.concentration,
    Metadata_MOA: n.moa,
    Neighbor_Compound: n.neighborCompound,
    Neighbor_Concentration: n.neighborConcentration,
    Neighbor_MOA: n.neighborMoa,
    Similarity: n.similarity,
    Correct: String(n.correct),
    Metadata_Batch: n.batch === null ? null : String(n.batch),
    Neighbor_Batch: n.neighborBatch === null ? null : String(n.neighborBatch),
    NSCB_Neighbor_Compound: n.nscb?.compound ?? null,
    NSCB_Neighbor_Concentration: n.nscb?.concentration ?? null,
    NSCB_Neighbor_MOA: n.nscb?.moa ?? null,
    NSCB_Neighbor_Batch: n.nscb?.batch === undefined || n.nscb.batch === null ? null : String(n.nscb.batch),
    NSCB_Similarity: n.nscb?.similarity ?? null,
    NSCB_Correct: n.nscb ? String(n.nscb.correct) : null,
    NSCB_Eligible: nscb ? String(n.nscbEligible) : null,
    Average_Precision: n.averagePrecision,
  }));
}

export const PER_MOA_COLUMNS = ['MOA', 'Correct', 'Total', 'Accuracy'] as const;

/**
 * Writes the evaluation files into `outDir`; metrics.json last (its presence means the evaluation
 * is complete). `treatments`, when given, is written as treatment_profiles.parquet.
 */
export async function writeEvaluation(outDir: string, result: NscResult, treatments?: ProfileTable): Promise<EvaluationFiles> {
  mkdirSync(outDir, { recursive: true });
  const files: EvaluationFiles = {
    metrics: path.join(outDir, 'metrics.json'),
    confusion: path.join(outDir, 'confusion_matrix.csv'),
    neighbors: path.join(outDir, 'neighbors.csv'),
    perMoa: path.join(outDir, 'per_moa.csv'),
  };
  const { labels, counts } = result.confusion;
  await writeProfiles(
    files.confusion,
    recordsTable(
      ['True_MOA', ...labels],
      labels.map((label, i) => Object.fromEntries([['True_MOA', label], ...labels.map((l, j) => [l, counts[i]![j]!])])),
    ),
  );
  await writeProfiles(files.neighbors, recordsTable([...NEIGHBOR_COLUMNS], neighborRows(result)));
  await writeProfiles(
    files.perMoa,
    recordsTable([...PER_MOA_COLUMNS], result.perMoa.map((m) => ({ MOA: m.moa, Correct: m.correct, Total: m.total, Accuracy: m.accuracy }))),
  );
  if (treatments) {
    files.treatmentProfiles = path.join(outDir, 'treatment_profiles.parquet');
    await writeProfiles(files.treatmentProfiles, treatments);
  }
  const temp = `${files.metrics}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(metricsOf(result), null, 2)}\n`);
  renameSync(temp, files.metrics);
  return files;
}
