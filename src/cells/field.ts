/**
 * One field through the cells stage: find nuclei (and cells, cytoplasm), measure them, and
 * summarize the objects into one row of classical features. Portable: planes in, numbers out.
 */
import { MorphoprofError } from '../errors.js';
import { measureObjects } from './measure.js';
import { measureNested } from './measure-nested.js';
import { defaultNucleiOptions, segmentCells, segmentNuclei } from './segment.js';
import type { CellsOptions, LabelImage, NucleiOptions, ObjectMeasurements, ObjectName, Plane } from './types.js';

export type CellAggregate = 'mean' | 'median';

/** Everything that decides a field's objects and classical features (recorded in the feature store). */
export interface CellSettings {
  /** Stain the nuclei are found on (BBBC021: DAPI). */
  nucleiChannel: string;
  /** Stain the cell bodies are grown on (BBBC021: Actin), or null for nuclei only. */
  cellChannel: string | null;
  nuclei: NucleiOptions;
  cells: Partial<CellsOptions>;
  /** Stains measured (intensity, texture) in every object. */
  measureChannels: string[];
  aggregate: CellAggregate;
  /** Illumination functions folder, or null. Applied before thresholding. */
  illum: string | null;
}

export interface FieldObjects {
  nuclei: LabelImage;
  cells: LabelImage | null;
  threshold: number;
}

export interface FieldMeasurements {
  objects: FieldObjects;
  /** per object kind: its measurements (rows = object numbers 1..count) */
  measured: Partial<Record<ObjectName, ObjectMeasurements>>;
}

/** Columns that say where an object is, not what it looks like: kept per cell, left out of profiles. */
export function isPositionColumn(column: string): boolean {
  return /^(Location_|AreaShape_BoundingBox|AreaShape_Center_|AreaShape_Orientation|Number_)/.test(column);
}

/** The default cell stain of a screen: a channel named like actin or a cell stain, else none. */
export function defaultCellChannel(channels: readonly string[], nucleiChannel: string): string | null {
  const others = channels.filter((c) => c !== nucleiChannel);
  return others.find((c) => /actin|phalloidin|cell|mask|membrane|agp/i.test(c)) ?? null;
}

/** The default nucleus stain of a screen: a channel named like a DNA stain, else the first. */
export function defaultNucleiChannel(channels: readonly string[]): string {
  return channels.find((c) => /^(dapi|dna|hoechst|nuclei|nucleus|h33342)/i.test(c)) ?? channels[0]!;
}

/** Check the settings against the screen's stains; the error names the option. */
export function checkCellSettings(s: CellSettings, channels: readonly string[]): void {
  const known = channels.join(', ');
  if (!channels.includes(s.nucleiChannel))
    throw new MorphoprofError('BAD_ARGUMENT', `--nuclei-channel ${s.nucleiChannel} is not a stain of this screen (${known})`, `give one of: ${known}`);
  if (s.cellChannel !== null && !channels.includes(s.cellChannel))
    throw new MorphoprofError('BAD_ARGUMENT', `--cell-channel ${s.cellChannel} is not a stain of this screen (${known})`, `give one of: ${known}`);
  for (const c of s.measureChannels)
    if (!channels.includes(c)) throw new MorphoprofError('BAD_ARGUMENT', `measured stain ${c} is not a stain of this screen (${known})`, `give some of: ${known}`);
  const [lo, hi] = s.nuclei.diameter;
  if (!(lo > 0 && hi >= lo))
    throw new MorphoprofError('BAD_ARGUMENT', `--diameter ${lo},${hi} is not a range of diameters in pixels`, 'e.g. --diameter 15,60 (min,max nucleus diameter in px)');
}

/** Settings as a user gives them: any subset; `diameter` is the nuclei's. */
export type CellSettingsInput = Partial<Omit<CellSettings, 'nuclei'>> & { nuclei?: Partial<NucleiOptions>; diameter?: [number, number] };

/** Default settings for a screen's stains. */
export function cellSettings(channels: readonly string[], given: CellSettingsInput = {}): CellSettings {
  const nucleiChannel = given.nucleiChannel ?? defaultNucleiChannel(channels);
  const s: CellSettings = {
    nucleiChannel,
    cellChannel: given.cellChannel === undefined ? defaultCellChannel(channels, nucleiChannel) : given.cellChannel,
    nuclei: { ...defaultNucleiOptions(given.diameter ?? given.nuclei?.diameter), ...given.nuclei, ...(given.diameter ? { diameter: given.diameter } : {}) },
    cells: given.cells ?? {},
    measureChannels: given.measureChannels ?? [...channels],
    aggregate: given.aggregate ?? 'mean',
    illum: given.illum ?? null,
  };
  checkCellSettings(s, channels);
  return s;
}

