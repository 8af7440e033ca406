/**
 * The profiling stage, pycytominer's verbs in order: aggregate fields -> wells (DuckDB GROUP BY
 * over the file: memory bounded by the number of wells, not fields), annotate (platemap, MOA),
 * drop features with missing values, normalize, select features, optionally aggregate wells ->
 * treatments. What stays in JavaScript memory is the aggregated well table (wells x features
 * float32, e.g. 3,300 x 2,048 = 27 MB for BBBC021): normalization and feature selection need
 * every well of a plate (or of the screen) at once.
 */
import { invalidParameter, MorphoprofError } from '../errors.js';
import { aggregateTable } from '../table/aggregate.js';
import { readProfiles } from '../table/read.js';
import type { ProfileTable } from '../table/types.js';
import { aggregateProfiles, TREATMENT_COLUMNS, treatmentProfiles, type AggregateMethod } from './aggregate.js';
import { annotateMoa, annotateProfiles, defaultWarn } from './annotate.js';
import { normalizeProfiles, normalizeSteps, type NormalizeBy, type NormalizeFit, type NormalizeOptions } from './normalize.js';
import { dropFeatures, naFeatures, selectFeatures, type FeatureSelection } from './select.js';

export type ProfileLevel = 'well' | 'treatment';
export const WELL_COLUMNS = ['Metadata_Plate', 'Metadata_Well'] as const;

export interface BuildProfilesOptions {
  /** Aggregation of fields -> wells and wells -> treatments (default mean). */
  aggregate?: AggregateMethod;
  /** Output level (default well). */
  level?: ProfileLevel;
  /** Normalization, one method or a list applied in order (default none). */
  normalize?: NormalizeOptions['method'];
  fit?: NormalizeFit;
  by?: NormalizeBy;
  controlCompound?: string;
  sphereLambda?: number;
  /** Feature selection operations, in order (default none). */
  featureSelect?: FeatureSelection[];
  corrThreshold?: number;
  /** Platemap joined on plate and well when given. */
  metadata?: string;
  /** MOA table joined on compound and concentration when given. */
  moa?: string;
  warn?: (message: string) => void;
}

export interface BuildProfilesSummary {
  inputRows: number | null;
  wells: number;
  rows: number;
  features: number;
  droppedFeatures: { missing: string[]; variance: string[]; correlation: string[]; na: string[] };
}

export interface BuiltProfiles {
  table: ProfileTable;
  summary: BuildProfilesSummary;
}

const hasColumns = (columns: readonly string[], wanted: readonly string[]): boolean => wanted.every((c) => columns.includes(c));

/**
 * Fields -> wells. A file with plate and well columns is aggregated in DuckDB; a table without
 * them is taken as it is (each row one unit). Two treatments in one well is an error naming it.
 * Also says whether the input had a `Metadata_Site` column (else repeated wells are duplicates).
 */
export async function wellProfiles(input: string | ProfileTable, method: AggregateMethod = 'mean'): Promise<{ table: ProfileTable; hasSites: boolean }> {
  const options = { by: [...WELL_COLUMNS], method, collect: ['Metadata_Batch'], requireConstant: [...TREATMENT_COLUMNS] };
  if (typeof input !== 'string') {
    const hasSites = input.metadataColumns.includes('Metadata_Site');
    return { table: hasColumns(input.metadataColumns, WELL_COLUMNS) ? aggregateProfiles(input, options) : input, hasSites };
  }
  try {
    const { inputMetadataColumns, ...table } = await aggregateTable(input, options);
    return { table, hasSites: inputMetadataColumns.includes('Metadata_Site') };
  } catch (err) {
    if (!(err instanceof MorphoprofError && err.code === 'MISSING_COLUMN')) throw err;
    const table = await readProfiles(input);
    return { table, hasSites: table.metadataColumns.includes('Metadata_Site') };
  }
}

/** The whole profiling stage; see the module comment for the order of the steps. */
export async function buildProfilesWithSummary(input: string | ProfileTable, options: BuildProfilesOptions = {}): Promise<BuiltProfiles> {
  const warn = options.warn ?? defaultWarn;
  const level = options.level ?? 'well';
  if (level !== 'well' && level !== 'treatment') throw invalidParameter('level', 'well or treatment', level);
  const steps = normalizeSteps(options.normalize ?? 'none');
  const inputRows = typeof input === 'string' ? null : input.features.length;

  const wellLevel = await wellProfiles(input, options.aggregate ?? 'mean');
  let table = wellLevel.table;
  if (!hasColumns(table.metadataColumns, WELL_COLUMNS)) warn(`no ${WELL_COLUMNS.join(' and ')} columns: each row is taken as one well`);
  const duplicated = table.metadata.filter((m) => Number(m.Metadata_Count ?? 1) > 1);
  if (!wellLevel.hasSites && duplicated.length > 0) {
    // Without a site column the rows are meant to be one per well: repeated wells are averaged.
    const m = duplicated[0]!;
    warn(`${duplicated.length} well(s) appear on more than one row and were averaged (e.g. ${String(m.Metadata_Plate)}/${String(m.Metadata_Well)} x ${String(m.Metadata_Count)}); add Metadata_Site if the rows are fields`);
  }
  if (options.metadata !== undefined) table = await annotateProfiles(table, { metadata: options.metadata, moa: options.moa, warn });
  else if (options.moa !== undefined) table = await annotateMoa(table, options.moa);
  const wells = table.features.length;

  const missing = naFeatures(table);
  if (missing.length > 0) {
    warn(`${missing.length} feature(s) have missing or non-finite values and were dropped: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', ...' : ''}`);
    table = dropFeatures(table, missing);
  }
  if (steps.length > 0) {
    table = normalizeProfiles(table, {
      method: options.normalize!,
      fit: options.fit,
      by: options.by,
      controlCompound: options.controlCompound,
      sphereLambda: options.sphereLambda,
      warn,
    });
  }
  const selected = selectFeatures(table, { operations: options.featureSelect ?? [], corrThreshold: options.corrThreshold });
  table = selected.table;
  if (level === 'treatment') table = treatmentProfiles(table, options.aggregate ?? 'mean');
  return {
    table,
    summary: { inputRows, wells, rows: table.features.length, features: table.featureColumns.length, droppedFeatures: { missing, ...selected.dropped } },
  };
}

/** Library entry point: a profile table (or file) -> normalized, feature-selected profiles. */
export async function buildProfiles(input: string | ProfileTable, options: BuildProfilesOptions = {}): Promise<ProfileTable> {
  return (await buildProfilesWithSummary(input, options)).table;
}
