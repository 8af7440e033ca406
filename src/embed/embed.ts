import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { MorphoprofError } from '../errors.js';
import { imageRefFile } from '../image/source.js';
import type { Field, Screen } from '../screen/types.js';
import { Progress, type ProgressCallback } from '../util/progress.js';
import type { ProfileTable } from '../table/index.js';
import { CALIBRATION_FIELDS, DEFAULT_SETTINGS, FieldEmbedder, fieldError, METADATA_COLUMNS, type CalibrationInfo, type EmbedSettings, type InferenceLayout, type StageTimes } from './embedder.js';
import { writeErrorTable, type FieldError } from './field-errors.js';
import { DEFAULT_SHARD_SIZE, FeatureStore, planShards, type Shard } from './store.js';

export interface EmbedOptions extends Partial<EmbedSettings> {
  screen: Screen;
  /** Run directory; features go to `<out>/features/`. */
  out: string;
  /**
   * Fields in inference at once (each field gives one image per stain), default 8: one batch, or
   * with several sessions (InferenceLayout) a batch of batchSize / sessions fields each, so memory
   * does not grow with the sessions.
   */
  batchSize?: number;
  /** Fields per committed shard of the feature store, default 128. */
  shardSize?: number;
  /** Where converted models are cached. */
  cacheDir?: string;
  onProgress?: ProgressCallback;
  /** Draw a progress line on stderr when it is a TTY (default true). */
  progress?: boolean;
  /** Problems found before embedding (e.g. bad metadata rows), to be listed in errors.csv too. */
  priorErrors?: FieldError[];
  /** Told about shards that were found broken and rebuilt, and about unreadable int8 calibration fields. */
  warn?: (message: string) => void;
  /** Inference threads and sessions (default: `defaultLayout` of the precision); never changes a feature. */
  layout?: Partial<InferenceLayout>;
  /** Accumulates the main thread's time per stage (bench/embed.ts --breakdown). */
  timing?: StageTimes;
}

export interface EmbedResult {
  featuresDir: string;
  settings: EmbedSettings;
  channels: string[];
  featureDim: number;
  fieldsTotal: number;
  fieldsEmbedded: number;
  /** fields found already embedded by an earlier run of the same command */
  fieldsResumed: number;
  /** shards found truncated or corrupt and rebuilt */
  shardsRebuilt: string[];
  errors: FieldError[];
  seconds: number;
  /** of `seconds`, the time taken to open the network (conversion, int8 calibration, session) */
  openSeconds: number;
  /** int8: the calibration (fields, seconds, broken fields, quantized file); null for fp32 or when nothing was left to embed */
  calibration: CalibrationInfo | null;
}

/** The settings of an embedding, completed with defaults (what the feature store records). */
export function embedSettings(opts: Partial<EmbedSettings>): EmbedSettings {
  const s: EmbedSettings = {
    model: opts.model ?? DEFAULT_SETTINGS.model,
    precision: opts.precision ?? DEFAULT_SETTINGS.precision,
    channels: opts.channels ?? DEFAULT_SETTINGS.channels,
    illum: opts.illum ? path.resolve(opts.illum) : null,
    scaling: opts.scaling ?? DEFAULT_SETTINGS.scaling,
  };
  if (opts.layer) s.layer = opts.layer;
  if (opts.rgbMapping) s.rgbMapping = opts.rgbMapping;
  if (opts.inputSize) s.inputSize = opts.inputSize;
  if (opts.preprocess) s.preprocess = opts.preprocess;
  if (opts.output) s.output = opts.output;
  if (s.model.endsWith('.onnx')) s.model = path.resolve(s.model);
  return s;
}

/** Fields whose image files all exist; the others are returned as errors (no image is read). */
export function checkFieldFiles(screen: Screen): { present: Field[]; errors: FieldError[] } {
  const present: Field[] = [];
  const errors: FieldError[] = [];
  for (const f of screen.fields) {
    const missing = screen.channels.filter((ch) => !f.images[ch] || !existsSync(imageRefFile(f.images[ch]!)));
    if (missing.length === 0) present.push(f);
    else
      errors.push({
        ...fieldError(f, 'files', `missing image file(s) for ${missing.join(', ')}: ${missing.map((ch) => f.images[ch] ?? '(no file name)').join(', ')}`),
        channel: missing.join(';'),
      });
  }
  return { present, errors };
}

/**
 * The fields whose image files all exist, and the errors so far (`prior` first, then the missing
 * files). When no field is left, errors.csv is written and a NOTHING_VALID error says why: the one
 * prologue of every stage that makes one row per field (whole fields, classical, single-cell).
 */
export async function presentFieldsOrThrow(screen: Screen, errorTable: string, prior: readonly FieldError[] = []): Promise<{ present: Field[]; errors: FieldError[] }> {
  const checked = checkFieldFiles(screen);
  const errors: FieldError[] = [...prior, ...checked.errors];
  if (checked.present.length === 0) {
    await writeErrorTable(errorTable, errors);
    throw new MorphoprofError(
      'NOTHING_VALID',
      nothingValidMessage(screen, errors),
      `Every skipped field and its reason is in ${errorTable}. Check --images (the folder the table's PathName columns are relative to) and that the files were downloaded.`,
    );
  }
  return { present: checked.present, errors };
}