/** Find the objects of one field. `planes` holds at least the nuclei (and cell) stain. */
export function findObjects(planes: Record<string, Plane>, s: CellSettings): FieldObjects {
  const dna = planes[s.nucleiChannel];
  if (!dna) throw new MorphoprofError('BAD_ARGUMENT', `no image of the nuclei stain ${s.nucleiChannel}`);
  const nuclei = segmentNuclei(dna, s.nuclei);
  let cells: LabelImage | null = null;
  if (s.cellChannel !== null) {
    const plane = planes[s.cellChannel];
    if (!plane) throw new MorphoprofError('BAD_ARGUMENT', `no image of the cell stain ${s.cellChannel}`);
    cells = segmentCells(nuclei, plane, s.cells);
  }
  return { nuclei, cells, threshold: nuclei.threshold };
}

/** Find and measure the objects of one field: Nuclei, and Cells and Cytoplasm when cells are grown. */
export function measureField(planes: Record<string, Plane>, s: CellSettings): FieldMeasurements {
  const objects = findObjects(planes, s);
  const images: Record<string, Plane> = {};
  for (const c of s.measureChannels) images[c] = planes[c]!;
  if (!objects.cells) return { objects, measured: { Nuclei: measureObjects(objects.nuclei, images) } };
  // one pass for the three kinds (cytoplasm = cells minus nuclei), equal to measuring each alone
  return { objects, measured: measureNested(objects.nuclei, objects.cells, images) };
}

/** The object kinds a setting measures, in column order. */
export function objectKinds(s: Pick<CellSettings, 'cellChannel'>): ObjectName[] {
  return s.cellChannel === null ? ['Nuclei'] : ['Nuclei', 'Cells', 'Cytoplasm'];
}

/** Per-object column names of every kind, `<Object>_<measurement>`, found by measuring an empty field. */
export function objectColumns(s: CellSettings): Record<ObjectName, string[]> {
  const empty: LabelImage = { labels: new Int32Array(4), width: 2, height: 2, count: 0 };
  const images: Record<string, Plane> = {};
  for (const c of s.measureChannels) images[c] = { data: new Float32Array(4), width: 2, height: 2 };
  const cols = measureObjects(empty, images).columns;
  const out = {} as Record<ObjectName, string[]>;
  for (const kind of objectKinds(s)) out[kind] = cols.map((c) => `${kind}_${c}`);
  return out;
}

/** The profile's feature columns: per-field count, then each kind's non-position measurements. */
export function classicalFeatureColumns(s: CellSettings): { columns: string[]; sources: Array<{ kind: ObjectName; index: number }> } {
  const perKind = objectColumns(s);
  const columns = ['Image_Count_Nuclei'];
  const sources: Array<{ kind: ObjectName; index: number }> = [];
  for (const kind of objectKinds(s)) {
    perKind[kind].forEach((name, index) => {
      if (isPositionColumn(name.slice(kind.length + 1))) return;
      columns.push(name);
      sources.push({ kind, index });
    });
  }
  return { columns, sources };
}

function median(values: Float64Array): number {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}

/**
 * One row of a field's classical profile: the nucleus count, then the mean (or median) over its
 * objects of every measurement. Objects without pixels (a number the segmentation left empty)
 * are left out; a field without objects has no row (the caller records it).
 */
export function aggregateField(m: FieldMeasurements, s: CellSettings): Float32Array | null {
  const { columns, sources } = classicalFeatureColumns(s);
  const nuclei = m.measured.Nuclei!;
  const areaCol = nuclei.columns.indexOf('AreaShape_Area');
  const present: number[] = [];
  for (let k = 0; k < nuclei.count; k++) if (areaCol < 0 || nuclei.values[k * nuclei.columns.length + areaCol]! > 0) present.push(k);
  if (present.length === 0) return null;
  const row = new Float32Array(columns.length);
  row[0] = present.length;
  const buf = new Float64Array(present.length);
  sources.forEach(({ kind, index }, j) => {
    const t = m.measured[kind]!;
    const width = t.columns.length;
    let sum = 0;
    present.forEach((k, i) => {
      const v = t.values[k * width + index]!;
      buf[i] = Number.isFinite(v) ? v : 0;
      sum += buf[i]!;
    });
    row[j + 1] = s.aggregate === 'median' ? median(buf) : sum / present.length;
  });
  return row;
}
