/**
 * `writeReport(runDir)`: one self-contained HTML page a biologist can read (headline accuracies,
 * confusion matrix, per-MOA accuracy, a map of the treatment profiles, nearest neighbours, run
 * settings, timings, skipped fields) plus PNG and SVG figures of the charts for papers.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import type { MetadataValue } from '../table/types.js';
import { escapeHtml, htmlPage, htmlTable, raw } from './html.js';
import { readRunInputs, RUN_FILES, type Records, type ReportInputs } from './inputs.js';
import { pcaMap, umapMap, UMAP_MIN_TREATMENTS, type ProfileMap } from './map.js';
import { renderSvg, svgToPng } from './render.js';
import { confusionSpec, mapSpec, perMoaSpec } from './specs.js';
import { cellsSection, DEFAULT_PICTURE_BUDGET, galleryHtml, GALLERY_FILE, pictureImg, pictureLegend, planPictures, thumbnailId, type PicturePlacement, type PicturePlan } from './gallery.js';
import { cellPictures, type CellPictures, type NoPictures } from './pictures.js';

export interface ReportOptions {
  /** Also lay the treatment profiles out with UMAP (beside PCA). */
  umap?: boolean;
  /** Rows of errors.csv shown on the page (default 50); all are counted. */
  errorRows?: number;
  /** PNG scale relative to the chart's size in CSS pixels (default 2). */
  pngScale?: number;
  /** Pictures of the cells (default on when the run's images can be found). */
  pictures?: boolean;
  /** Stains and colours, e.g. `DAPI:blue,Tubulin:green,Actin:red` (default: run.json's, else DNA blue, tubulin green, actin red). */
  composite?: string;
  /** Stain scaling of the pictures: over all pictures (`screen`, default) or per picture (`field`). */
  pictureScale?: 'screen' | 'field';
  /** Bytes of pictures report.html may embed (default 8 MB); over it the gallery goes to gallery.html. */
  pictureBudget?: number;
}

export interface ReportFiles {
  /** `<run>/report.html` */
  html: string;
  /** `<run>/figures/<chart>.png` and `.svg`, for every chart drawn. */
  figures: string[];
  /** `<run>/gallery.html` when the pictures were over the page's budget. */
  gallery: string | null;
  /** Treatments with a picture and where they are, or why there are none. */
  pictures: { count: number; placement: PicturePlacement; reportBytes: number; galleryBytes: number } | { count: 0; reason: string };
}

export interface Chart {
  /** Element id in the page and figure file name. */
  name: string;
  spec: TopLevelSpec;
}

async function writeAtomic(file: string, data: string | Buffer): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, data);
  await rename(temp, file);
}

const percent = (x: number | null | undefined): string => (typeof x === 'number' && Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : 'n/a');

