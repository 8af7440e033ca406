import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MorphoprofError, errorMessage } from '../errors.js';
import { readImageResized } from '../image/index.js';
import { openModel } from '../models/session.js';
import { preprocessInto } from '../models/preprocess.js';
import type { Field, Screen } from '../screen/types.js';
import type { ProfileTable } from '../table/index.js';
import { writeProfiles } from '../table/index.js';
import { Progress, type ProgressCallback } from '../util/progress.js';
import { writeErrorTable, type FieldError } from './field-errors.js';
import { DEFAULT_SCALING, percentileRange, scaleTo255, type ScalingSpec } from './scale.js';

export interface EmbedOptions {
  screen: Screen;
  /** Run directory; features go to `<out>/features/<plate>.parquet`. */
  out: string;
  /** Built-in model name (see `morphoprof models list`), default `resnet50`. */
  model?: string;
  /** Fields per inference batch (each field gives one image per channel), default 8. */
  batchSize?: number;
  scaling?: ScalingSpec;
  /** Where converted models are cached. */
  cacheDir?: string;
  onProgress?: ProgressCallback;
  /** Draw a progress line on stderr when it is a TTY (default true). */
  progress?: boolean;
  /** Problems found before embedding (e.g. bad metadata rows), to be listed in errors.csv too. */
  priorErrors?: FieldError[];
}

export interface EmbedResult {
  featuresDir: string;
  model: string;
  channels: string[];
  featureDim: number;
  fieldsTotal: number;
  fieldsEmbedded: number;
  /** fields found already embedded by an earlier run of the same command */
  fieldsResumed: number;
  fieldsSkipped: number;
  errors: FieldError[];
  seconds: number;
}

export const METADATA_COLUMNS = [
  'Metadata_Plate',
  'Metadata_Well',
  'Metadata_Site',
  'Metadata_Compound',
  'Metadata_Concentration',
  'Metadata_MOA',
  'Metadata_Batch',
] as const;

/** Feature column names: `<channel>_<model>_<index>`, e.g. `DAPI_resnet50_0042`. */
export function featureColumnNames(channels: readonly string[], model: string, dim: number): string[] {
  const width = String(dim - 1).length;
  return channels.flatMap((ch) =>
    Array.from({ length: dim }, (_, i) => `${ch}_${model}_${String(i).padStart(width, '0')}`),
  );
}

function plateFileStem(plate: string): string {
  return plate.replace(/[^A-Za-z0-9._-]/g, '_');
}

function fieldError(f: Field, stage: FieldError['stage'], reason: string, channel: string | null = null): FieldError {
  return {
    plate: f.plate,
    well: f.well,
    site: f.site,
    channel,
    file: channel ? (f.images[channel] ?? null) : null,
    row: f.row,
    stage,
    reason,
  };
}

/** Fields whose image files all exist; the others are returned as errors (no image is read). */
export function checkFieldFiles(screen: Screen): { present: Field[]; errors: FieldError[] } {
  const present: Field[] = [];
  const errors: FieldError[] = [];
  for (const f of screen.fields) {
    const missing = screen.channels.filter((ch) => !f.images[ch] || !existsSync(f.images[ch]!));
    if (missing.length === 0) present.push(f);
    else
      errors.push({
        ...fieldError(f, 'files', `missing image file(s) for ${missing.join(', ')}: ${missing.map((ch) => f.images[ch] ?? '(no file name)').join(', ')}`),
        channel: missing.join(';'),
      });
  }
  return { present, errors };
}

/** Say plainly why nothing could be embedded. */
export function nothingValidMessage(screen: Screen, errors: readonly FieldError[]): string {
  const nImages = screen.fields.length * screen.channels.length;
  let presentFiles = 0;
  for (const f of screen.fields) for (const ch of screen.channels) if (f.images[ch] && existsSync(f.images[ch]!)) presentFiles++;
  const byStage = new Map<string, number>();
  for (const e of errors) byStage.set(e.stage, (byStage.get(e.stage) ?? 0) + 1);
  const stages = [...byStage].map(([s, n]) => `${n} at ${s}`).join(', ');
  return (
    `No valid field to embed: the table lists ${screen.fields.length} fields (${nImages} image files in ` +
    `${screen.channels.length} channels: ${screen.channels.join(', ')}); ${presentFiles} of the image files are present ` +
    `under ${screen.imagesRoot}, and no field has a readable image for every channel (skipped: ${stages || 'none'}).`
  );
}

interface LoadedField {
  field: Field;
  /** one 224x224-style plane per channel, already scaled to 0..255 */
  planes: Float32Array[] | null;
  error: FieldError | null;
}

interface Geometry {
  width: number;
  height: number;
  bitDepth: number;
  source: string;
}

/**
 * Embed every field of a screen: each stain downsampled to the network input, scaled to 0..255 by
 * its own percentiles, replicated into 3 channels, embedded; the per-stain embeddings are
 * concatenated. One Parquet file per plate is committed atomically, so a rerun resumes at the
 * first plate not yet written.
 */
