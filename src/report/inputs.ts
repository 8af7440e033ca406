/**
 * Reads what a run (or evaluation) folder holds for the report. Only metrics.json is required;
 * every other input is optional, and one that is absent or unreadable becomes a note on the page
 * instead of failing the report.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { errorMessage, MorphoprofError } from '../errors.js';
import { treatmentProfiles } from '../profiles/aggregate.js';
import { readProfiles, readTable } from '../table/read.js';
import type { MetadataValue, ProfileTable } from '../table/types.js';

const count = z.number().int().nonnegative();
const accuracy = z.object({ accuracy: z.number().nullable(), correct: count, total: count });

const metricsSchema = z.looseObject({
  nsc: accuracy,
  similarity: z.string().optional(),
  control_compound: z.string().optional(),
  excluded: z
    .looseObject({ control: count.optional(), without_moa: count.optional(), without_moa_treatments: z.array(z.string()).optional() })
    .optional(),
  nscb: z.looseObject({ ...accuracy.shape, eligible: z.looseObject({}).nullable().optional() }).nullable().optional(),
  map: z
    .looseObject({ mean_average_precision: z.number().nullable(), p_value: z.number().nullable().optional(), permutations: count.optional() })
    .nullable()
    .optional(),
  per_moa: z.array(z.looseObject({ moa: z.string(), correct: count, total: count, accuracy: z.number().nullable().optional() })).optional(),
});

export type ReportMetrics = z.infer<typeof metricsSchema>;

export interface PerMoa {
  moa: string;
  correct: number;
  total: number;
  accuracy: number;
}

export interface Confusion {
  labels: string[];
  /** counts[i][j]: treatments of true MOA labels[i] whose nearest neighbour has MOA labels[j]. */
  counts: number[][];
}

export interface Records {
  file: string;
  columns: string[];
  rows: Array<Record<string, MetadataValue>>;
}

export interface RunInfo {
  settings: Record<string, unknown>;
  counts: Record<string, unknown>;
  timings: Record<string, unknown>;
  version: string | null;
}

export interface ReportInputs {
  dir: string;
  metrics: ReportMetrics;
  confusion: Confusion | null;
  neighbors: Records | null;
  perMoa: PerMoa[] | null;
  /** One profile per treatment, for the map. */
  treatments: ProfileTable | null;
  run: RunInfo | null;
  errors: Records | null;
  /** Inputs that were absent or could not be read, and what was done instead. */
  notes: string[];
}

export const RUN_FILES = {
  metrics: 'metrics.json',
  confusion: 'confusion_matrix.csv',
  neighbors: 'neighbors.csv',
  perMoa: 'per_moa.csv',
  treatments: 'treatment_profiles.parquet',
  features: 'features',
  run: 'run.json',
  errors: 'errors.csv',
} as const;

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new MorphoprofError('BAD_TABLE', `Could not read ${file}: ${errorMessage(cause)}`, 'check that it is the JSON file a run wrote', { cause });
  }
}

function readMetrics(dir: string): ReportMetrics {
  const file = path.join(dir, RUN_FILES.metrics);
  if (!existsSync(file)) {
    throw new MorphoprofError(
      'FILE_NOT_FOUND',
      `${file} not found: ${dir} is not a finished run or evaluation folder`,
      'give the --out folder of `morphoprof run`, `morphoprof demo` or `morphoprof evaluate`',
    );
  }
  const parsed = metricsSchema.safeParse(readJson(file));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new MorphoprofError('BAD_TABLE', `${file}: ${issue.path.join('.') || '(top level)'}: ${issue.message}`, 'check that it is the metrics.json a run wrote');
  }
  return parsed.data;
}

const isTrue = (value: MetadataValue): boolean => value === 1 || String(value).toLowerCase() === 'true';
const numberOf = (value: MetadataValue): number => (typeof value === 'number' ? value : Number(value));

function columnOf(records: Records, name: string): string {
  const found = records.columns.find((c) => c.toLowerCase() === name.toLowerCase());
  if (found) return found;
  throw new MorphoprofError('MISSING_COLUMN', `${records.file} has no ${name} column (columns: ${records.columns.join(', ')})`);
}

async function readRecords(file: string): Promise<Records> {
  const { columns, rows } = await readTable(file);
  return { file, columns, rows };
}

function confusionFromTable(records: Records): Confusion {
  const trueColumn = columnOf(records, 'True_MOA');
  const labels = records.columns.filter((c) => c !== trueColumn);
  const byLabel = new Map(records.rows.map((row) => [String(row[trueColumn]), row]));
  // Square over the union of row and column labels, in the column order.
  for (const row of records.rows) if (!labels.includes(String(row[trueColumn]))) labels.push(String(row[trueColumn]));
  return {
    labels,
    counts: labels.map((t) => labels.map((p) => numberOf(byLabel.get(t)?.[p] ?? 0) || 0)),
  };
}

