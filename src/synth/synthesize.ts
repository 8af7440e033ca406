/**
 * `synthesizeScreen`: writes a synthetic screen in BBBC021's layout (image table, MOA table,
 * `<Week>/<Week>_<plate>/*.tif`), deterministic from a seed, that the pipeline reads exactly like
 * the real BBBC021.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { invalidParameter, MorphoprofError } from '../errors.js';
import { Progress, type ProgressCallback } from '../util/progress.js';
import { writeCsvRecords } from '../util/csv.js';
import {
  atStrength, compoundPhenotype, CONTROL_COMPOUND, DMSO_PHENOTYPE, MINORITY_MOA_TABLE, MOA_TABLE, type Phenotype,
} from './phenotypes.js';
import { Rng, normalTable } from './random.js';
import { FieldRenderer, illuminationField, STAINS, type StainOptics } from './render.js';

export type SynthPreset = 'demo' | 'bench';

export interface SynthOptions {
  /** Output folder (created). */
  out: string;
  seed?: number;
  plates?: number;
  width?: number;
  height?: number;
  /** Sites (fields) per well. */
  sites?: number;
  /** DMSO control wells per plate. */
  controls?: number;
  /** Doses per compound (strengths evenly from 0.6 to 1.0 of the MOA's maximal effect). */
  doses?: number;
  /** Add the MOAs whose phenotype lives in a minority of cells (MINORITY_MOA_TABLE), for single-cell profiles. */
  minorityMoa?: boolean;
  preset?: SynthPreset;
}

export const SYNTH_PRESETS: Readonly<Record<SynthPreset, Required<Omit<SynthOptions, 'out' | 'preset'>>>> = Object.freeze({
  demo: { seed: 1, plates: 3, width: 640, height: 512, sites: 2, controls: 6, doses: 2, minorityMoa: false },
  bench: { seed: 1, plates: 2, width: 1280, height: 1024, sites: 4, controls: 6, doses: 2, minorityMoa: false },
});

export interface SynthResult {
  /** `<out>/synth_image.csv`, columns as BBBC021_v1_image.csv. */
  imageTable: string;
  /** `<out>/synth_nuclei.csv`: the nuclei drawn (NUCLEI_TABLE_COLUMNS). */
  nucleiTable: string;
  /** `<out>/synth_moa.csv`, columns as BBBC021_v1_moa.csv. */
  moaTable: string;
  /** `<out>/images`, the root the image table's PathName columns are relative to. */
  imagesRoot: string;
  /** `<out>/synth.json`: seed, options, phenotype table, plate optics and layout. */
  manifest: string;
  plates: number;
  wells: number;
  fields: number;
  images: number;
  compounds: number;
  treatments: number;
  moas: number;
  seconds: number;
}

/** The columns of BBBC021_v1_image.csv, in order. */
/** `synth_nuclei.csv`: where each nuclear figure was drawn (centres inside the field), the ground truth for nucleus detection. */
export const NUCLEI_TABLE_COLUMNS = [
  'Metadata_Plate', 'Metadata_Well', 'Metadata_Site', 'Location_Center_X', 'Location_Center_Y', 'SemiMajorAxis', 'SemiMinorAxis', 'Angle', 'State',
] as const;

export const IMAGE_TABLE_COLUMNS = [
  'TableNumber', 'ImageNumber',
  'Image_FileName_DAPI', 'Image_PathName_DAPI',
  'Image_FileName_Tubulin', 'Image_PathName_Tubulin',
  'Image_FileName_Actin', 'Image_PathName_Actin',
  'Image_Metadata_Plate_DAPI', 'Image_Metadata_Well_DAPI', 'Replicate',
  'Image_Metadata_Compound', 'Image_Metadata_Concentration',
] as const;

/** The columns of BBBC021_v1_moa.csv. */
export const MOA_TABLE_COLUMNS = ['compound', 'concentration', 'moa'] as const;

interface Treatment {
  compound: string;
  concentration: number;
  moa: string;
  strength: number;
  phenotype: Phenotype;
}

