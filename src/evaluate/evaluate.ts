/** The evaluation stage: profiles (any level) -> annotated treatment profiles -> NSC/NSCB/mAP -> files. */
import { MorphoprofError } from '../errors.js';
import { annotateMoa, annotateProfiles, defaultWarn } from '../profiles/annotate.js';
import { TREATMENT_COLUMNS, treatmentProfiles } from '../profiles/aggregate.js';
import { dropFeatures, naFeatures } from '../profiles/select.js';
import { readProfiles } from '../table/read.js';
import type { ProfileTable } from '../table/types.js';
import { evaluateNsc, findColumn, type NscOptions, type NscResult } from './nsc.js';
import { metricsOf, writeEvaluation, type EvaluationFiles, type Metrics } from './write.js';

export interface EvaluateOptions extends NscOptions {
  /** A profile table (field, well or treatment level) or the path of one. */
  profiles: string | ProfileTable;
  /** Output folder for metrics.json, confusion_matrix.csv, neighbors.csv, per_moa.csv, treatment_profiles.parquet. */
  out: string;
  /** Platemap, needed when the profiles have no Metadata_Compound. */
  metadata?: string;
  /** MOA table `compound,concentration,moa`, joined when given. */
  moa?: string;
  warn?: (message: string) => void;
}

export interface Evaluation {
  metrics: Metrics;
  files: EvaluationFiles;
  result: NscResult;
  /** The evaluated treatment profiles (also written as treatment_profiles.parquet). */
  treatments: ProfileTable;
}

/** One row per treatment already? Then no aggregation (and no copy) is needed. */
function isTreatmentLevel(table: ProfileTable): boolean {
  const [compound, concentration] = TREATMENT_COLUMNS.map((c) => findColumn(table, c));
  if (!compound || !concentration) return false;
  const keys = new Set(table.metadata.map((m) => `${String(m[compound])}@${String(m[concentration])}`));
  return keys.size === table.metadata.length;
}

/**
 * Reads and annotates the profiles, drops features with missing values (warning, naming them),
 * averages rows per treatment (a treatment's batches are kept, see `treatmentProfiles`), evaluates
 * and writes the files.
 */
export async function evaluate(options: EvaluateOptions): Promise<Evaluation> {
  const warn = options.warn ?? defaultWarn;
  const name = typeof options.profiles === 'string' ? options.profiles : 'The profile table';
  let table = typeof options.profiles === 'string' ? await readProfiles(options.profiles) : options.profiles;
  if (options.metadata !== undefined) {
    // A platemap also brings the batch (for NSCB) to tables that already name their compounds.
    table = await annotateProfiles(table, { metadata: options.metadata, moa: options.moa, warn });
  } else if (!findColumn(table, 'Metadata_Compound')) {
    throw new MorphoprofError(
      'MISSING_COLUMN',
      `${name} has no Metadata_Compound column`,
      'give the platemap with --metadata <image.csv> (e.g. BBBC021_v1_image.csv) and the MOAs with --moa <moa.csv>',
    );
  } else if (options.moa !== undefined) {
    table = await annotateMoa(table, options.moa);
  }
  if (!findColumn(table, 'Metadata_MOA')) {
    throw new MorphoprofError('MISSING_COLUMN', `${name} has no Metadata_MOA column`, 'give the MOA table with --moa <moa.csv> (e.g. BBBC021_v1_moa.csv)');
  }
  const { result, treatments } = await evaluateTable(table, { ...options, name, warn });
  const files = await writeEvaluation(options.out, result, treatments);
  return { metrics: metricsOf(result), files, result, treatments };
}

/**
 * The evaluation of an annotated profile table in memory (no files): drops features with missing
 * values (warning), averages rows per treatment, runs NSC/NSCB/mAP. `evaluate` reads and writes
 * around it; the browser page calls it on its features.
 */
export async function evaluateTable(
  table: ProfileTable,
  options: NscOptions & { name?: string; warn?: (message: string) => void } = {},
): Promise<{ result: NscResult; treatments: ProfileTable }> {
  const warn = options.warn ?? defaultWarn;
  const name = options.name ?? 'The profile table';
  const missing = naFeatures(table);
  if (missing.length > 0) {
    warn(`${missing.length} feature(s) have missing or non-finite values and were dropped before evaluation: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', ...' : ''}`);
    table = dropFeatures(table, missing);
  }
  if (table.featureColumns.length === 0) {
    throw new MorphoprofError('NOTHING_VALID', `${name} has no feature column left to evaluate`, 'check that the table has numeric feature columns without missing values');
  }
  const treatments = isTreatmentLevel(table) ? table : treatmentProfiles(table);
  const result = await evaluateNsc(treatments, options);
  return { result, treatments };
}
