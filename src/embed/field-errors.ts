import type { Problem } from '../screen/load.js';
import { writeCsvRecords } from '../util/csv.js';

/** One skipped field (or image) of a run, with the reason. Written to `<out>/errors.csv`. */
export interface FieldError {
  plate: string;
  well: string;
  site: number | null;
  channel: string | null;
  file: string | null;
  /** 1-based data row of the metadata table, when known */
  row: number | null;
  stage: 'metadata' | 'files' | 'read' | 'embed' | 'segment';
  reason: string;
}

export const ERROR_COLUMNS = [
  'Metadata_Plate',
  'Metadata_Well',
  'Metadata_Site',
  'Channel',
  'File',
  'Row',
  'Stage',
  'Reason',
] as const;

/** Errors as rows of errors.csv (ERROR_COLUMNS). */
export function errorRecords(errors: readonly FieldError[]): Array<Record<(typeof ERROR_COLUMNS)[number], string | number | null>> {
  return errors.map((e) => ({
    Metadata_Plate: e.plate,
    Metadata_Well: e.well,
    Metadata_Site: e.site,
    Channel: e.channel,
    File: e.file,
    Row: e.row,
    Stage: e.stage,
    Reason: e.reason,
  }));
}

export async function writeErrorTable(file: string, errors: readonly FieldError[]): Promise<void> {
  await writeCsvRecords(file, ERROR_COLUMNS, errorRecords(errors));
}

/** Problems found while reading the metadata table, as rows of errors.csv. */
export function metadataErrors(problems: readonly Problem[]): FieldError[] {
  return problems.map((p) => ({ plate: '', well: '', site: null, channel: p.column ?? null, file: p.file ?? null, row: p.row ?? null, stage: 'metadata', reason: p.message }));
}
