/**
 * pycytominer's `annotate`: join a platemap (compound, concentration, batch per plate and well) and
 * an MOA table (per compound and concentration) to a per-well or per-field profile table.
 */
import { MorphoprofError } from '../errors.js';
import { batchFromPath, normalizeWell, parseConcentration } from '../screen/load.js';
import { readTable } from '../table/read.js';
import type { MetadataValue, ProfileTable, RecordTable } from '../table/types.js';
import { requireMetadataColumns } from './aggregate.js';

export interface AnnotateOptions {
  /** Platemap: BBBC021's image table (`Image_Metadata_*_DAPI`, ...) or a LoadData-style table (`Metadata_Plate`, `Metadata_Well`, ...). */
  metadata: string | RecordTable;
  /** MOA table `compound,concentration,moa` (concentrations compared numerically). */
  moa?: string | RecordTable;
  /** Where warnings go (rows dropped, ...); default: stderr. */
  warn?: (message: string) => void;
}

export const defaultWarn = (message: string): void => console.warn(`morphoprof: warning: ${message}`);

/** A well as `A01` (`b2`, `B002` -> `B02`); text that is not a well is kept as it is. */
function wellOf(well: MetadataValue): string {
  const text = String(well ?? '').trim();
  return normalizeWell(text) ?? text;
}

/** Key of a treatment with the concentration compared as a number (6 significant digits). */
export function concentrationKey(compound: MetadataValue, concentration: MetadataValue): string {
  const c = parseConcentration(String(concentration ?? ''));
  return `${String(compound)}@${c === null ? String(concentration) : String(Number(c.toPrecision(6)))}`;
}

const wellKey = (plate: MetadataValue, well: MetadataValue): string => `${String(plate)}/${wellOf(well)}`;

async function load(table: string | RecordTable): Promise<RecordTable> {
  return typeof table === 'string' ? readTable(table) : table;
}

interface PlatemapEntry {
  compound: MetadataValue;
  concentration: MetadataValue;
  batch: MetadataValue;
  moa: MetadataValue;
  row: number;
}

const IMAGE_TABLE = {
  plate: 'Image_Metadata_Plate_DAPI',
  well: 'Image_Metadata_Well_DAPI',
  compound: 'Image_Metadata_Compound',
  concentration: 'Image_Metadata_Concentration',
  path: 'Image_PathName_DAPI',
};
const LOADDATA = {
  plate: 'Metadata_Plate',
  well: 'Metadata_Well',
  compound: 'Metadata_Compound',
  concentration: 'Metadata_Concentration',
  batch: 'Metadata_Batch',
  moa: 'Metadata_MOA',
};

/** Per (plate, well): compound, concentration, batch and MOA, from either platemap layout. */
function platemapOf(table: RecordTable): Map<string, PlatemapEntry> {
  const has = (c: string): boolean => table.columns.includes(c);
  const image = has(IMAGE_TABLE.plate);
  const cols = image ? IMAGE_TABLE : LOADDATA;
  const required = [cols.plate, cols.well, cols.compound, cols.concentration];
  const missing = required.filter((c) => !has(c));
  if (missing.length > 0) {
    throw new MorphoprofError(
      'MISSING_COLUMN',
      `Platemap ${table.path} has no ${missing.join(', ')} column${missing.length > 1 ? 's' : ''}`,
      `give BBBC021's image table (${Object.values(IMAGE_TABLE).join(', ')}) or a table with ${Object.values(LOADDATA).join(', ')} (the last two optional)`,
    );
  }
  const map = new Map<string, PlatemapEntry>();
  table.rows.forEach((row, i) => {
    const entry: PlatemapEntry = {
      compound: row[cols.compound] ?? null,
      concentration: row[cols.concentration] ?? null,
      batch: image ? batchFromPath(String(row[IMAGE_TABLE.path] ?? ''), String(row[IMAGE_TABLE.plate] ?? '')) : (row[LOADDATA.batch] ?? null),
      moa: image ? null : (row[LOADDATA.moa] ?? null),
      row: i + 1,
    };
    const key = wellKey(row[cols.plate] ?? null, row[cols.well] ?? null);
    const seen = map.get(key);
    if (!seen) map.set(key, entry);
    else if (concentrationKey(seen.compound, seen.concentration) !== concentrationKey(entry.compound, entry.concentration)) {
      throw new MorphoprofError(
        'BAD_TABLE',
        `Platemap ${table.path} gives well ${key} two treatments: ${concentrationKey(seen.compound, seen.concentration)} (data row ${seen.row}) and ${concentrationKey(entry.compound, entry.concentration)} (data row ${entry.row})`,
        'fix the platemap so each plate and well has one compound and concentration',
      );
    }
  });
  return map;
}

