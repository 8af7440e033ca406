/** The evaluation stage: profiles (any level) -> annotated treatment profiles -> NSC -> files. */
import { MorphoprofError } from '../errors.js';
import { annotateMoa, annotateProfiles } from '../profiles/annotate.js';
import { treatmentProfiles } from '../profiles/aggregate.js';
import { readProfiles } from '../table/read.js';
import type { ProfileTable } from '../table/types.js';
import { evaluateNsc, findColumn, type NscResult } from './nsc.js';
import { metricsOf, writeEvaluation, type EvaluationFiles, type Metrics } from './write.js';

export interface EvaluateOptions {
  /** A profile table (field, well or treatment level) or the path of one. */
  profiles: string | ProfileTable;
  /** Output folder for metrics.json, confusion_matrix.csv, neighbors.csv. */
  out: string;
  /** Platemap, needed when the profiles have no Metadata_Compound. */
  metadata?: string;
  /** MOA table `compound,concentration,moa`, joined when given. */
  moa?: string;
  controlCompound?: string;
  warn?: (message: string) => void;
}

export interface Evaluation {
  metrics: Metrics;
  files: EvaluationFiles;
  result: NscResult;
}

export async function evaluate(options: EvaluateOptions): Promise<Evaluation> {
  const name = typeof options.profiles === 'string' ? options.profiles : 'The profile table';
  let table = typeof options.profiles === 'string' ? await readProfiles(options.profiles) : options.profiles;
  if (!findColumn(table, 'Metadata_Compound')) {
    if (options.metadata === undefined) {
      throw new MorphoprofError(
        'MISSING_COLUMN',
        `${name} has no Metadata_Compound column`,
        'give the platemap with --metadata <image.csv> (e.g. BBBC021_v1_image.csv) and the MOAs with --moa <moa.csv>',
      );
    }
    table = await annotateProfiles(table, { metadata: options.metadata, moa: options.moa, warn: options.warn });
  } else if (options.moa !== undefined) {
    table = await annotateMoa(table, options.moa);
  }
  if (!findColumn(table, 'Metadata_MOA')) {
    throw new MorphoprofError('MISSING_COLUMN', `${name} has no Metadata_MOA column`, 'give the MOA table with --moa <moa.csv> (e.g. BBBC021_v1_moa.csv)');
  }
  const result = evaluateNsc(treatmentProfiles(table), { controlCompound: options.controlCompound });
  const files = await writeEvaluation(options.out, result);
  return { metrics: metricsOf(result), files, result };
}
