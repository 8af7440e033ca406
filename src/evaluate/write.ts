/** Writes an NSC evaluation: metrics.json, confusion_matrix.csv, neighbors.csv. */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeProfiles } from '../table/write.js';
import type { MetadataValue, ProfileTable } from '../table/types.js';
import type { NscResult } from './nsc.js';

export interface EvaluationFiles {
  metrics: string;
  confusion: string;
  neighbors: string;
}

export interface Metrics {
  nsc: NscResult['nsc'];
  similarity: string;
  control_compound: string;
  excluded: { control: number; without_moa: number; without_moa_treatments: string[] };
}

export function metricsOf(result: NscResult): Metrics {
  return {
    nsc: result.nsc,
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

export async function writeEvaluation(outDir: string, result: NscResult): Promise<EvaluationFiles> {
  mkdirSync(outDir, { recursive: true });
  const files: EvaluationFiles = {
    metrics: path.join(outDir, 'metrics.json'),
    confusion: path.join(outDir, 'confusion_matrix.csv'),
    neighbors: path.join(outDir, 'neighbors.csv'),
  };
  const { labels, counts } = result.confusion;
  await writeProfiles(
    files.confusion,
    recordsTable(
      ['True_MOA', ...labels],
      labels.map((label, i) => Object.fromEntries([['True_MOA', label], ...labels.map((l, j) => [l, counts[i]![j]!])])),
    ),
  );
  await writeProfiles(
    files.neighbors,
    recordsTable(
      ['Metadata_Compound', 'Metadata_Concentration', 'Metadata_MOA', 'Neighbor_Compound', 'Neighbor_Concentration', 'Neighbor_MOA', 'Similarity', 'Correct'],
      result.neighbors.map((n) => ({
        Metadata_Compound: n.compound,
        Metadata_Concentration: n.concentration,
        Metadata_MOA: n.moa,
        Neighbor_Compound: n.neighborCompound,
        Neighbor_Concentration: n.neighborConcentration,
        Neighbor_MOA: n.neighborMoa,
        Similarity: n.similarity,
        Correct: String(n.correct),
      })),
    ),
  );
  // metrics.json last and atomically: its presence means the evaluation is complete.
  const temp = `${files.metrics}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(metricsOf(result), null, 2)}\n`);
  renameSync(temp, files.metrics);
  return files;
}