/** Say plainly why nothing could be embedded. */
export function nothingValidMessage(screen: Screen, errors: readonly FieldError[]): string {
  const nImages = screen.fields.length * screen.channels.length;
  let presentFiles = 0;
  for (const f of screen.fields) for (const ch of screen.channels) if (f.images[ch] && existsSync(imageRefFile(f.images[ch]!))) presentFiles++;
  const byStage = new Map<string, number>();
  for (const e of errors) byStage.set(e.stage, (byStage.get(e.stage) ?? 0) + 1);
  const stages = [...byStage].map(([s, n]) => `${n} at ${s}`).join(', ');
  return (
    `No valid field to embed: the table lists ${screen.fields.length} fields (${nImages} image files in ` +
    `${screen.channels.length} channels: ${screen.channels.join(', ')}); ${presentFiles} of the image files are present ` +
    `under ${screen.imagesRoot}, and no field has a readable image for every channel (skipped: ${stages || 'none'}).`
  );
}

function emptyTable(featureColumns: string[]): ProfileTable {
  return { metadataColumns: [...METADATA_COLUMNS], metadata: [], featureColumns, features: [] };
}

/** A few control fields spread over the plates, to calibrate an int8 network. */
export function calibrationFields(fields: readonly Field[], controlCompound: string, count = CALIBRATION_FIELDS): Field[] {
  const controls = fields.filter((f) => f.compound === controlCompound);
  const pool = controls.length > 0 ? controls : [...fields];
  const step = Math.max(1, Math.floor(pool.length / count));
  return pool.filter((_, i) => i % step === 0).slice(0, count);
}

/**
 * Embed every field of a screen into the run's feature store: each stain downsampled to the
 * network input (optionally illumination-corrected), scaled to 0..255 by its own percentiles,
 * embedded, and the per-stain embeddings concatenated (or one RGB pass). Shards of `shardSize`
 * fields are committed one by one, so a killed run, rerun, resumes where it stopped.
 */
export async function embedScreen(opts: EmbedOptions): Promise<EmbedResult> {
  const started = performance.now();
  const { screen } = opts;
  const settings = embedSettings(opts);
  const batchSize = opts.batchSize ?? 8;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new MorphoprofError('BAD_ARGUMENT', `batch size must be a positive integer, got ${batchSize}`);
  await mkdir(opts.out, { recursive: true });
  const featuresDir = path.join(opts.out, 'features');
  const errorTable = path.join(opts.out, 'errors.csv');

  const { present, errors } = await presentFieldsOrThrow(screen, errorTable, opts.priorErrors);

  const store = await FeatureStore.open(featuresDir, { ...settings, shardSize: opts.shardSize ?? DEFAULT_SHARD_SIZE });
  await store.cleanStaging();
  const plan = planShards(present, opts.shardSize ?? DEFAULT_SHARD_SIZE);
  const { receipts, problems } = await store.committed(plan);
  for (const p of problems) opts.warn?.(`${p}; rebuilding it`);
  const todo: Shard[] = plan.filter((s) => !receipts.has(s.id));
  const resumedFields = [...receipts.values()].reduce((n, r) => n + r.rows, 0);
  for (const r of receipts.values()) errors.push(...r.errors);

  const progress = new Progress('embed', present.length, opts.onProgress, opts.progress === false ? ({ isTTY: false } as NodeJS.WriteStream) : process.stderr, 'fields');
  progress.tick(present.length - todo.reduce((n, s) => n + s.fields.length, 0));
  let embedded = 0;
  let featureDim = 0;
  let openSeconds = 0;
  let calibration: CalibrationInfo | null = null;
  if (todo.length > 0) {
    const opening = performance.now();
    const embedder = await FieldEmbedder.open(screen, settings, {
      cacheDir: opts.cacheDir,
      geometryFrom: present,
      calibrationFields: settings.precision === 'int8' ? calibrationFields(present, screen.controlCompound) : undefined,
      layout: opts.layout,
      timing: opts.timing,
      warn: opts.warn,
    });
    openSeconds = (performance.now() - opening) / 1000;
    calibration = embedder.calibration;
    featureDim = embedder.featureColumns.length;
    try {
      for (const shard of todo) await store.discard(shard.id);
      // One stream of batches across all shards: the next batch is read while the network runs the
      // current one on its own thread, and a finished shard is committed while the next shard's
      // batches run, so the network never waits for the disk.
      const batches: Array<{ shard: Shard; fields: Field[]; last: boolean }> = [];
      const perSession = Math.ceil(batchSize / embedder.layout.sessions);
      for (const shard of todo)
        for (let i = 0; i < shard.fields.length; i += perSession)
          batches.push({ shard, fields: shard.fields.slice(i, i + perSession), last: i + perSession >= shard.fields.length });
      let commit: Promise<void> = Promise.resolve();
      let rows: ProfileTable = emptyTable(embedder.featureColumns);
      let shardErrors: FieldError[] = [];
      await embedder.stream(batches, async (batch, part) => {
        rows.metadata.push(...part.table.metadata);
        rows.features.push(...part.table.features);
        shardErrors.push(...part.errors);
        progress.tick(batch.fields.length);
        if (batch.last) {
          const [table, errs] = [rows, shardErrors];
          await commit;
          commit = store.commit(batch.shard, table, errs).then(() => {
            embedded += table.features.length;
            errors.push(...errs);
          });
          commit.catch(() => {}); // surfaced by the next await
          rows = emptyTable(embedder.featureColumns);
          shardErrors = [];
        }
      });
      await commit;
    } finally {
      progress.finish();
      await embedder.dispose();
    }
  } else progress.finish();

  await writeErrorTable(errorTable, errors);
  if (embedded + resumedFields === 0)
    throw new MorphoprofError('NOTHING_VALID', nothingValidMessage(screen, errors), `Every skipped field and its reason is in ${errorTable}.`);
  return {
    featuresDir,
    settings,
    channels: screen.channels,
    featureDim,
    fieldsTotal: screen.fields.length,
    fieldsEmbedded: embedded,
    fieldsResumed: resumedFields,
    shardsRebuilt: problems,
    errors,
    seconds: (performance.now() - started) / 1000,
    openSeconds,
    calibration,
  };
}
