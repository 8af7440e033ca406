/**
 * The paper's experiment (Pawlowski et al. 2016, Table 1) on a screen: every combination of
 * {illumination off, on} x {RGB mapping, greyscale per stain} x models, each a pipeline run in its
 * own directory (a rerun resumes them: nothing is embedded twice), illumination functions
 * computed once. The result is Table 1's shape: rows = variants, columns = models, cells = NSC
 * accuracy in %.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { computeIllumination, DEFAULT_METHOD, type IlluminationMethod } from './illum/index.js';
import { listModels } from './models/registry.js';
import { runPipeline, type RunOptions } from './pipeline.js';
import { loadScreen } from './screen/index.js';
import { writeCsvRecords } from './util/csv.js';
import { writeAtomic } from './illum/manifest.js';

export type GridChannels = 'rgb' | 'grey';

/** Table 1's rows, in its order. */
export const GRID_VARIANTS: ReadonlyArray<{ label: string; illumination: boolean; channels: GridChannels }> = Object.freeze([
  { label: 'full images (RGB mapping)', illumination: false, channels: 'rgb' },
  { label: '+ illumination corrected', illumination: true, channels: 'rgb' },
  { label: '+ greyscale per stain', illumination: false, channels: 'grey' },
  { label: '+ illumination corrected & greyscale', illumination: true, channels: 'grey' },
]);

export interface GridOptions {
  metadata: string;
  images: string;
  moa?: string;
  out: string;
  /** Default: every model of `listModels()`. */
  models?: string[];
  method?: IlluminationMethod;
  controlCompound?: string;
  batchSize?: number;
  cacheDir?: string;
  progress?: boolean;
  log?: (line: string) => void;
}

export interface GridCell {
  variant: string;
  model: string;
  illumination: boolean;
  channels: GridChannels;
  /** The run directory. */
  out: string;
  /** NSC accuracy, 0..1. */
  accuracy: number;
  correct: number;
  total: number;
  fieldsEmbedded: number;
  fieldsResumed: number;
}

export interface GridResult {
  out: string;
  illum: string;
  models: string[];
  cells: GridCell[];
  /** The table as Markdown (also in `<out>/grid.md`). */
  markdown: string;
  csv: string;
  md: string;
}

/** `<out>/runs/<model>/<illum-off|illum-on>-<rgb|grey>` */
export function gridRunDir(out: string, model: string, illumination: boolean, channels: GridChannels): string {
  return path.join(out, 'runs', model, `${illumination ? 'illum-on' : 'illum-off'}-${channels}`);
}

function percent(cell: GridCell | undefined): string {
  return cell ? (100 * cell.accuracy).toFixed(2) : '';
}

/** Table 1 as Markdown: rows = variants, columns = models, cells = NSC accuracy (%). */
export function formatGrid(cells: readonly GridCell[], models: readonly string[]): string {
  const find = (label: string, model: string): GridCell | undefined => cells.find((c) => c.variant === label && c.model === model);
  const lines = [
    `| variant | ${models.join(' | ')} |`,
    `|---|${models.map(() => '---:').join('|')}|`,
    ...GRID_VARIANTS.map((v) => `| ${v.label} | ${models.map((m) => percent(find(v.label, m))).join(' | ')} |`),
  ];
  const total = cells[0]?.total;
  return `${lines.join('\n')}\n\nNSC accuracy (%), 1-NN cosine, not-same-compound${total ? `, ${total} treatments` : ''}.\n`;
}

export async function runGrid(opts: GridOptions): Promise<GridResult> {
  const log = opts.log ?? (() => {});
  const models = opts.models ?? listModels().map((m) => m.name);
  await mkdir(opts.out, { recursive: true });
  const { screen } = await loadScreen({ metadata: opts.metadata, images: opts.images, moa: opts.moa, controlCompound: opts.controlCompound });
  const illum = path.join(opts.out, 'illum');
  const t0 = performance.now();
  await computeIllumination({ screen, out: illum, method: opts.method ?? DEFAULT_METHOD, warn: (m) => log(`warning: ${m}`) });
  log(`grid: illumination functions in ${illum} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);

  const cells: GridCell[] = [];
  for (const model of models) {
    for (const v of GRID_VARIANTS) {
      const out = gridRunDir(opts.out, model, v.illumination, v.channels);
      log(`grid: ${model}, ${v.label} -> ${out}`);
      const run: RunOptions = {
        metadata: opts.metadata, images: opts.images, moa: opts.moa, out, model,
        illum: v.illumination ? illum : undefined, channels: v.channels,
        controlCompound: opts.controlCompound, batchSize: opts.batchSize, cacheDir: opts.cacheDir, progress: opts.progress,
        log: (line) => log(`  ${line}`),
      };
      const r = await runPipeline(run);
      cells.push({
        variant: v.label, model, illumination: v.illumination, channels: v.channels, out,
        accuracy: r.metrics.nsc.accuracy, correct: r.metrics.nsc.correct, total: r.metrics.nsc.total,
        fieldsEmbedded: r.embed.fieldsEmbedded, fieldsResumed: r.embed.fieldsResumed,
      });
    }
  }
  const markdown = formatGrid(cells, models);
  const md = path.join(opts.out, 'grid.md');
  const csv = path.join(opts.out, 'grid.csv');
  await writeAtomic(md, markdown);
  await writeCsvRecords(csv, ['variant', ...models], GRID_VARIANTS.map((v) => ({
    variant: v.label,
    ...Object.fromEntries(models.map((m) => [m, percent(cells.find((c) => c.variant === v.label && c.model === m))])),
  })));
  return { out: opts.out, illum, models, cells, markdown, csv, md };
}
