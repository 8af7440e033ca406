import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cellScreen, type CellStageResult } from './cells/stage.js';
import { cellDeepScreen, type CellDeepOptions, type CellDeepResult } from './cells/deep.js';
import type { CellSettingsInput } from './cells/field.js';
import path from 'node:path';
import { embedScreen, type EmbedResult } from './embed/embed.js';
import type { EmbedSettings } from './embed/embedder.js';
import { metadataErrors } from './embed/field-errors.js';
import { DEFAULT_SHARD_SIZE } from './embed/store.js';
import { evaluate, type Metrics } from './evaluate/index.js';
import { errorMessage, MorphoprofError } from './errors.js';
import { computeIllumination } from './illum/index.js';
import { writeReport, type ReportOptions } from './report/index.js';
import { buildProfiles } from './profiles/index.js';
import { loadScreen, resolveImages } from './screen/index.js';
import { writeProfiles, type ProfileTable } from './table/index.js';
import type { Screen } from './screen/types.js';
import type { ProgressCallback } from './util/progress.js';

export interface RunOptions extends Partial<Omit<EmbedSettings, 'illum'>> {
  metadata: string;
  images: string;
  moa?: string;
  out: string;
  /** Illumination functions folder, or `auto` to compute them into `<out>/illum` first (reused if there). */
  illum?: string;
  batchSize?: number;
  shardSize?: number;
  controlCompound?: string;
  cacheDir?: string;
  onProgress?: ProgressCallback;
  progress?: boolean;
  /**
   * Normalize well profiles before treatment averaging (default `none`, the paper's plain means):
   * `standardize`/`robustize` against the plate's control wells, `sphere` = whitening on controls,
   * `tvn` = standardize on the screen's controls, then sphere (the preset of src/profiles/normalize.ts).
   */
  normalize?: 'none' | 'standardize' | 'robustize' | 'sphere' | 'tvn';
  /** `deep` (default): a network embeds each field; `classical`: nuclei and cells found and measured. */
  features?: 'deep' | 'classical';
  /** classical: segmentation and measurement settings (defaults from the screen's stains). */
  cells?: CellSettingsInput;
  /** classical: also write one row per object to `<out>/cells/`. */
  keepCells?: boolean;
  /** classical: worker threads (default one per core). */
  threads?: number;
  /** deep: `fields` (default) embeds whole fields; `cells` a box around every nucleus, cells aggregated per field. */
  mode?: 'fields' | 'cells';
  /** cells mode: box, network input, aggregation, locations table, segmentation settings. */
  cellDeep?: CellDeepOptions;
  /** Called with one human-readable line per stage. */
  log?: (line: string) => void;
  /** Options of the report (e.g. the stains and colours of its pictures). */
  report?: ReportOptions;
}

export interface RunResult {
  out: string;
  /** the stage that made the field features: the network's, or the classical cells stage's */
  embed: EmbedResult | CellStageResult | CellDeepResult;
  metrics: Metrics;
  timings: Record<string, number>;
}

/** `auto`: compute the screen's illumination functions into `<out>/illum` (reusing what is there). */
export async function resolveIllumination(illum: string | undefined, screen: Screen, out: string, log: (l: string) => void): Promise<string | undefined> {
  if (!illum) return undefined;
  if (illum !== 'auto') return illum;
  const dir = path.join(out, 'illum');
  await computeIllumination({ screen, out: dir, warn: (m: string) => log(`warning: ${m}`) });
  return dir;
}

