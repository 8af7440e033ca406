import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { embedScreen, type EmbedResult } from './embed/embed.js';
import type { FieldError } from './embed/field-errors.js';
import { evaluate, type Metrics } from './evaluate/index.js';
import { loadScreen } from './screen/index.js';
import type { ProgressCallback } from './util/progress.js';

export interface RunOptions {
  metadata: string;
  images: string;
  moa?: string;
  out: string;
  model?: string;
  batchSize?: number;
  controlCompound?: string;
  cacheDir?: string;
  onProgress?: ProgressCallback;
  progress?: boolean;
  /** Called with one human-readable line per stage. */
  log?: (line: string) => void;
}

export interface RunResult {
  out: string;
  embed: EmbedResult;
  metrics: Metrics;
  timings: Record<string, number>;
}

/** The whole pipeline: screen -> embedding -> treatment profiles -> NSC evaluation. */
export async function runPipeline(opts: RunOptions): Promise<RunResult> {
  const log = opts.log ?? (() => {});
  const timings: Record<string, number> = {};
  const t0 = performance.now();
  await mkdir(opts.out, { recursive: true });

  const { screen, problems } = await loadScreen({
    metadata: opts.metadata,
    images: opts.images,
    moa: opts.moa,
    controlCompound: opts.controlCompound,
  });
  timings.screen = (performance.now() - t0) / 1000;
  const plates = new Set(screen.fields.map((f) => f.plate));
  log(`screen: ${screen.fields.length} fields on ${plates.size} plates, channels ${screen.channels.join(', ')}` + (problems.length ? `, ${problems.length} metadata problems` : ''));
  const priorErrors: FieldError[] = problems.map((p) => ({
    plate: '',
    well: '',
    site: null,
    channel: p.column ?? null,
    file: p.file ?? null,
    row: p.row ?? null,
    stage: 'metadata',
    reason: p.message,
  }));

  const t1 = performance.now();
  const embed = await embedScreen({
    screen,
    out: opts.out,
    model: opts.model,
    batchSize: opts.batchSize,
    cacheDir: opts.cacheDir,
    onProgress: opts.onProgress,
    progress: opts.progress,
    priorErrors,
  });
  timings.embed = (performance.now() - t1) / 1000;
  log(
    `embed: ${embed.fieldsEmbedded} fields embedded` +
      (embed.fieldsResumed ? `, ${embed.fieldsResumed} already done by an earlier run` : '') +
      (embed.errors.length ? `, ${embed.errors.length} skipped (see errors.csv)` : '') +
      ` in ${timings.embed.toFixed(1)} s`,
  );

  const t2 = performance.now();
  const { metrics } = await evaluate({
    profiles: embed.featuresDir,
    out: opts.out,
    controlCompound: opts.controlCompound,
    warn: (m) => log(`warning: ${m}`),
  });
  timings.evaluate = (performance.now() - t2) / 1000;
  timings.total = (performance.now() - t0) / 1000;

  await writeFile(
    path.join(opts.out, 'run.json'),
    JSON.stringify(
      {
        morphoprof: '0.1.0',
        settings: {
          metadata: path.resolve(opts.metadata),
          images: path.resolve(opts.images),
          moa: opts.moa ? path.resolve(opts.moa) : null,
          model: embed.model,
          channels: embed.channels,
          channelMode: 'grey',
          batchSize: opts.batchSize ?? 8,
          controlCompound: screen.controlCompound,
        },
        counts: {
          fields: embed.fieldsTotal,
          embedded: embed.fieldsEmbedded,
          resumed: embed.fieldsResumed,
          skipped: embed.errors.length,
        },
        timings,
        metrics,
      },
      null,
      2,
    ) + '\n',
  );
  return { out: opts.out, embed, metrics, timings };
}
