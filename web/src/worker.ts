/**
 * The page's Web Worker: every step of the run happens here, so the page stays responsive. It
 * runs the CLI's own modules (screen tables and validation, TIFF reading, area downsampling,
 * percentile scaling, preprocessing, evaluation, the report) on the picked folder, mounted as a
 * read-only file system (host/vfs.ts); only the model session is the browser's (session.ts).
 */
import { checkFieldFiles } from '../../src/embed/embed.js';
import { DEFAULT_SETTINGS, FieldEmbedder, METADATA_COLUMNS, type EmbedSettings } from '../../src/embed/embedder.js';
import { ERROR_COLUMNS, errorRecords, metadataErrors, type FieldError } from '../../src/embed/field-errors.js';
import { errorMessage, MorphoprofError } from '../../src/errors.js';
import { evaluateTable } from '../../src/evaluate/evaluate.js';
import { buildProfiles } from '../../src/profiles/build.js';
import { metricsOf, NEIGHBOR_COLUMNS, neighborRows, type Metrics } from '../../src/evaluate/write.js';
import { useLibraryScripts } from '../../src/report/html.js';
import type { ReportInputs, ReportMetrics } from '../../src/report/inputs.js';
import { reportPage } from '../../src/report/report.js';
import { detectLayout, loadScreen, type Problem } from '../../src/screen/load.js';
import { summarizeScreen } from '../../src/screen/summary.js';
import type { Screen } from '../../src/screen/types.js';
import type { ProfileTable } from '../../src/table/types.js';
import { parquetBytes } from '../../src/table/write.js';
import { csvText } from '../../src/util/csv.js';
import { fileAt, mountFiles, pathsEndingWith, readHeadSync, unmountAll } from './host/vfs.js';
import { imageRefFile } from '../../src/image/source.js';
import type { Downloads, FromWorker, PickedFile, RunOptions, ToWorker } from './protocol.js';
import { ReadingWorker } from './reading.js';
import { networkInfo, rawImagesPerSecond } from '../../src/models/session-core.js';
import { openWebModel, wasmThreads } from './session.js';
import { choosePrecision } from './precision.js';
import { installKernels } from './kernels.js';

declare const MORPHOPROF_VERSION: string;

const post = (message: FromWorker): void => (self as unknown as Worker).postMessage(message);
const base = new URL('.', self.location.href).href;

/** Above this many bytes of features the screen is refused before embedding (the CLI or the fleet is the tool then). */
const FEATURE_BUDGET = 1.5e9;

let screen: Screen | null = null;
let problems: Problem[] = [];
let folder = '';
/** the picked files, mounted here and given to the reading worker */
let picked: PickedFile[] = [];

/** The image table (LoadData or BBBC021 layout) and the MOA table among the picked CSV files. */
function findTables(paths: string[]): { table: string; moa: string | null; notes: string[] } {
  const notes: string[] = [];
  const images: string[] = [];
  const moas: string[] = [];
  for (const p of paths.filter((p) => p.toLowerCase().endsWith('.csv')).sort()) {
    const first = readHeadSync(p).replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0] ?? '';
    const header = first.split(',').map((h) => h.trim().replace(/^"|"$/g, ''));
    const lower = header.map((h) => h.toLowerCase());
    if (detectLayout(header)) images.push(p);
    else if (['compound', 'concentration', 'moa'].every((c) => lower.includes(c))) moas.push(p);
  }
  if (images.length === 0) {
    throw new MorphoprofError(
      'FILE_NOT_FOUND',
      `The folder holds no metadata table: none of its ${paths.filter((p) => p.toLowerCase().endsWith('.csv')).length} CSV file(s) has FileName_<Stain> (CellProfiler LoadData) or Image_FileName_<Stain> (BBBC021_v1_image.csv) columns`,
      'Pick the folder that holds the image table and the TIFFs (the folder you would give the CLI as --metadata and --images)',
    );
  }
  if (images.length > 1) notes.push(`${images.length} image tables found; using ${images[0]} (others: ${images.slice(1).join(', ')})`);
  // a table named like BBBC021_v1_moa.csv first
  moas.sort((a, b) => Number(!/moa/i.test(a.slice(a.lastIndexOf('/')))) - Number(!/moa/i.test(b.slice(b.lastIndexOf('/')))));
  if (moas.length > 1) notes.push(`${moas.length} MOA tables found; using ${moas[0]} (others: ${moas.slice(1).join(', ')})`);
  return { table: images[0]!, moa: moas[0] ?? null, notes };
}