interface PlatePlan {
  index: number;
  batch: string;
  plate: string;
  date: string;
  optics: Array<{ gain: number; centre: [number, number]; falloff: number }>;
  wells: Array<{ well: string; treatment: Treatment }>;
}

const ROWS = 'ABCDEFGH';

function resolveOptions(opts: SynthOptions): Required<SynthOptions> {
  const preset = opts.preset ?? 'demo';
  const base = SYNTH_PRESETS[preset];
  if (!base) throw invalidParameter('preset', `one of ${Object.keys(SYNTH_PRESETS).join(', ')}`, preset);
  const o = { ...base, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)), preset } as Required<SynthOptions>;
  const ints: Array<[keyof SynthOptions, number, number]> = [
    ['plates', 1, 99], ['width', 64, 8192], ['height', 64, 8192], ['sites', 1, 16], ['controls', 1, 24], ['doses', 1, 6],
  ];
  for (const [name, lo, hi] of ints) {
    const v = o[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw invalidParameter(name, `an integer from ${lo} to ${hi}`, v);
  }
  if (!Number.isInteger(o.seed) || o.seed < 0) throw invalidParameter('seed', 'a non-negative integer', o.seed);
  if (typeof o.out !== 'string' || o.out === '') throw invalidParameter('out', 'an output folder', o.out);
  return o;
}

/** The value `steps` places below `max` in the 1-3-10 half-log dose series (BBBC021's doses). */
function halfLogSeriesBelow(max: number, steps: number): number {
  let v = max;
  for (let k = 0; k < steps; k++) {
    const decade = 10 ** Math.floor(Math.log10(v) + 1e-9);
    const mantissa = Math.round(v / decade);
    v = mantissa >= 3 ? decade : 0.3 * decade;
  }
  return Number(v.toPrecision(3));
}

/** Every compound at every dose, plus the control; the same list on every plate. */
export function synthTreatments(seed: number, doses: number, minorityMoa = false): Treatment[] {
  const out: Treatment[] = [];
  for (const def of minorityMoa ? [...MOA_TABLE, ...MINORITY_MOA_TABLE] : MOA_TABLE) {
    for (const { name, maxConcentration } of def.compounds) {
      const full = compoundPhenotype(seed, def, name);
      for (let d = 0; d < doses; d++) {
        const strength = doses === 1 ? 1 : 0.6 + (0.4 * d) / (doses - 1);
        const concentration = halfLogSeriesBelow(maxConcentration, doses - 1 - d);
        out.push({ compound: name, concentration, moa: def.moa, strength, phenotype: atStrength(full, strength) });
      }
    }
  }
  return out;
}