/** compound@concentration -> MOA, from a `compound,concentration,moa` table. */
function moaMapOf(table: RecordTable): Map<string, MetadataValue> {
  const pick = (...names: string[]): string | undefined => table.columns.find((c) => names.includes(c.toLowerCase()));
  const compound = pick('compound', 'metadata_compound');
  const concentration = pick('concentration', 'metadata_concentration');
  const moa = pick('moa', 'metadata_moa');
  if (!compound || !concentration || !moa) {
    const missing = [!compound && 'compound', !concentration && 'concentration', !moa && 'moa'].filter(Boolean);
    throw new MorphoprofError('MISSING_COLUMN', `MOA table ${table.path} has no ${missing.join(', ')} column`, 'give an MOA table with columns compound,concentration,moa (like BBBC021_v1_moa.csv)');
  }
  return new Map(table.rows.map((row) => [concentrationKey(row[compound] ?? null, row[concentration] ?? null), row[moa] ?? null]));
}

/** `table` with `values` as (new or replaced) metadata columns, kept in order. */
function withColumns(table: ProfileTable, rows: number[], values: Array<Record<string, MetadataValue>>, added: string[]): ProfileTable {
  // Replaced columns go, also in another capitalisation (`Metadata_moa` when adding `Metadata_MOA`).
  const lower = new Set(added.map((c) => c.toLowerCase()));
  const replaced = table.metadataColumns.filter((c) => lower.has(c.toLowerCase()) && !added.includes(c));
  const keep = table.metadataColumns.filter((c) => !lower.has(c.toLowerCase()));
  return {
    metadataColumns: [...keep, ...added],
    metadata: rows.map((r, i) => {
      const row = { ...table.metadata[r], ...values[i] };
      for (const c of replaced) delete row[c];
      return row;
    }),
    featureColumns: table.featureColumns,
    features: rows.map((r) => table.features[r]!),
  };
}

/**
 * Adds `Metadata_MOA` from an MOA table, joined on (Metadata_Compound, Metadata_Concentration).
 * Treatments the table does not list get null (evaluation excludes and names them).
 */
export async function annotateMoa(table: ProfileTable, moa: string | RecordTable): Promise<ProfileTable> {
  requireMetadataColumns(table, ['Metadata_Compound', 'Metadata_Concentration'], 'The profile table', 'annotate it with a platemap first (--metadata)');
  const moas = moaMapOf(await load(moa));
  const values = table.metadata.map((row) => ({
    Metadata_MOA: moas.get(concentrationKey(row.Metadata_Compound ?? null, row.Metadata_Concentration ?? null)) ?? null,
  }));
  return withColumns(table, table.metadata.map((_, i) => i), values, ['Metadata_MOA']);
}

/**
 * Joins a platemap on (Metadata_Plate, Metadata_Well) (wells compared as `A01`), adding
 * Metadata_Compound, Metadata_Concentration, Metadata_Batch (when the platemap has it) and
 * Metadata_MOA (from `moa`, else from the platemap when it has one). Rows the platemap lacks are
 * dropped with a warning.
 */
export async function annotateProfiles(table: ProfileTable, options: AnnotateOptions): Promise<ProfileTable> {
  requireMetadataColumns(table, ['Metadata_Plate', 'Metadata_Well'], 'The profile table', 'the platemap is joined on plate and well: add Metadata_Plate and Metadata_Well');
  const platemapTable = await load(options.metadata);
  const platemap = platemapOf(platemapTable);
  const rows: number[] = [];
  const values: Array<Record<string, MetadataValue>> = [];
  const unmatched: string[] = [];
  table.metadata.forEach((row, i) => {
    const key = wellKey(row.Metadata_Plate ?? null, row.Metadata_Well ?? null);
    const entry = platemap.get(key);
    if (!entry) {
      unmatched.push(key);
      return;
    }
    rows.push(i);
    values.push({
      Metadata_Well: wellOf(row.Metadata_Well ?? null),
      Metadata_Compound: entry.compound,
      Metadata_Concentration: entry.concentration,
      Metadata_Batch: entry.batch,
      Metadata_MOA: entry.moa,
    });
  });
  if (unmatched.length > 0) {
    (options.warn ?? defaultWarn)(
      `${unmatched.length} of ${table.metadata.length} profile rows have no plate and well in ${platemapTable.path} and were dropped (e.g. ${unmatched[0]})`,
    );
  }
  const hasBatch = values.some((v) => v.Metadata_Batch !== null);
  const hasMoa = values.some((v) => v.Metadata_MOA !== null);
  const added = ['Metadata_Compound', 'Metadata_Concentration', ...(hasBatch ? ['Metadata_Batch'] : []), ...(hasMoa ? ['Metadata_MOA'] : [])];
  for (const v of values) {
    if (!hasBatch) delete v.Metadata_Batch;
    if (!hasMoa) delete v.Metadata_MOA;
  }
  const annotated = withColumns(table, rows, values, added);
  return options.moa === undefined ? annotated : annotateMoa(annotated, options.moa);
}