/**
 * The folder the table's PathName columns are relative to (the CLI's --images): the table's own
 * folder when the images it names are there, else the folder that holds the first of them found
 * (e.g. `images/` beside the table). Only image paths under the table's folder are tried.
 */
function imagesRoot(loaded: Screen, tableDir: string): string {
  for (const f of loaded.fields) {
    for (const ch of loaded.channels) {
      const ref = f.images[ch];
      if (!ref) continue;
      const file = imageRefFile(ref);
      if (fileAt(file)) return tableDir;
      if (!file.startsWith(`${tableDir}/`)) continue;
      const rel = file.slice(tableDir.length + 1);
      const found = pathsEndingWith(rel)[0];
      if (found) return found.slice(0, found.length - rel.length - 1) || '/';
    }
  }
  return tableDir;
}

async function inspect(files: PickedFile[]): Promise<void> {
  unmountAll();
  screen = null;
  picked = files;
  mountFiles(files);
  const paths = files.map((f) => `/${f.path.replace(/^\/+/, '')}`);
  folder = paths[0]?.split('/')[1] ?? '';
  const { table, moa, notes } = findTables(paths);
  const tableDir = table.slice(0, table.lastIndexOf('/')) || '/';
  let loaded = await loadScreen({ metadata: table, images: tableDir, moa: moa ?? undefined });
  const root = imagesRoot(loaded.screen, tableDir);
  if (root !== tableDir) {
    notes.push(`The table's image paths are relative to ${root}`);
    loaded = await loadScreen({ metadata: table, images: root, moa: moa ?? undefined });
  }
  screen = loaded.screen;
  problems = loaded.problems;
  const summary = await summarizeScreen(screen, { checkFiles: true });
  post({ type: 'inspected', summary, problems, table, moaTable: moa, notes });
}

/** Features as CSV with the CLI's columns. */
function featuresCsv(table: ProfileTable): string {
  const columns = [...table.metadataColumns, ...table.featureColumns];
  const rows = table.metadata.map((m, i) => {
    const row: Record<string, unknown> = { ...m };
    const f = table.features[i]!;
    table.featureColumns.forEach((c, j) => (row[c] = f[j]));
    return row;
  });
  return csvText(columns, rows);
}

async function libraries(): Promise<string[]> {
  const names = ['vega.min.js', 'vega-lite.min.js', 'vega-embed.min.js'];
  return Promise.all(names.map(async (n) => (await fetch(new URL(`lib/${n}`, base))).text()));
}

async function modelBytes(options: RunOptions): Promise<{ name: string; bytes: Uint8Array; preprocess?: RunOptions['preprocess'] }> {
  if (options.model) return { name: options.model.name, bytes: new Uint8Array(options.model.bytes), preprocess: options.preprocess };
  const info = (await (await fetch(new URL('model.json', base))).json()) as { name: string | null };
  if (info.name === null) {
    throw new MorphoprofError('BAD_MODEL', 'This page was built without a model (no model.onnx beside it)', 'Choose an .onnx file on the page (e.g. made by `morphoprof models export resnet50 --out resnet50.onnx`), or build the page again with `npm run build:web`, which converts ResNet-50');
  }
  const name = info.name;
  const bytes = new Uint8Array(await (await fetch(new URL('model.onnx', base))).arrayBuffer());
  return { name, bytes };
}

