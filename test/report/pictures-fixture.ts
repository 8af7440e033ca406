/**
 * A small run folder with real images for the pictures of the cells: a synthetic screen (src/synth,
 * BBBC021 layout, 2 plates, small fields) and hand-made field features in which one field of each
 * treatment is exactly the treatment's mean direction (the field the report must choose), then the
 * evaluation and run.json as a run writes them.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { evaluateNsc, writeEvaluation } from '../../src/evaluate/index.js';
import { treatmentProfiles } from '../../src/profiles/index.js';
import { loadScreen } from '../../src/screen/index.js';
import { fieldKey, type Field } from '../../src/screen/types.js';
import { synthesizeScreen } from '../../src/synth/index.js';
import { writeProfiles, type ProfileTable } from '../../src/table/index.js';

export const PICTURE_FEATURES = 16;

export interface PictureRun {
  dir: string;
  screenDir: string;
  metadata: string;
  images: string;
  moa: string;
  /** Treatment key (`compound@concentration`) -> the field key the report must pick. */
  typical: Map<string, string>;
  fields: Field[];
  treatments: number;
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

/**
 * Features: each treatment a direction; its fields are the direction plus offsets that sum to
 * zero, the offset of one field (the `typical` one) being zero, so that field's cosine to the
 * treatment's mean is exactly 1 and every other field's is lower.
 */
function fieldFeatures(fields: readonly Field[]): { table: ProfileTable; typical: Map<string, string> } {
  const random = noise(11);
  const byTreatment = new Map<string, Field[]>();
  for (const f of fields) {
    const key = `${f.compound}@${f.concentration}`;
    byTreatment.set(key, [...(byTreatment.get(key) ?? []), f]);
  }
  const typical = new Map<string, string>();
  const rows = new Map<Field, Float32Array>();
  let t = 0;
  for (const [key, group] of byTreatment) {
    const centre = Array.from({ length: PICTURE_FEATURES }, (_, j) => (j === t % PICTURE_FEATURES ? 4 : 0) + 1 + random());
    const pick = group[t % group.length]!;
    typical.set(key, fieldKey(pick));
    const others = group.filter((f) => f !== pick);
    const offsets = others.map(() => Array.from({ length: PICTURE_FEATURES }, () => 2 * random()));
    const mean = Array.from({ length: PICTURE_FEATURES }, (_, j) => offsets.reduce((s, o) => s + o[j]!, 0) / Math.max(1, offsets.length));
    rows.set(pick, Float32Array.from(centre));
    others.forEach((f, i) => rows.set(f, Float32Array.from(centre, (c, j) => c + offsets[i]![j]! - mean[j]!)));
    t++;
  }
  return {
    typical,
    table: {
      metadataColumns: ['Metadata_Plate', 'Metadata_Well', 'Metadata_Site', 'Metadata_Compound', 'Metadata_Concentration', 'Metadata_MOA', 'Metadata_Batch'],
      metadata: fields.map((f) => ({
        Metadata_Plate: f.plate,
        Metadata_Well: f.well,
        Metadata_Site: f.site,
        Metadata_Compound: f.compound,
        Metadata_Concentration: f.concentration,
        Metadata_MOA: f.moa ?? f.compound,
        Metadata_Batch: f.batch,
      })),
      featureColumns: Array.from({ length: PICTURE_FEATURES }, (_, j) => `DAPI_f${j}`),
      features: fields.map((f) => rows.get(f)!),
    },
  };
}

/** Writes the screen into `<dir>/screen` and the run into `<dir>/run`. */
export async function makePictureRun(dir: string, opts: { width?: number; height?: number } = {}): Promise<PictureRun> {
  const screenDir = path.join(dir, 'screen');
  const synth = await synthesizeScreen({ out: screenDir, plates: 2, width: opts.width ?? 320, height: opts.height ?? 256, sites: 2, doses: 1, controls: 2, seed: 3 });
  const { screen } = await loadScreen({ metadata: synth.imageTable, images: synth.imagesRoot, moa: synth.moaTable });
  const runDir = path.join(dir, 'run');
  const { table, typical } = fieldFeatures(screen.fields);
  for (const plate of new Set(screen.fields.map((f) => f.plate))) {
    const rows = table.metadata.map((m, i) => [m, i] as const).filter(([m]) => m.Metadata_Plate === plate).map(([, i]) => i);
    await writeProfiles(path.join(runDir, 'features', `${plate}-0.parquet`), {
      ...table,
      metadata: rows.map((i) => table.metadata[i]!),
      features: rows.map((i) => table.features[i]!),
    });
  }
  const treatments = treatmentProfiles(table);
  await writeEvaluation(runDir, await evaluateNsc(treatments), treatments);
  writeFileSync(
    path.join(runDir, 'run.json'),
    JSON.stringify({
      morphoprof: '0.1.0',
      settings: { metadata: synth.imageTable, images: synth.imagesRoot, moa: synth.moaTable, model: 'resnet50', controlCompound: 'DMSO' },
      counts: { fields: screen.fields.length },
      timings: {},
    }),
  );
  return { dir: runDir, screenDir, metadata: synth.imageTable, images: synth.imagesRoot, moa: synth.moaTable, typical, fields: screen.fields, treatments: treatments.features.length };
}