/** The confusion matrix of the 1-NN predictions in neighbors.csv (for runs without confusion_matrix.csv). */
export function confusionFromNeighbors(neighbors: Records): Confusion {
  const moa = columnOf(neighbors, 'Metadata_MOA');
  const predicted = columnOf(neighbors, 'Neighbor_MOA');
  const labels = [...new Set(neighbors.rows.flatMap((r) => [String(r[moa]), String(r[predicted])]))].sort();
  const counts = labels.map(() => labels.map(() => 0));
  for (const r of neighbors.rows) counts[labels.indexOf(String(r[moa]))]![labels.indexOf(String(r[predicted]))]!++;
  return { labels, counts };
}

/** Per-MOA NSC accuracy from the neighbour table (for runs without per_moa.csv). */
export function perMoaFromNeighbors(neighbors: Records): PerMoa[] {
  const moa = columnOf(neighbors, 'Metadata_MOA');
  const correct = columnOf(neighbors, 'Correct');
  const byMoa = new Map<string, PerMoa>();
  for (const r of neighbors.rows) {
    const key = String(r[moa]);
    const entry = byMoa.get(key) ?? { moa: key, correct: 0, total: 0, accuracy: 0 };
    entry.total++;
    if (isTrue(r[correct]!)) entry.correct++;
    byMoa.set(key, entry);
  }
  return [...byMoa.values()].map((e) => ({ ...e, accuracy: e.correct / e.total })).sort((a, b) => a.moa.localeCompare(b.moa));
}

function perMoaFromTable(records: Records): PerMoa[] {
  const [moa, correct, total] = ['MOA', 'Correct', 'Total'].map((c) => columnOf(records, c)) as [string, string, string];
  return records.rows.map((r) => {
    const c = numberOf(r[correct]!);
    const t = numberOf(r[total]!);
    return { moa: String(r[moa]), correct: c, total: t, accuracy: t > 0 ? c / t : 0 };
  });
}

function runInfo(value: unknown): RunInfo {
  const object = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
  const run = object(value);
  return {
    settings: object(run.settings),
    counts: object(run.counts),
    timings: object(run.timings),
    version: typeof run.morphoprof === 'string' ? run.morphoprof : null,
  };
}

/** Reads a run folder for the report; see the module comment for what is optional. */
export async function readRunInputs(dir: string): Promise<ReportInputs> {
  const metrics = readMetrics(dir);
  const notes: string[] = [];
  const file = (name: string): string => path.join(dir, name);
  /** An optional input: null with a note when absent or unreadable. */
  async function optional<T>(name: string, read: () => Promise<T> | T, absent?: string): Promise<T | null> {
    if (!existsSync(file(name))) {
      if (absent) notes.push(absent);
      return null;
    }
    try {
      return await read();
    } catch (err) {
      notes.push(`Could not read ${name}: ${errorMessage(err)}`);
      return null;
    }
  }

  const neighbors = await optional(RUN_FILES.neighbors, () => readRecords(file(RUN_FILES.neighbors)), `No ${RUN_FILES.neighbors}: the nearest-neighbour table is not shown.`);
  let confusion = await optional(RUN_FILES.confusion, async () => confusionFromTable(await readRecords(file(RUN_FILES.confusion))));
  if (!confusion && neighbors) confusion = confusionFromNeighbors(neighbors);

  let perMoa = await optional(RUN_FILES.perMoa, async () => perMoaFromTable(await readRecords(file(RUN_FILES.perMoa))));
  if (!perMoa && metrics.per_moa) perMoa = metrics.per_moa.map((m) => ({ moa: m.moa, correct: m.correct, total: m.total, accuracy: m.total ? m.correct / m.total : 0 }));
  if (!perMoa && neighbors) perMoa = perMoaFromNeighbors(neighbors);

  let treatments = await optional(RUN_FILES.treatments, () => readProfiles(file(RUN_FILES.treatments)));
  if (!treatments) {
    treatments = await optional(
      RUN_FILES.features,
      async () => treatmentProfiles(await readProfiles(file(RUN_FILES.features))),
      `No ${RUN_FILES.treatments} or ${RUN_FILES.features}/: the map of treatment profiles is not shown.`,
    );
  }

  const run = await optional(RUN_FILES.run, () => runInfo(readJson(file(RUN_FILES.run))), `No ${RUN_FILES.run}: run settings and timings are not shown.`);
  const errors = await optional(RUN_FILES.errors, () => readRecords(file(RUN_FILES.errors)));
  return { dir, metrics, confusion, neighbors, perMoa, treatments, run, errors, notes };
}