async function run(options: RunOptions): Promise<void> {
  if (!screen) throw new MorphoprofError('BAD_ARGUMENT', 'No screen yet', 'Pick a folder first');
  const errors: FieldError[] = [...metadataErrors(problems)];
  const checked = checkFieldFiles(screen);
  errors.push(...checked.errors);
  post({ type: 'errors', errors });
  let table: ProfileTable | null = null;
  let openSeconds = 0;
  let embedSeconds = 0;
  const total = checked.present.length;
  const downloads = async (): Promise<Downloads> => ({
    featuresCsv: table && table.features.length ? featuresCsv(table) : null,
    featuresParquet: table && table.features.length ? await parquetBytes(table) : null,
    errorsCsv: csvText(ERROR_COLUMNS, errorRecords(errors)),
    metricsJson: null,
    reportHtml: null,
  });
  try {
    if (checked.present.length === 0) throw new MorphoprofError('NOTHING_VALID', `None of the ${screen.fields.length} fields has all its image files in the picked folder`, 'Pick the folder that holds the image table and the TIFFs it names');
    const scripts = libraries();
    const model = await modelBytes(options);
    const threads = wasmThreads();
    const backend = options.provider === 'webgpu' ? 'WebGPU' : `WebAssembly SIMD; ${threads.why}`;
    post({ type: 'backend', text: backend });
    // the calibration images of int8 are read here, the screen's in the reading worker: both with the same kernels
    await installKernels(base);
    const web = { name: model.name, preprocess: model.preprocess, wasmPaths: new URL('ort/', base).href };
    const fp32 = await openWebModel(model.bytes, { ...web, executionProvider: options.provider });
    const dims = screen.channels.length * fp32.embeddingDim;
    if (checked.present.length * dims * 4 > FEATURE_BUDGET) {
      throw new MorphoprofError(
        'NOTHING_VALID',
        `${checked.present.length} fields x ${dims} features is ${((checked.present.length * dims * 4) / 1e9).toFixed(1)} GB of features, more than a browser tab holds safely (${FEATURE_BUDGET / 1e9} GB)`,
        'Profile this screen with the command line (morphoprof run) or the fleet (morphoprof queue), or pick one plate at a time',
      );
    }
    if (options.precision !== 'fp32') post({ type: 'stage', text: 'Calibrating int8 on the control fields' });
    const chosen = await choosePrecision(options.precision, {
      fp32,
      reader: () => FieldEmbedder.withModel(screen!, { ...DEFAULT_SETTINGS, model: model.name }, fp32, checked.present),
      bytes: model.bytes,
      name: model.name,
      present: checked.present,
      controlCompound: screen.controlCompound,
      batch: options.batchSize * screen.channels.length, // images per run, as in the embedding (a field is an image per stain)
      // int8 (QDQ) runs on WebAssembly's integer kernels
      openInt8: (bytes) => openWebModel(bytes, { ...web, executionProvider: 'wasm', precision: 'int8' }),
    });
    post({ type: 'precision', precision: chosen.precision, text: chosen.text });
    const session = chosen.session;
    const opening = performance.now();
    const settings: EmbedSettings = { ...DEFAULT_SETTINGS, model: model.name, precision: chosen.precision };
    const embedder = await FieldEmbedder.withModel(screen, settings, session, checked.present);
    table = { metadataColumns: [...METADATA_COLUMNS], metadata: [], featureColumns: embedder.featureColumns, features: [] };
    const batches: Array<{ fields: typeof checked.present }> = [];
    for (let i = 0; i < checked.present.length; i += options.batchSize) batches.push({ fields: checked.present.slice(i, i + options.batchSize) });
    // reading, downsampling and scaling run in a worker of their own, overlapping inference here
    const reading = await ReadingWorker.open(new URL('reader.js', base), { files: picked, screen, settings, network: networkInfo(session), geometryFrom: checked.present });
    post({ type: 'backend', text: `${backend}; images read with ${reading.kernels}` });
    try {
      const ahead = reading.start(batches);
      // the network's first run plans its graph and packs its weights (seconds for ResNet-50), while the first batches are read: part of opening it, as the CLI's opening of the network is not counted in its embedding time
      // (a network that refuses one image, e.g. one of a fixed batch size, is not warmed: its own batches say what it refuses)
      await session.embed(new Float32Array(3 * session.inputSize * session.inputSize), 1).catch(() => {});
      openSeconds = (performance.now() - opening) / 1000;
      const rawRate = async (rounds: number) => (await rawImagesPerSecond(session, options.batchSize * embedder.imagesPerField, rounds)).imagesPerSecond;
      const raw = options.rawRounds ? await rawRate(options.rawRounds) : 0;
      const t0 = performance.now();
      let done = 0;
      post({ type: 'progress', done, total, fieldsPerSecond: 0, etaSeconds: null });
      await ahead.embed(embedder, (b, part) => {
        table!.metadata.push(...part.table.metadata);
        table!.features.push(...part.table.features);
        if (part.errors.length) {
          errors.push(...part.errors);
          post({ type: 'errors', errors: part.errors });
        }
        done += b.fields.length;
        const rate = done / ((performance.now() - t0) / 1000);
        post({ type: 'progress', done, total, fieldsPerSecond: rate, etaSeconds: rate > 0 ? (total - done) / rate : null });
      });
      embedSeconds = (performance.now() - t0) / 1000;
      if (options.rawRounds) post({ type: 'raw', before: raw, after: await rawRate(options.rawRounds), embedding: (table.features.length * embedder.imagesPerField) / embedSeconds });
    } finally {
      reading.close();
    }
    await embedder.dispose();
    if (table.features.length === 0) throw new MorphoprofError('NOTHING_VALID', `None of the ${total} fields could be read`, 'The error table says why for each');

    post({ type: 'stage', text: 'Evaluating (NSC, NSCB, mAP)' });
    const t1 = performance.now();
    const warnings: string[] = [];
    let evaluated: Awaited<ReturnType<typeof evaluateTable>>;
    try {
      // as `morphoprof run --normalize`: well profiles normalized against the plate's control wells (tvn: the screen's)
      const normalized = options.normalize !== 'none' ? await buildProfiles(table, { normalize: options.normalize, fit: 'controls', by: 'plate', controlCompound: screen.controlCompound, warn: (m) => warnings.push(m) }) : table;
      evaluated = await evaluateTable(normalized, { controlCompound: screen.controlCompound, warn: (m) => warnings.push(m) });
    } catch (err) {
      // the features stand without an evaluation (e.g. a screen of controls only): done, saying why there is no report
      if (!(err instanceof MorphoprofError)) throw err;
      post({ type: 'done', metrics: null, note: `No evaluation or report: ${err.message}${err.hint ? ` (${err.hint})` : ''}`, downloads: await downloads(), seconds: { open: openSeconds, embed: embedSeconds, evaluate: 0, report: 0 } });
      return;
    }
    const { result, treatments } = evaluated;
    const metrics: Metrics = metricsOf(result);
    const evaluateSeconds = (performance.now() - t1) / 1000;

    post({ type: 'stage', text: 'Writing the report' });
    const t2 = performance.now();
    const texts = await scripts;
    useLibraryScripts(() => texts);
    const inputs: ReportInputs = {
      dir: folder,
      metrics: metrics as unknown as ReportMetrics,
      confusion: result.confusion,
      neighbors: { file: 'neighbors.csv', columns: [...NEIGHBOR_COLUMNS], rows: neighborRows(result) },
      perMoa: result.perMoa,
      treatments,
      run: {
        settings: { model: model.name, precision: chosen.precision, channels: 'grey', scaling: settings.scaling, normalize: options.normalize, backend: `onnxruntime-web (${options.provider === 'webgpu' && chosen.precision === 'fp32' ? 'WebGPU' : `WASM, ${threads.threads} thread(s)`})`, batch_size: options.batchSize },
        counts: { fields: screen.fields.length, embedded: table.features.length, skipped: errors.filter((e) => e.stage !== 'metadata').length },
        timings: { embed: openSeconds + embedSeconds, evaluate: evaluateSeconds, secondsPerField: embedSeconds / total },
        version: `${MORPHOPROF_VERSION} in the browser`,
      },
      errors: { file: 'errors.csv', columns: [...ERROR_COLUMNS], rows: errorRecords(errors) },
      notes: warnings,
    };
    const page = await reportPage(inputs, { runLabel: `${folder} (in the browser)`, name: folder, pictures: { reason: 'not drawn in the browser page (the command line draws them)' }, plan: null, figures: null });
    const out = await downloads();
    out.metricsJson = `${JSON.stringify(metrics, null, 2)}\n`;
    out.reportHtml = page.html;
    post({ type: 'done', metrics, downloads: out, seconds: { open: openSeconds, embed: embedSeconds, evaluate: evaluateSeconds, report: (performance.now() - t2) / 1000 } });
  } catch (err) {
    failed(err, await downloads().catch(() => null));
  }
}

function failed(err: unknown, downloads: Downloads | null): void {
  const tooBig = err instanceof RangeError && /memory|allocation|buffer/i.test(err.message);
  // the hint goes beside the message (errorMessage would put it in the message too)
  const message = tooBig ? `The browser ran out of memory (${err.message})` : err instanceof MorphoprofError ? err.message : errorMessage(err);
  const hint = tooBig ? 'Profile this screen with the command line (morphoprof run), or pick one plate at a time' : err instanceof MorphoprofError ? err.hint : undefined;
  post({ type: 'failed', message, hint, downloads });
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const msg = event.data;
  const work = msg.type === 'inspect' ? inspect(msg.files) : run(msg.options);
  work.catch((err: unknown) => failed(err, null));
};
