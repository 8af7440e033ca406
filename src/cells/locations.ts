/**
 * A user's nucleus centres per field (`--locations`): the table CellProfiler's Nuclei export (or
 * DeepProfiler's per-site location files, concatenated) gives, one row per nucleus with
 * `Metadata_Plate`, `Metadata_Well`, `Metadata_Site` and `Nuclei_Location_Center_X/Y` (also
 * accepted: `Location_Center_X/Y`, `Image_Metadata_*`). CSV, CSV.gz or Parquet.
 * Rows that cannot be used (a field not in the screen, a centre that is not a number) are
 * returned as errors naming the row; a table without the needed columns is refused up front.
 */
import path from 'node:path';
import { MorphoprofError } from '../errors.js';
import type { FieldError } from '../embed/field-errors.js';
import { normalizeWell } from '../screen/load.js';
import { fieldKey, type Screen } from '../screen/types.js';
import { readTable, type MetadataValue } from '../table/index.js';
import type { CellLocation } from './crops.js';

const CANDIDATES = {
  plate: ['Metadata_Plate', 'Image_Metadata_Plate', 'Plate'],
  well: ['Metadata_Well', 'Image_Metadata_Well', 'Well'],
  site: ['Metadata_Site', 'Image_Metadata_Site', 'Site'],
  x: ['Nuclei_Location_Center_X', 'Location_Center_X', 'Nuclei_AreaShape_Center_X'],
  y: ['Nuclei_Location_Center_Y', 'Location_Center_Y', 'Nuclei_AreaShape_Center_Y'],
  object: ['Nuclei_Number_Object_Number', 'ObjectNumber', 'Metadata_ObjectNumber'],
} as const;

export interface LocationTable {
  file: string;
  /** field key -> its cells, in table order (object number from the table, else 1..n) */
  byField: Map<string, CellLocation[]>;
  errors: FieldError[];
  rows: number;
}

function pick(columns: readonly string[], names: readonly string[]): string | undefined {
  const lower = new Map(columns.map((c) => [c.toLowerCase(), c]));
  for (const n of names) {
    const c = lower.get(n.toLowerCase());
    if (c) return c;
  }
  return undefined;
}

function rowError(file: string, row: number, plate: MetadataValue, well: MetadataValue, site: MetadataValue, reason: string): FieldError {
  return { plate: String(plate ?? ''), well: String(well ?? ''), site: typeof site === 'number' ? site : site == null ? null : Number(site), channel: null, file, row, stage: 'metadata', reason };
}

/** Read a locations table and match its rows to the screen's fields. */
export async function readLocations(file: string, screen: Screen): Promise<LocationTable> {
  const abs = path.resolve(file);
  const table = await readTable(abs);
  const cols = Object.fromEntries(Object.entries(CANDIDATES).map(([k, names]) => [k, pick(table.columns, names)])) as Record<keyof typeof CANDIDATES, string | undefined>;
  const missing = (['plate', 'well', 'site', 'x', 'y'] as const).filter((k) => !cols[k]);
  if (missing.length > 0)
    throw new MorphoprofError(
      'MISSING_COLUMN',
      `locations table ${abs} lacks the column(s) ${missing.map((k) => CANDIDATES[k][0]).join(', ')} (it has: ${table.columns.slice(0, 12).join(', ')}${table.columns.length > 12 ? ', ...' : ''})`,
      'Give one row per nucleus with Metadata_Plate, Metadata_Well, Metadata_Site, Nuclei_Location_Center_X and Nuclei_Location_Center_Y (CellProfiler\'s Nuclei table)',
    );
  const known = new Set(screen.fields.map(fieldKey));
  const byField = new Map<string, CellLocation[]>();
  const errors: FieldError[] = [];
  const unknown = new Map<string, number>();
  table.rows.forEach((r, i) => {
    const row = i + 1;
    const plate = r[cols.plate!];
    const rawWell = r[cols.well!];
    const site = Number(r[cols.site!]);
    const well = normalizeWell(String(rawWell ?? ''));
    const x = Number(r[cols.x!]);
    const y = Number(r[cols.y!]);
    const bad = (reason: string) => errors.push(rowError(abs, row, plate, rawWell, r[cols.site!], reason));
    if (plate == null || well === null || !Number.isInteger(site)) return bad(`row ${row} of ${abs}: plate ${plate}, well ${rawWell}, site ${r[cols.site!]} is not a field (well like A01, integer site)`);
    if (r[cols.x!] == null || r[cols.y!] == null || !Number.isFinite(x) || !Number.isFinite(y))
      return bad(`row ${row} of ${abs}: nucleus centre (${r[cols.x!]}, ${r[cols.y!]}) in ${cols.x}/${cols.y} is not a pair of numbers`);
    const key = fieldKey({ plate: String(plate), well, site });
    if (!known.has(key)) {
      // one error per unknown field, naming its first row and how many rows it has
      const n = (unknown.get(key) ?? 0) + 1;
      unknown.set(key, n);
      if (n === 1) bad(`row ${row} of ${abs}: field ${key} is not in the screen's image table`);
      return;
    }
    const list = byField.get(key) ?? [];
    const object = cols.object !== undefined && Number.isInteger(Number(r[cols.object])) ? Number(r[cols.object]) : list.length + 1;
    list.push({ object, x, y });
    byField.set(key, list);
  });
  for (const e of errors) {
    const n = unknown.get(`${e.plate}/${normalizeWell(e.well) ?? e.well}/s${e.site}`);
    if (n && n > 1) e.reason += ` (${n} rows name it)`;
  }
  return { file: abs, byField, errors, rows: table.rows.length };
}