export async function embedScreen(opts: EmbedOptions): Promise<EmbedResult> {
  const started = performance.now();
  await mkdir(opts.out, { recursive: true });
  const { screen } = opts;
  const modelName = opts.model ?? 'resnet50';
  const batchSize = opts.batchSize ?? 8;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new MorphoprofError('BAD_ARGUMENT', `batch size must be a positive integer, got ${batchSize}`);
  const scaling = opts.scaling ?? DEFAULT_SCALING;
  const featuresDir = path.join(opts.out, 'features');
  await mkdir(featuresDir, { recursive: true });

  const checked = checkFieldFiles(screen);
  const present = checked.present;
  const errors: FieldError[] = [...(opts.priorErrors ?? []), ...checked.errors];
  const errorTable = path.join(opts.out, 'errors.csv');
  if (present.length === 0) {
    await writeErrorTable(errorTable, errors);
    throw new MorphoprofError(
      'NOTHING_VALID',
      nothingValidMessage(screen, errors),
      `Every skipped field and its reason is in ${errorTable}. Check --images (the folder the table's PathName columns are relative to) and that the files were downloaded.`,
    );
  }

  const byPlate = new Map<string, Field[]>();
  for (const f of present) {
    const list = byPlate.get(f.plate) ?? [];
    list.push(f);
    byPlate.set(f.plate, list);
  }

  const model = await openModel(modelName, { cacheDir: opts.cacheDir });
  const size = model.inputSize;
  const dim = model.embeddingDim;
  const channels = screen.channels;
  const featureColumns = featureColumnNames(channels, modelName, dim);
  const progress = new Progress('embed', present.length, opts.onProgress, opts.progress === false ? ({ isTTY: false } as NodeJS.WriteStream) : process.stderr, 'fields');
  let geometry: Geometry | null = null;
  let embedded = 0;
  let resumed = 0;

  const loadField = async (field: Field): Promise<LoadedField> => {
    const planes: Float32Array[] = [];
    for (const ch of channels) {
      const file = field.images[ch]!;
      let img;
      try {
        img = await readImageResized(file, size, size);
      } catch (err) {
        return { field, planes: null, error: fieldError(field, 'read', errorMessage(err), ch) };
      }
      geometry ??= { width: img.srcWidth, height: img.srcHeight, bitDepth: img.bitDepth, source: file };
      if (img.srcWidth !== geometry.width || img.srcHeight !== geometry.height || img.bitDepth !== geometry.bitDepth) {
        const reason = `image is ${img.srcWidth}x${img.srcHeight} ${img.bitDepth}-bit but the screen's images are ${geometry.width}x${geometry.height} ${geometry.bitDepth}-bit (first seen in ${geometry.source})`;
        return { field, planes: null, error: fieldError(field, 'read', reason, ch) };
      }
      const [lo, hi] = percentileRange(img.data, scaling);
      planes.push(scaleTo255(img.data, lo, hi));
    }
    return { field, planes, error: null };
  };

  try {
    for (const [plate, fields] of byPlate) {
      const stem = plateFileStem(plate);
      const shard = path.join(featuresDir, `${stem}.parquet`);
      const errorShard = path.join(featuresDir, `${stem}.errors.json`);
      if (existsSync(shard) || existsSync(`${shard}.empty`)) {
        resumed += fields.length;
        if (existsSync(errorShard)) {
          const previous = JSON.parse(await readFile(errorShard, 'utf8')) as FieldError[];
          errors.push(...previous);
          resumed -= previous.length;
        }
        progress.tick(fields.length);
        continue;
      }
      const plateErrors: FieldError[] = [];
      const table: ProfileTable = { metadataColumns: [...METADATA_COLUMNS], metadata: [], featureColumns, features: [] };
      const batches: Field[][] = [];
      for (let i = 0; i < fields.length; i += batchSize) batches.push(fields.slice(i, i + batchSize));
      // Read the next batch while the current one is in the network.
      let next: Promise<LoadedField[]> | null = batches.length ? Promise.all(batches[0]!.map(loadField)) : null;
      for (let b = 0; b < batches.length; b++) {
        const loaded = await next!;
        next = b + 1 < batches.length ? Promise.all(batches[b + 1]!.map(loadField)) : null;
        const ok = loaded.filter((l) => l.planes !== null);
        for (const l of loaded) if (l.error) plateErrors.push(l.error);
        if (ok.length > 0) {
          const nImages = ok.length * channels.length;
          const input = new Float32Array(nImages * 3 * size * size);
          ok.forEach((l, i) =>
            l.planes!.forEach((plane, c) => preprocessInto(input, (i * channels.length + c) * 3 * size * size, [plane, plane, plane], model.preprocess)),
          );
          const emb = await model.embed(input, nImages);
          ok.forEach((l, i) => {
            const f = l.field;
            table.metadata.push({
              Metadata_Plate: f.plate,
              Metadata_Well: f.well,
              Metadata_Site: f.site,
              Metadata_Compound: f.compound,
              Metadata_Concentration: f.concentration,
              Metadata_MOA: f.moa,
              Metadata_Batch: f.batch,
            });
            table.features.push(emb.slice(i * channels.length * dim, (i + 1) * channels.length * dim));
          });
        }
        embedded += ok.length;
        progress.tick(loaded.length);
      }
      // Errors first, then the shard: a shard on disk means its plate is complete.
      const tmp = `${errorShard}.tmp-${process.pid}`;
      await writeFile(tmp, JSON.stringify(plateErrors));
      await rename(tmp, errorShard);
      if (table.features.length > 0) await writeProfiles(shard, table);
      else await writeFile(`${shard}.empty`, '');
      errors.push(...plateErrors);
    }
  } finally {
    progress.finish();
    await model.dispose();
  }
  await writeErrorTable(errorTable, errors);
  if (embedded + resumed === 0)
    throw new MorphoprofError('NOTHING_VALID', nothingValidMessage(screen, errors), `Every skipped field and its reason is in ${errorTable}.`);
  return {
    featuresDir,
    model: modelName,
    channels,
    featureDim: featureColumns.length,
    fieldsTotal: screen.fields.length,
    fieldsEmbedded: embedded,
    fieldsResumed: resumed,
    fieldsSkipped: errors.length,
    errors,
    seconds: (performance.now() - started) / 1000,
  };
}