function formatValue(value: unknown): string {
  if (value === null || value === undefined || value === '') return '—';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
  if (Array.isArray(value)) return value.map(formatValue).join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function card(label: string, value: string, detail: string): string {
  return `<div class="card"><div class="label">${escapeHtml(label)}</div><div class="value">${escapeHtml(value)}</div><div class="detail">${escapeHtml(detail)}</div></div>`;
}

function headline(inputs: ReportInputs): string {
  const { nsc, nscb, map } = inputs.metrics;
  const cards = [card('NSC accuracy', percent(nsc.accuracy), `${nsc.correct} of ${nsc.total} treatments`)];
  const explain = [
    'NSC (not-same-compound) accuracy: each treatment (a compound at one concentration) is given the mechanism of action (MOA) of its most similar treatment of another compound; the accuracy is the share of treatments whose MOA this gets right.',
  ];
  const undefinedNscb = nscb && typeof nscb.note === 'string' ? nscb.note : null;
  if (nscb && undefinedNscb) {
    cards.push(card('NSCB accuracy', 'n/a', undefinedNscb));
    explain.push('NSCB also excludes neighbours from the same batch; here no treatment has such a neighbour, so it measures nothing (n/a, not zero).');
  } else if (nscb) {
    cards.push(card('NSCB accuracy', percent(nscb.accuracy), `${nscb.correct} of ${nscb.total} treatments`));
    const eligible = nscb.eligible as { accuracy?: unknown; correct?: unknown; total?: unknown } | null | undefined;
    if (eligible && typeof eligible.correct === 'number' && typeof eligible.total === 'number') {
      const accuracy = typeof eligible.accuracy === 'number' ? eligible.accuracy : eligible.total ? eligible.correct / eligible.total : null;
      cards.push(card('NSCB, eligible treatments', percent(accuracy), `${eligible.correct} of ${eligible.total} with a same-MOA neighbour in another batch`));
    }
    explain.push('NSCB also excludes neighbours from the same batch; some treatments then have no same-MOA neighbour left, so it is also shown over the treatments that have one.');
  }
  if (map && typeof map.mean_average_precision === 'number') {
    const p = typeof map.p_value === 'number' ? `p = ${Number(map.p_value.toPrecision(2))}` : 'no p-value';
    const permutations = typeof map.permutations === 'number' ? ` (${map.permutations} permutations)` : '';
    cards.push(card('Mean average precision', map.mean_average_precision.toFixed(3), `${p}${permutations}`));
    explain.push('Mean average precision (mAP): how highly treatments of the same MOA rank among each treatment\'s most similar profiles (1 = always first); the p-value comes from shuffling the MOA labels.');
  }
  const excluded = inputs.metrics.excluded;
  const control = inputs.metrics.control_compound ?? 'control';
  const left: string[] = [];
  if (excluded?.control) left.push(`${excluded.control} ${control} treatment(s) (the negative control)`);
  if (excluded?.without_moa) left.push(`${excluded.without_moa} treatment(s) without an MOA${excluded.without_moa_treatments?.length ? ` (${excluded.without_moa_treatments.join(', ')})` : ''}`);
  const similarity = inputs.metrics.similarity ? ` Similarity: ${inputs.metrics.similarity}.` : '';
  return `<section id="summary"><div class="cards">${cards.join('')}</div>
${explain.map((e) => `<p>${escapeHtml(e)}</p>`).join('\n')}
<p class="muted">${escapeHtml(`Not evaluated: ${left.length ? left.join('; ') : 'none'}.${similarity}`)}</p></section>`;
}

function chartSection(id: string, title: string, intro: string, charts: Chart[], figures: boolean): string {
  const divs = charts.map((c) => `<div class="chart" id="${escapeHtml(c.name)}"></div>`).join('');
  const papers = figures ? `\n<p class="muted">${escapeHtml(`Figures for papers: ${charts.map((c) => `figures/${c.name}.png`).join(', ')} (and .svg).`)}</p>` : '';
  return `<section id="${escapeHtml(id)}"><h2>${escapeHtml(title)}</h2><p>${escapeHtml(intro)}</p><div class="charts">${divs}</div>${papers}</section>`;
}

const NEIGHBOR_TITLES: Record<string, string> = {
  Metadata_Compound: 'Compound',
  Metadata_Concentration: 'Concentration',
  Metadata_MOA: 'MOA',
  Neighbor_Compound: 'Nearest neighbour',
  Neighbor_Concentration: 'Its concentration',
  Neighbor_MOA: 'Its MOA',
  Similarity: 'Similarity',
  Correct: 'MOA right?',
};

function neighborCell(column: string, value: MetadataValue): unknown {
  if (column.toLowerCase() === 'correct') {
    const right = value === 1 || String(value).toLowerCase() === 'true';
    return raw(right ? '<span class="ok">yes</span>' : '<span class="bad">no</span>');
  }
  if (column === 'Similarity' && typeof value === 'number') return value.toFixed(3);
  return formatValue(value);
}

/** The picture column after the treatment's MOA and after its neighbour's MOA. */
const PICTURE_AFTER: Record<string, [title: string, compound: string, concentration: string]> = {
  Metadata_MOA: ['Picture', 'Metadata_Compound', 'Metadata_Concentration'],
  Neighbor_MOA: ['Its picture', 'Neighbor_Compound', 'Neighbor_Concentration'],
};

function neighborSection(neighbors: Records, plan: PicturePlan | null): string {
  const key = (row: Record<string, MetadataValue>): [string, string, number] => [
    String(row.Metadata_MOA ?? ''),
    String(row.Metadata_Compound ?? ''),
    Number(row.Metadata_Concentration ?? 0),
  ];
  const rows = [...neighbors.rows].sort((a, b) => {
    const [ma, ca, xa] = key(a);
    const [mb, cb, xb] = key(b);
    return ma.localeCompare(mb) || ca.localeCompare(cb) || xa - xb;
  });
  const withPictures = plan !== null && plan.thumbnailOf.size > 0;
  const after = (c: string): [string, string, string] | undefined => (withPictures ? PICTURE_AFTER[c] : undefined);
  const picture = (row: Record<string, MetadataValue>, compound: string, concentration: string): unknown => {
    const id = thumbnailId(plan, row[compound], row[concentration]);
    return id ? raw(pictureImg(id, `${String(row[compound] ?? '')} at ${String(row[concentration] ?? '')}`, 88, 70)) : '—';
  };
  const table = htmlTable(
    neighbors.columns.flatMap((c) => [NEIGHBOR_TITLES[c] ?? c, ...(after(c) ? [after(c)![0]] : [])]),
    rows.map((row) => neighbors.columns.flatMap((c) => [neighborCell(c, row[c] ?? null), ...(after(c) ? [picture(row, after(c)![1], after(c)![2])] : [])])),
  );
  return `<section id="neighbors"><h2>Nearest neighbours</h2>
<p>${escapeHtml(`For each of the ${rows.length} evaluated treatments: the most similar treatment of another compound, and whether its MOA is the same. Sorted by MOA and compound; all rows are in ${RUN_FILES.neighbors}.`)}</p>
<div class="scroll">${table}</div></section>`;
}

function runSection(inputs: ReportInputs): string {
  const run = inputs.run;
  if (!run) return '';
  const kv = (object: Record<string, unknown>): string => htmlTable(['Setting', 'Value'], Object.entries(object).map(([k, v]) => [k, formatValue(v)]), 'kv');
  const timings = Object.entries(run.timings).map(([stage, seconds]) => [stage, typeof seconds === 'number' ? `${seconds.toFixed(1)} s` : formatValue(seconds)]);
  return `<section id="run"><h2>Run settings</h2>${kv(run.settings)}
<h2>Counts</h2>${kv(run.counts)}
<h2>Timings</h2>${htmlTable(['Stage', 'Time'], timings, 'kv')}</section>`;
}

function errorSection(errors: Records, limit: number): string {
  const total = errors.rows.length;
  if (total === 0) return `<section id="errors"><h2>Skipped fields</h2><p>No field or image was skipped.</p></section>`;
  const shown = errors.rows.slice(0, limit);
  const what = total > shown.length ? `the first ${shown.length} of ${total}` : `all ${total}`;
  return `<section id="errors"><h2>Skipped fields</h2>
<p>${escapeHtml(`${total} field(s) or image(s) were skipped and left out of the profiles. Shown: ${what}; all are in ${RUN_FILES.errors}.`)}</p>
<div class="scroll">${htmlTable(errors.columns, shown.map((row) => errors.columns.map((c) => formatValue(row[c]))))}</div></section>`;
}

async function profileMaps(inputs: ReportInputs, umap: boolean): Promise<ProfileMap[]> {
  const treatments = inputs.treatments;
  if (!treatments) return [];
  if (treatments.features.length < 2 || treatments.featureColumns.length === 0) {
    inputs.notes.push('Fewer than 2 treatment profiles: the map of treatment profiles is not shown.');
    return [];
  }
  const control = inputs.metrics.control_compound ?? 'DMSO';
  const maps = [pcaMap(treatments, control)];
  if (umap) {
    const layout = await umapMap(treatments, control);
    if (layout) maps.push(layout);
    else inputs.notes.push(`UMAP needs at least ${UMAP_MIN_TREATMENTS} treatments; only PCA is shown.`);
  }
  return maps;
}

/**
 * The pictures of the cells (or why there are none), where they go, and gallery.html when they are
 * over the page's budget (a stale gallery.html of an earlier report is removed).
 */
async function picturesOf(runDir: string, inputs: ReportInputs, opts: ReportOptions): Promise<{ pictures: CellPictures | NoPictures; plan: PicturePlan | null; gallery: string | null }> {
  const control = inputs.metrics.control_compound ?? 'DMSO';
  const settings = inputs.run?.settings ?? null;
  const pictures: CellPictures | NoPictures =
    opts.pictures === false
      ? { reason: 'turned off (--no-pictures)' }
      : await cellPictures(settings, path.join(runDir, RUN_FILES.features), {
          composite: opts.composite ?? (typeof settings?.composite === 'string' ? settings.composite : undefined),
          scale: opts.pictureScale,
        });
  const plan = 'reason' in pictures ? null : await planPictures(pictures, opts.pictureBudget ?? DEFAULT_PICTURE_BUDGET);
  const gallery = path.join(runDir, GALLERY_FILE);
  if (!plan?.gallery || 'reason' in pictures) {
    await rm(gallery, { force: true });
    return { pictures, plan, gallery: null };
  }
  const body = `<header><h1>Pictures of the cells</h1><p class="sub">${escapeHtml(`Run ${path.resolve(runDir)} · ${pictures.pictures.length} treatments · the report is report.html beside this file`)}</p></header>
<p class="muted">${escapeHtml(pictureLegend(pictures))}</p>
${galleryHtml(pictures, control)}`;
  await writeAtomic(gallery, htmlPage(`morphoprof gallery: ${path.basename(path.resolve(runDir))}`, body, {}, plan.gallery));
  return { pictures, plan, gallery };
}

/** What the page says about the run it reports on, beside its inputs. */
export interface ReportPageContext {
  /** The run: its folder for the CLI, the folder picked in the browser page. */
  runLabel: string;
  /** Short name in the page title. */
  name: string;
  /** Pictures of the cells (or why there are none) and where they go. */
  pictures: CellPictures | NoPictures;
  plan: PicturePlan | null;
  /** Where the figures for papers are written, or null when no figure files are made (the browser page). */
  figures: 'figures/' | null;
}

/**
 * The report page from its inputs, without touching files: the HTML and the charts drawn in it.
 * `writeReport` writes it (and the figures) into a run folder; the browser page (web/) offers it
 * as a download.
 */
export async function reportPage(inputs: ReportInputs, ctx: ReportPageContext, opts: Pick<ReportOptions, 'umap' | 'errorRows'> = {}): Promise<{ html: string; charts: Chart[] }> {
  const maps = await profileMaps(inputs, opts.umap ?? false);
  const control = inputs.metrics.control_compound ?? 'DMSO';
  const { pictures, plan } = ctx;
  const withPicture = (m: ProfileMap): ProfileMap => ({ ...m, points: m.points.map((p) => ({ ...p, picture: thumbnailId(plan, p.compound, p.concentration) ?? null })) });

  const confusionCharts: Chart[] = inputs.confusion?.labels.length ? [{ name: 'confusion_matrix', spec: confusionSpec(inputs.confusion) }] : [];
  const perMoaCharts: Chart[] = inputs.perMoa?.length ? [{ name: 'per_moa_accuracy', spec: perMoaSpec(inputs.perMoa, inputs.metrics.nsc.accuracy) }] : [];
  const mapCharts: Chart[] = maps.map((m) => ({ name: m.method === 'pca' ? 'profile_map' : 'profile_map_umap', spec: mapSpec(m) }));
  const charts = [...confusionCharts, ...perMoaCharts, ...mapCharts];
  // In the page, the map's tooltip also shows the treatment's picture (not in the figures for papers).
  const pageSpecs = new Map(maps.map((m) => [m.method === 'pca' ? 'profile_map' : 'profile_map_umap', mapSpec(withPicture(m))]));
  const section = (id: string, title: string, intro: string, list: Chart[]) => chartSection(id, title, intro, list, ctx.figures !== null);

  const model = typeof inputs.run?.settings.model === 'string' ? `, model ${inputs.run.settings.model}` : '';
  const version = inputs.run?.version ? `morphoprof ${inputs.run.version}` : 'morphoprof';
  const sections = [
    `<header><h1>Morphological profiling report</h1><p class="sub">${escapeHtml(`Run ${ctx.runLabel}${model} · ${version} · report made ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`)}</p></header>`,
    headline(inputs),
    inputs.notes.length ? `<div class="notes">${inputs.notes.map((n) => `<p>${escapeHtml(n)}</p>`).join('')}</div>` : '',
    confusionCharts.length
      ? section('confusion', 'Which MOAs are confused', 'Rows: the true MOA of a treatment; columns: the MOA of its nearest treatment of another compound. Numbers count treatments; the colour is the share of the row, so a dark diagonal means the profiles separate the MOAs.', confusionCharts)
      : '',
    perMoaCharts.length
      ? section('per-moa', 'Accuracy per MOA', 'The share of each MOA\'s treatments whose nearest neighbour (another compound) has the same MOA. The dashed line is the overall accuracy.', perMoaCharts)
      : '',
    mapCharts.length
      ? section('map', 'Map of the treatment profiles', `Each point is one treatment profile (the mean of its fields' features), placed so that similar profiles are close (${maps.map((m) => m.method.toUpperCase()).join(' and ')}). Hover over a point for the compound, concentration and MOA${plan?.thumbnailOf.size ? ' and a picture of its most typical field' : ''}; the cross marks the negative control.`, mapCharts)
      : '',
    cellsSection(pictures, plan, control),
    inputs.neighbors ? neighborSection(inputs.neighbors, plan) : '',
    runSection(inputs),
    inputs.errors ? errorSection(inputs.errors, opts.errorRows ?? 50) : '',
  ];
  const specs = Object.fromEntries(charts.map((c) => [c.name, pageSpecs.get(c.name) ?? c.spec]));
  return { html: htmlPage(`morphoprof report: ${ctx.name}`, sections.filter(Boolean).join('\n'), specs, plan?.report ?? {}), charts };
}

/** Writes `<runDir>/report.html` and `<runDir>/figures/*.png|svg`; returns their paths. */
export async function writeReport(runDir: string, opts: ReportOptions = {}): Promise<ReportFiles> {
  const inputs = await readRunInputs(runDir);
  const { pictures, plan, gallery } = await picturesOf(runDir, inputs, opts);
  const page = await reportPage(inputs, { runLabel: path.resolve(runDir), name: path.basename(path.resolve(runDir)), pictures, plan, figures: 'figures/' }, opts);

  const figuresDir = path.join(runDir, 'figures');
  await mkdir(figuresDir, { recursive: true });
  const figures: string[] = [];
  for (const chart of page.charts) {
    const svg = await renderSvg(chart.spec);
    const base = path.join(figuresDir, chart.name);
    await writeAtomic(`${base}.svg`, svg);
    await writeAtomic(`${base}.png`, svgToPng(svg, opts.pngScale ?? 2));
    figures.push(`${base}.png`, `${base}.svg`);
  }
  const html = path.join(runDir, 'report.html');
  await writeAtomic(html, page.html);
  const summary: ReportFiles['pictures'] =
    'reason' in pictures || !plan
      ? { count: 0, reason: 'reason' in pictures ? pictures.reason : 'none' }
      : { count: pictures.pictures.length, placement: plan.placement, reportBytes: plan.reportBytes, galleryBytes: plan.galleryBytes };
  return { html, figures, gallery, pictures: summary };
}
