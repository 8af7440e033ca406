/**
 * Tiny run folders for the report tests, written with the project's own writers (no model):
 * field-level profiles of 4 MOAs x 2 compounds x 2 concentrations plus the control, 2 fields each.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { evaluateNsc } from '../../src/evaluate/index.js';
import { neighborRows } from '../../src/evaluate/write.js';
import { treatmentProfiles } from '../../src/profiles/index.js';
import { writeProfiles, type ProfileTable } from '../../src/table/index.js';
import { writeCsvRecords } from '../../src/util/csv.js';

export const MOAS = ['Actin disruptors', 'DNA damage', 'Microtubule stabilizers', 'Protein synthesis'];
/** A compound name with HTML in it: the page must show it as text. */
export const HOSTILE_COMPOUND = '<b>taxol&"co"</b>';
export const FEATURES = 8;
export const ERROR_ROWS = 60;

function compoundsOf(moaIndex: number): string[] {
  return moaIndex === 2 ? [HOSTILE_COMPOUND, `cmpd-${moaIndex}b`] : [`cmpd-${moaIndex}a`, `cmpd-${moaIndex}b`];
}

/** Deterministic noise in [-0.5, 0.5). */
function noise(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32 - 0.5;
  };
}

/** Field-level profiles: each MOA a direction in feature space, compounds and fields scattered around it. */
export function fieldProfiles(): ProfileTable {
  const random = noise(7);
  const metadata: ProfileTable['metadata'] = [];
  const features: Float32Array[] = [];
  const add = (compound: string, concentration: number, moa: string, centre: number[]): void => {
    for (let site = 1; site <= 2; site++) {
      metadata.push({
        Metadata_Plate: 'P1',
        Metadata_Well: `W${metadata.length + 1}`,
        Metadata_Site: site,
        Metadata_Compound: compound,
        Metadata_Concentration: concentration,
        Metadata_MOA: moa,
      });
      features.push(Float32Array.from(centre, (c) => c + 0.6 * random()));
    }
  };
  MOAS.forEach((moa, m) => {
    compoundsOf(m).forEach((compound) => {
      for (const concentration of [0.3, 3]) {
        add(compound, concentration, moa, Array.from({ length: FEATURES }, (_, j) => (j === m ? 3 : j === m + 4 ? 1.5 : 0) + 0.2 * concentration));
      }
    });
  });
  add('DMSO', 0, 'DMSO', new Array<number>(FEATURES).fill(0));
  return {
    metadataColumns: ['Metadata_Plate', 'Metadata_Well', 'Metadata_Site', 'Metadata_Compound', 'Metadata_Concentration', 'Metadata_MOA'],
    metadata,
    featureColumns: Array.from({ length: FEATURES }, (_, j) => `f${j}`),
    features,
  };
}

export const TREATMENTS = MOAS.length * 2 * 2 + 1;

type Result = Awaited<ReturnType<typeof evaluateNsc>>;

/**
 * The evaluation files in the spine's first format (metrics.json with NSC only, confusion matrix,
 * 8-column neighbour table), written here so the fixture does not change when the evaluation grows.
 */
async function writeOldEvaluation(dir: string, result: Result): Promise<void> {
  const { labels, counts } = result.confusion;
  await writeCsvRecords(
    path.join(dir, 'confusion_matrix.csv'),
    ['True_MOA', ...labels],
    labels.map((label, i) => Object.fromEntries([['True_MOA', label], ...labels.map((l, j) => [l, counts[i]![j]!])])),
  );
  await writeCsvRecords(
    path.join(dir, 'neighbors.csv'),
    ['Metadata_Compound', 'Metadata_Concentration', 'Metadata_MOA', 'Neighbor_Compound', 'Neighbor_Concentration', 'Neighbor_MOA', 'Similarity', 'Correct'],
    // the first 8 of neighbors.csv's columns (csvText writes only the columns named)
    neighborRows(result),
  );
  writeFileSync(
    path.join(dir, 'metrics.json'),
    JSON.stringify({
      nsc: result.nsc,
      similarity: 'cosine',
      control_compound: 'DMSO',
      excluded: { control: result.excluded.control, without_moa: result.excluded.withoutMoa.length, without_moa_treatments: result.excluded.withoutMoa },
    }),
  );
}

async function writeCommon(dir: string): Promise<Result> {
  mkdirSync(dir, { recursive: true });
  const result = await evaluateNsc(treatmentProfiles(fieldProfiles()));
  await writeOldEvaluation(dir, result);
  writeFileSync(
    path.join(dir, 'run.json'),
    JSON.stringify({
      morphoprof: '0.1.0',
      settings: { metadata: '/data/<plate>.csv', model: 'resnet50', channels: ['DAPI', 'Tubulin', 'Actin'], batchSize: 8, controlCompound: 'DMSO' },
      counts: { fields: 34 + ERROR_ROWS, embedded: 34, resumed: 0, skipped: ERROR_ROWS },
      timings: { screen: 0.01, embed: 12.5, evaluate: 0.4, total: 12.9 },
    }),
  );
  await writeCsvRecords(
    path.join(dir, 'errors.csv'),
    ['Metadata_Plate', 'Metadata_Well', 'Metadata_Site', 'Channel', 'File', 'Row', 'Stage', 'Reason'],
    Array.from({ length: ERROR_ROWS }, (_, i) => ({
      Metadata_Plate: 'P1',
      Metadata_Well: `Z${String(i + 1).padStart(2, '0')}`,
      Metadata_Site: 1,
      Channel: 'DAPI',
      File: `img_${i + 1}.tif`,
      Row: i + 2,
      Stage: 'read',
      Reason: i === 0 ? 'truncated TIFF <script>alert(1)</script>' : 'file not found',
    })),
  );
  return result;
}

/** A run folder as the spine writes it today: old metrics.json, features/ and no per-MOA or treatment files. */
export async function makeOldRun(dir: string): Promise<Result> {
  const result = await writeCommon(dir);
  await writeProfiles(path.join(dir, 'features', 'P1.parquet'), fieldProfiles());
  return result;
}

/** A run folder with the extended evaluation: NSCB, mAP, per_moa in metrics.json and per_moa.csv, treatment_profiles.parquet. */
export async function makeNewRun(dir: string): Promise<Result> {
  const result = await writeCommon(dir);
  await writeProfiles(path.join(dir, 'treatment_profiles.parquet'), treatmentProfiles(fieldProfiles()));
  const perMoa = MOAS.map((moa, i) => ({ MOA: moa, Correct: i === 0 ? 3 : 4, Total: 4, Accuracy: i === 0 ? 0.75 : 1 }));
  await writeCsvRecords(path.join(dir, 'per_moa.csv'), ['MOA', 'Correct', 'Total', 'Accuracy'], perMoa);
  writeFileSync(
    path.join(dir, 'metrics.json'),
    JSON.stringify({
      nsc: result.nsc,
      nscb: { accuracy: 11 / 16, correct: 11, total: 16, eligible: { accuracy: 11 / 12, correct: 11, total: 12 } },
      map: { mean_average_precision: 0.8125, p_value: 0.000999, permutations: 1000 },
      per_moa: perMoa.map((p) => ({ moa: p.MOA, correct: p.Correct, total: p.Total, accuracy: p.Accuracy })),
      similarity: 'cosine',
      control_compound: 'DMSO',
      excluded: { control: 1, without_moa: 0, without_moa_treatments: [] },
    }),
  );
  return result;
}