function planPlates(o: Required<SynthOptions>, treatments: Treatment[]): PlatePlan[] {
  const control: Treatment = { compound: CONTROL_COMPOUND, concentration: 0, moa: CONTROL_COMPOUND, strength: 0, phenotype: { ...DMSO_PHENOTYPE } };
  const needed = treatments.length + o.controls;
  // BBBC021 used the inner 60 wells (B-G x 02-11); larger layouts spill over to the whole plate
  const inner = [...'BCDEFG'].flatMap((r) => Array.from({ length: 10 }, (_, c) => `${r}${String(c + 2).padStart(2, '0')}`));
  const all = [...ROWS].flatMap((r) => Array.from({ length: 12 }, (_, c) => `${r}${String(c + 1).padStart(2, '0')}`));
  const positions = needed <= inner.length ? inner : all;
  if (needed > positions.length) {
    throw new MorphoprofError('BAD_ARGUMENT', `${needed} wells per plate (${treatments.length} treatments + ${o.controls} controls) do not fit a 96-well plate`, 'use fewer --doses or controls');
  }
  const plates: PlatePlan[] = [];
  const usedIds = new Set<number>();
  for (let p = 0; p < o.plates; p++) {
    const rng = Rng.from(o.seed, 'plate', p);
    const week = p + 1;
    const batch = `Week${week}`;
    let id = 20000 + rng.int(30000);
    while (usedIds.has(id)) id++;
    usedIds.add(id);
    const day = new Date(Date.UTC(2007, 5, 15 + 7 * p));
    const date = `${String(day.getUTCDate()).padStart(2, '0')}${String(day.getUTCMonth() + 1).padStart(2, '0')}${String(day.getUTCFullYear() % 100).padStart(2, '0')}`;
    const plateGain = Math.exp(rng.uniform(Math.log(0.8), Math.log(1.25)));
    const centre: [number, number] = [rng.uniform(0.25, 0.75) * o.width, rng.uniform(0.25, 0.75) * o.height];
    const falloff = rng.uniform(0.3, 0.5);
    const optics = STAINS.map(() => ({
      gain: plateGain * rng.jitter(0.04),
      centre: [centre[0] + rng.normal() * 0.03 * o.width, centre[1] + rng.normal() * 0.03 * o.height] as [number, number],
      falloff: falloff * rng.jitter(0.05),
    }));
    const wellNames = rng.shuffle([...positions]).slice(0, needed);
    const content = [...treatments, ...Array.from({ length: o.controls }, () => control)];
    const wells = wellNames.map((well, i) => ({ well, treatment: content[i] as Treatment })).sort((a, b) => a.well.localeCompare(b.well));
    plates.push({ index: p, batch, plate: `${batch}_${id}`, date, optics, wells });
  }
  return plates;
}

async function writeTiff(file: string, pixels: Uint16Array, width: number, height: number): Promise<void> {
  try {
    await sharp(pixels, { raw: { width, height, channels: 1 } }).toColourspace('grey16').tiff({ compression: 'none' }).toFile(file);
  } catch (err) {
    throw new MorphoprofError('BAD_IMAGE', `Could not write ${file}: ${(err as Error).message}`, 'check that the output folder is writable and has space', { cause: err });
  }
}