/** The whole pipeline: screen -> (illumination) -> embedding -> treatment profiles -> evaluation. */
export async function runPipeline(opts: RunOptions): Promise<RunResult> {
  const log = opts.log ?? (() => {});
  const timings: Record<string, number> = {};
  const t0 = performance.now();
  await mkdir(opts.out, { recursive: true });

  const { screen, problems } = await loadScreen({ metadata: opts.metadata, images: opts.images, moa: opts.moa, controlCompound: opts.controlCompound });
  timings.screen = (performance.now() - t0) / 1000;
  const plates = new Set(screen.fields.map((f) => f.plate));
  log(`screen: ${screen.fields.length} fields on ${plates.size} plates, channels ${screen.channels.join(', ')}` + (problems.length ? `, ${problems.length} metadata problems (in errors.csv)` : ''));

  const tIllum = performance.now();
  const illum = await resolveIllumination(opts.illum, screen, opts.out, log);
  if (opts.illum === 'auto') {
    timings.illum = (performance.now() - tIllum) / 1000;
    log(`illum: functions in ${illum} (${timings.illum.toFixed(1)} s)`);
  }

  const t1 = performance.now();
  const { metadata: _m, images: _i, moa: _moa, out: _o, log: _l, report: _r, features: _f, cells: _c, keepCells: _k, threads: _t, mode: _mode, cellDeep: _cd, ...embedOpts } = opts;
  const classical = opts.features === 'classical';
  const singleCell = opts.mode === 'cells';
  if (classical && singleCell)
    throw new MorphoprofError('BAD_ARGUMENT', '--mode cells embeds a box around every cell with a network; --features classical measures cells already', 'give one of them: --features classical, or --mode cells');
  const embed = singleCell
    ? await cellDeepScreen({ ...embedOpts, ...opts.cellDeep, illum, screen, out: opts.out, keepCells: opts.keepCells, priorErrors: metadataErrors(problems), warn: (m) => log(`warning: ${m}`) })
    : classical
    ? await cellScreen({
        screen, out: opts.out, mode: 'classical', settings: { ...opts.cells, illum: illum ?? null }, keepCells: opts.keepCells, threads: opts.threads,
        shardSize: opts.shardSize, onProgress: opts.onProgress, progress: opts.progress, priorErrors: metadataErrors(problems), warn: (m) => log(`warning: ${m}`),
      })
    : await embedScreen({ ...embedOpts, illum, screen, out: opts.out, priorErrors: metadataErrors(problems), warn: (m) => log(`warning: ${m}`) });
  timings.embed = (performance.now() - t1) / 1000;
  const made = embed.fieldsEmbedded + embed.errors.filter((e) => e.stage === 'segment' || e.stage === 'read' || e.stage === 'embed').length;
  if (made > 0) timings.secondsPerField = (embed.seconds - embed.openSeconds) / made;
  else if (existsSync(path.join(opts.out, 'run.json'))) {
    // a resumed run keeps the per-field time measured when its fields were made
    const before = JSON.parse(await readFile(path.join(opts.out, 'run.json'), 'utf8')) as { timings?: Record<string, number> };
    if (before.timings?.secondsPerField) timings.secondsPerField = before.timings.secondsPerField;
  }
  log(
    `${classical ? 'classical' : singleCell ? 'cells' : 'embed'}: ${embed.fieldsEmbedded} fields ${classical ? 'segmented and measured' : 'embedded'}` +
      ('crops' in embed ? ` (${embed.crops} cells)` : '') +
      (embed.fieldsResumed ? `, ${embed.fieldsResumed} already done by an earlier run` : '') +
      (embed.errors.length ? `, ${embed.errors.length} skipped (see errors.csv)` : '') +
      ` in ${timings.embed.toFixed(1)} s`,
  );

  const t2 = performance.now();
  const warn = (m: string) => log(`warning: ${m}`);
  let profiles: string | ProfileTable = embed.featuresDir!;
  if (opts.normalize && opts.normalize !== 'none') {
    profiles = await buildProfiles(embed.featuresDir!, { normalize: opts.normalize, fit: 'controls', by: 'plate', controlCompound: screen.controlCompound, warn });
    await writeProfiles(path.join(opts.out, 'well_profiles.parquet'), profiles);
    timings.profile = (performance.now() - t2) / 1000;
    log(`profile: ${profiles.features.length} well profiles, ${opts.normalize} against ${screen.controlCompound} ${opts.normalize === 'tvn' ? 'over the screen' : 'per plate'}`);
  }
  const t3 = performance.now();
  const { metrics } = await evaluate({ profiles, out: opts.out, controlCompound: opts.controlCompound, warn });
  timings.evaluate = (performance.now() - t3) / 1000;
  timings.total = (performance.now() - t0) / 1000;

  await writeFile(
    path.join(opts.out, 'run.json'),
    JSON.stringify(
      {
        morphoprof: '0.1.0',
        settings: {
          metadata: path.resolve(opts.metadata),
          images: resolveImages(opts.images),
          moa: opts.moa ? path.resolve(opts.moa) : null,
          ...embed.settings,
          ...(classical ? { features: 'classical', keepCells: opts.keepCells === true } : singleCell ? { keepCells: opts.keepCells === true } : { batchSize: opts.batchSize ?? 8 }),
          shardSize: opts.shardSize ?? DEFAULT_SHARD_SIZE,
          controlCompound: screen.controlCompound,
          normalize: opts.normalize ?? 'none',
          composite: opts.report?.composite ?? null,
        },
        counts: { fields: embed.fieldsTotal, embedded: embed.fieldsEmbedded, resumed: embed.fieldsResumed, skipped: embed.errors.length, shardsRebuilt: embed.shardsRebuilt.length },
        timings,
        metrics,
      },
      null,
      2,
    ) + '\n',
  );
  try {
    const report = await writeReport(opts.out, opts.report);
    log(`report: ${report.html}`);
  } catch (err) {
    log(`warning: report not written: ${errorMessage(err)}`);
  }
  return { out: opts.out, embed, metrics, timings };
}
