/**
 * The paper's experiment (Pawlowski et al. 2016, Table 1) on a screen: every combination of
 * {illumination off, on} x {RGB mapping, greyscale per stain} x models, each a pipeline run in its
 * own directory (a rerun resumes them: nothing is embedded twice), illumination functions
 * computed once. The result is Table 1's shape: rows = variants, columns = models, cells = NSC
 * accuracy in %.
 */
import { DEFAULT_BOX_SIZE, type CellDeepOptions } from './cells/deep.js';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { computeIllumination, DEFAULT_METHOD, type IlluminationMethod } from './illum/index.js';
import { listModels } from './models/registry.js';
import type { Metrics } from './evaluate/index.js';
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
  /** Also run classical features (nuclei and cells found and measured) and compare profile kinds (default true). */
  classical?: boolean;
  /**
   * Also run single-cell deep profiles (a box around every nucleus, cells averaged per field) with
   * the first model, and add them to the comparison (default true, with the comparison). Options of
   * that run: default 96-px boxes fed natively.
   */
  singleCell?: boolean | CellDeepOptions;
  log?: (line: string) => void;
}

/** One row of the comparison of profile kinds: a method at one normalization. */
export interface ComparisonRow {
  method: string;
  normalize: 'none' | 'standardize';
  out: string;
  nsc: number;
  nscCorrect: number;
  nscTotal: number;
  /** over treatments with an eligible other-batch neighbour; null when none has one */
  nscb: number | null;
  map: number | null;
  /** seconds of the feature stage per field (reading, network or segmentation and measurement), as measured when the features were made */
  secondsPerField: number | null;
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
  /** whole-field deep vs classical profiles (NSC, NSCB, mAP, time per field), when run */
  comparison: ComparisonRow[];
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
  const comparison: ComparisonRow[] = [];
  if (opts.classical !== false) {
    const classicalOut = path.join(opts.out, 'runs', 'classical', 'illum-on');
    log(`grid: classical features (nuclei, cells, cytoplasm; illumination corrected) -> ${classicalOut}`);
    const r = await runPipeline({
      metadata: opts.metadata, images: opts.images, moa: opts.moa, out: classicalOut, features: 'classical', illum,
      controlCompound: opts.controlCompound, progress: opts.progress, log: (line) => log(`  ${line}`),
    });
    const runs: Array<{ method: string; out: string; seconds: number | null }> = [
      ...models.map((model) => {
        const out = gridRunDir(opts.out, model, true, 'grey');
        return { method: `whole-field deep (${model}, illumination corrected, greyscale per stain)`, out, seconds: secondsPerField(out) };
      }),
      { method: 'classical (nuclei, cells, cytoplasm: shape, intensity, texture)', out: classicalOut, seconds: r.timings.secondsPerField ?? null },
    ];
    if (opts.singleCell !== false) {
      const cellDeep: CellDeepOptions = { cropInput: 'native', ...(typeof opts.singleCell === 'object' ? opts.singleCell : {}) };
      const model = models[0]!;
      const box = cellDeep.boxSize ?? DEFAULT_BOX_SIZE;
      const input = cellDeep.cropInput === 'native' ? `native ${box} px` : cellDeep.cropInput === undefined || cellDeep.cropInput === 'network' ? 'enlarged to the network input' : `enlarged to ${cellDeep.cropInput} px`;
      const cellOut = path.join(opts.out, 'runs', `single-cell-${model}-box${box}-${cellDeep.cropInput ?? 'network'}`, 'illum-on');
      log(`grid: single-cell deep (${model}, ${box}-px boxes, ${input}) -> ${cellOut}`);
      const c = await runPipeline({
        metadata: opts.metadata, images: opts.images, moa: opts.moa, out: cellOut, model, illum, mode: 'cells', cellDeep,
        controlCompound: opts.controlCompound, cacheDir: opts.cacheDir, progress: opts.progress, log: (line) => log(`  ${line}`),
      });
      runs.splice(models.length, 0, {
        method: `single-cell deep (${model}, ${box}-px box around every nucleus, ${input}, cells averaged per field)`,
        out: cellOut,
        seconds: c.timings.secondsPerField ?? null,
      });
    }
    // plain means, as Table 1 (a normalized comparison: `morphoprof profile --normalize ...` then
    // `evaluate` on each run's features/; left out here because DuckDB's well aggregation of
    // 6,144-column deep features costs minutes even on a tiny screen)
    for (const run of runs) comparison.push(row(run.method, 'none', run.out, readMetrics(run.out), run.seconds));
  }
  const markdown = formatGrid(cells, models) + (comparison.length ? `\n${formatComparison(comparison)}` : '');
  const md = path.join(opts.out, 'grid.md');
  const csv = path.join(opts.out, 'grid.csv');
  await writeAtomic(md, markdown);
  await writeCsvRecords(csv, ['variant', ...models], GRID_VARIANTS.map((v) => ({
    variant: v.label,
    ...Object.fromEntries(models.map((m) => [m, percent(cells.find((c) => c.variant === v.label && c.model === m))])),
  })));
  if (comparison.length)
    await writeCsvRecords(path.join(opts.out, 'comparison.csv'), ['method', 'normalize', 'nsc', 'nscb', 'map', 'seconds_per_field', 'out'], comparison.map((c) => ({
      method: c.method, normalize: c.normalize, nsc: c.nsc.toFixed(4), nscb: c.nscb?.toFixed(4) ?? '', map: c.map?.toFixed(4) ?? '', seconds_per_field: c.secondsPerField?.toFixed(4) ?? '', out: c.out,
    })));
  return { out: opts.out, illum, models, cells, markdown, csv, md, comparison };
}

function readMetrics(out: string): Metrics {
  return JSON.parse(readFileSync(path.join(out, 'metrics.json'), 'utf8')) as Metrics;
}

function secondsPerField(out: string): number | null {
  try {
    return (JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')) as { timings?: { secondsPerField?: number } }).timings?.secondsPerField ?? null;
  } catch {
    return null;
  }
}

function row(method: string, normalize: ComparisonRow['normalize'], out: string, m: Metrics, seconds: number | null): ComparisonRow {
  const eligible = m.nscb?.eligible;
  return {
    method, normalize, out,
    nsc: m.nsc.accuracy, nscCorrect: m.nsc.correct, nscTotal: m.nsc.total,
    nscb: eligible && eligible.total > 0 ? eligible.correct / eligible.total : null,
    map: m.map.mean_average_precision,
    secondsPerField: seconds,
  };
}

/** The comparison of profile kinds as Markdown. */
export function formatComparison(rows: readonly ComparisonRow[]): string {
  const pct = (v: number | null) => (v === null ? 'n/a' : (100 * v).toFixed(1));
  const lines = [
    '| profile | normalization | NSC % | NSCB % | mAP | s per field |',
    '|---|---|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.method} | ${r.normalize === 'none' ? 'none (plain means)' : 'standardized on plate controls'} | ${pct(r.nsc)} | ${pct(r.nscb)} | ${r.map === null ? 'n/a' : r.map.toFixed(3)} | ${r.secondsPerField === null ? '' : r.secondsPerField.toFixed(3)} |`),
  ];
  return `${lines.join('\n')}\n\nNSC and NSCB: 1-NN cosine over treatments (NSCB over those with a same-MOA treatment in another batch; n/a when none has one). s per field: wall seconds of the feature stage per field on this machine, as measured when the features were made.\n`;
}