/** Write a synthetic BBBC021-like screen under `opts.out`. Same seed and options, same bytes. */
export async function synthesizeScreen(opts: SynthOptions, onProgress?: ProgressCallback): Promise<SynthResult> {
  const started = performance.now();
  const o = resolveOptions(opts);
  const out = path.resolve(o.out);
  const imagesRoot = path.join(out, 'images');
  const treatments = synthTreatments(o.seed, o.doses, o.minorityMoa);
  const moaDefs = o.minorityMoa ? [...MOA_TABLE, ...MINORITY_MOA_TABLE] : MOA_TABLE;
  const plates = planPlates(o, treatments);
  const fieldsTotal = plates.reduce((n, p) => n + p.wells.length * o.sites, 0);
  const renderer = new FieldRenderer(o.width, o.height, normalTable(Rng.from(o.seed, 'normals')));
  const progress = new Progress('synth', fieldsTotal, onProgress, process.stderr, 'fields');
  const rows: Array<Record<string, unknown>> = [];
  const pending = new Set<Promise<void>>();
  const imageNumbers = new Map<number, number>();
  const nuclei: Array<Record<string, unknown>> = [];

  for (const plate of plates) {
    const folder = `${plate.batch}/${plate.plate}`;
    await mkdir(path.join(imagesRoot, folder), { recursive: true });
    const optics: StainOptics[] = plate.optics.map((s) => ({
      gain: s.gain,
      illumination: illuminationField(o.width, o.height, s.centre[0], s.centre[1], s.falloff),
    }));
    const week = plate.index + 1;
    for (const { well, treatment } of plate.wells) {
      for (let site = 1; site <= o.sites; site++) {
        const rng = Rng.from(o.seed, 'field', plate.plate, well, site);
        const ids = Rng.from(o.seed, 'file-id', plate.plate, well, site);
        const channels = renderer.render(rng, treatment.phenotype, optics);
        for (const n of renderer.nuclei) {
          if (n.x < 0 || n.y < 0 || n.x >= o.width || n.y >= o.height) continue;
          nuclei.push({
            Metadata_Plate: plate.plate, Metadata_Well: well, Metadata_Site: site,
            Location_Center_X: n.x.toFixed(2), Location_Center_Y: n.y.toFixed(2),
            SemiMajorAxis: n.a.toFixed(2), SemiMinorAxis: n.b.toFixed(2), Angle: n.angle.toFixed(4), State: n.state,
          });
        }
        const names = STAINS.map((s) => `${plate.batch}_${plate.date}_${well}_s${site}_${s.tag}${ids.uuid()}.tif`);
        for (let c = 0; c < STAINS.length; c++) {
          const job = writeTiff(path.join(imagesRoot, folder, names[c] as string), channels[c] as Uint16Array, o.width, o.height);
          pending.add(job);
          void job.then(() => pending.delete(job), () => undefined);
        }
        const imageNumber = (imageNumbers.get(week) ?? 0) + 1;
        imageNumbers.set(week, imageNumber);
        rows.push({
          TableNumber: week,
          ImageNumber: imageNumber,
          Image_FileName_DAPI: names[0], Image_PathName_DAPI: folder,
          Image_FileName_Tubulin: names[1], Image_PathName_Tubulin: folder,
          Image_FileName_Actin: names[2], Image_PathName_Actin: folder,
          Image_Metadata_Plate_DAPI: plate.plate,
          Image_Metadata_Well_DAPI: well,
          Replicate: plate.index + 1,
          Image_Metadata_Compound: treatment.compound,
          Image_Metadata_Concentration: treatment.concentration.toFixed(6),
        });
        // bounded memory: let the encoder catch up when it falls behind the renderer
        if (pending.size >= 12) await Promise.race(pending);
        progress.tick();
      }
    }
  }
  await Promise.all(pending);

  const imageTable = path.join(out, 'synth_image.csv');
  const moaTable = path.join(out, 'synth_moa.csv');
  const manifest = path.join(out, 'synth.json');
  const nucleiTable = path.join(out, 'synth_nuclei.csv');
  await writeCsvRecords(imageTable, IMAGE_TABLE_COLUMNS, rows);
  await writeCsvRecords(nucleiTable, NUCLEI_TABLE_COLUMNS, nuclei);
  await writeCsvRecords(moaTable, MOA_TABLE_COLUMNS, [
    ...treatments.map((t) => ({ compound: t.compound, concentration: t.concentration.toFixed(6), moa: t.moa })),
    { compound: CONTROL_COMPOUND, concentration: (0).toFixed(6), moa: CONTROL_COMPOUND },
  ]);
  await writeFile(manifest, `${JSON.stringify({
    generator: 'morphoprof synth',
    note: 'Synthetic screen for plumbing and speed tests; no claim about biology.',
    options: { seed: o.seed, preset: o.preset, plates: o.plates, width: o.width, height: o.height, sites: o.sites, controls: o.controls, doses: o.doses, ...(o.minorityMoa ? { minorityMoa: true } : {}) },
    stains: STAINS,
    dmso: DMSO_PHENOTYPE,
    moas: moaDefs,
    treatments: treatments.map((t) => ({ compound: t.compound, concentration: t.concentration, moa: t.moa, strength: t.strength, phenotype: t.phenotype })),
    plates: plates.map((p) => ({
      plate: p.plate, batch: p.batch, replicate: p.index + 1,
      optics: Object.fromEntries(STAINS.map((s, i) => [s.channel, p.optics[i]])),
      wells: Object.fromEntries(p.wells.map((w) => [w.well, { compound: w.treatment.compound, concentration: w.treatment.concentration }])),
    })),
  }, null, 2)}\n`);
  progress.finish();
  const compounds = new Set(treatments.map((t) => t.compound));
  return {
    imageTable, moaTable, imagesRoot, manifest, nucleiTable,
    plates: plates.length,
    wells: plates.reduce((n, p) => n + p.wells.length, 0),
    fields: rows.length,
    images: rows.length * STAINS.length,
    compounds: compounds.size,
    treatments: treatments.length,
    moas: moaDefs.length,
    seconds: (performance.now() - started) / 1000,
  };
}
