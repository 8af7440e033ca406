/**
 * The page: picks the folder (input or drag and drop), shows what `inspect` shows, hands the run to
 * the Web Worker (worker.ts) and shows its progress, errors and report, with the downloads.
 */
import type { FieldError } from '../../src/embed/field-errors.js';
import type { ScreenSummary } from '../../src/screen/summary.js';
import type { Downloads, FromWorker, PickedFile, RunOptions, ToWorker } from './protocol.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;
const worker = new Worker(new URL('worker.js', import.meta.url), { type: 'module' });
const send = (message: ToWorker, transfer: Transferable[] = []): void => worker.postMessage(message, transfer);

const escape = (v: unknown): string => String(v ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const table = (columns: string[], rows: unknown[][]): string =>
  `<table><thead><tr>${columns.map((c) => `<th>${escape(c)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((v) => `<td>${escape(v)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;

function status(state: string, text: string): void {
  const el = $('status');
  el.dataset.state = state;
  el.textContent = text;
}

function showError(id: string, message: string, hint?: string): void {
  const el = $(id);
  el.hidden = false;
  el.innerHTML = `<strong>${escape(message)}</strong>${hint ? `<br><span class="muted">${escape(hint)}</span>` : ''}`;
}

// ---- threads: say when the page runs single-threaded, and why
$('threads').textContent = globalThis.crossOriginIsolated
  ? `Cross-origin isolated: the network runs on up to ${navigator.hardwareConcurrency} WebAssembly threads.`
  : 'Single-threaded: this page is not cross-origin isolated (its server does not send Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp), so WebAssembly threads are off and the network is several times slower. Open it from `morphoprof serve`, or see the README for the two headers a web server must send.';
if (!('gpu' in navigator)) {
  const option = $<HTMLSelectElement>('provider').querySelector<HTMLOptionElement>('option[value="webgpu"]')!;
  option.disabled = true;
  option.textContent = 'WebGPU (not available in this browser)';
}
void fetch('model.json').then(async (r) => {
  const name = r.ok ? ((await r.json()) as { name: string | null }).name : null;
  $('model-default').textContent = name ? `(default: ${name}, served with this page; or choose an .onnx file)` : '(this page has no model of its own: choose an .onnx file)';
});

// ---- picking the folder
async function picked(files: PickedFile[]): Promise<void> {
  $('pick-error').hidden = true;
  $('inspect').hidden = true;
  $('settings').hidden = true;
  if (files.length === 0) return showError('pick-error', 'The folder is empty');
  status('inspecting', `Reading the tables of ${files.length} files`);
  send({ type: 'inspect', files });
}

$<HTMLInputElement>('folder').addEventListener('change', (e) => {
  const list = [...((e.target as HTMLInputElement).files ?? [])];
  void picked(list.map((f) => ({ path: f.webkitRelativePath || f.name, blob: f })));
});

async function entryFiles(entry: FileSystemEntry, prefix: string, out: PickedFile[]): Promise<void> {
  const p = `${prefix}${entry.name}`;
  if (entry.isFile) {
    out.push({ path: p, blob: await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject)) });
    return;
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) break;
    for (const child of batch) await entryFiles(child, `${p}/`, out);
  }
}

const drop = $('drop');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const items = [...(e.dataTransfer?.items ?? [])].filter((i) => i.kind === 'file');
  const files: PickedFile[] = [];
  // a dropped folder is walked through its entries; files dropped without entries are taken as one folder
  const walks = items.map((i) => {
    const entry = i.webkitGetAsEntry();
    if (entry) return entryFiles(entry, '', files);
    const file = i.getAsFile();
    if (file) files.push({ path: `dropped/${file.name}`, blob: file });
    return Promise.resolve();
  });
  void Promise.all(walks).then(() => picked(files));
});

// ---- what the table holds
function showSummary(s: ScreenSummary, problems: { message: string }[], tableFile: string, moa: string | null, notes: string[]): void {
  const missing = s.files?.missingFiles ?? [];
  const facts: unknown[][] = [
    ['Image table', tableFile],
    ['MOA table', moa ?? 'none (MOAs from the image table, if it has Metadata_MOA)'],
    ['Fields', s.fields],
    ['Plates', `${s.plates.count}: ${s.plates.names.slice(0, 12).join(', ')}${s.plates.count > 12 ? ', ...' : ''}`],
    ['Batches', s.batches.count ? `${s.batches.count}: ${s.batches.names.join(', ')}` : 'none (NSCB is not defined)'],
    ['Wells', s.wells.count],
    ['Sites', s.sites.values.join(', ')],
    ['Stains', s.channels.join(', ')],
    ['Compounds', s.compounds],
    ['Treatments', `${s.treatments.length} (${s.moaTreatments} with an MOA, control excluded)`],
    ['MOAs', s.moas.map((m) => `${m.moa} (${m.treatments})`).join(', ') || 'none'],
    ['Control', `${s.controlCompound}: ${s.controls.wells} wells`],
    ['Image files', s.files ? `${s.files.present} of ${s.files.files} present; ${s.files.fieldsComplete} complete fields` : '?'],
  ];
  const treatments = table(['Compound', 'Concentration', 'MOA', 'Wells', 'Fields'], s.treatments.map((t) => [t.compound + (t.control ? ' (control)' : ''), t.concentration, t.moa ?? '', t.wells, t.fields]));
  $('inspect-body').innerHTML = [
    table(['', ''], facts),
    notes.length ? `<div class="notes">${notes.map((n) => `<p>${escape(n)}</p>`).join('')}</div>` : '',
    problems.length ? `<div class="notes"><p><strong>${problems.length} problem(s) in the tables</strong></p>${problems.slice(0, 20).map((p) => `<p>${escape(p.message)}</p>`).join('')}</div>` : '',
    missing.length ? `<h3>Missing files (${missing.length})</h3><div class="scroll" id="missing">${table(['File'], missing.slice(0, 500).map((f) => [f]))}</div>` : '',
    `<h3>Treatments</h3><div class="scroll">${treatments}</div>`,
  ].join('\n');
  $('inspect').hidden = false;
  $('settings').hidden = false;
}

// ---- running
const downloadNames: Record<string, [keyof Downloads, string]> = {
  'download-features': ['featuresCsv', 'text/csv'],
  'download-parquet': ['featuresParquet', 'application/vnd.apache.parquet'],
  'download-metrics': ['metricsJson', 'application/json'],
  'download-report': ['reportHtml', 'text/html'],
  'download-errors': ['errorsCsv', 'text/csv'],
};
let downloads: Downloads | null = null;

function offer(d: Downloads | null): void {
  downloads = d;
  for (const [id, [key]] of Object.entries(downloadNames)) $<HTMLButtonElement>(id).disabled = !d || d[key] === null;
}

for (const [id, [key, type]] of Object.entries(downloadNames)) {
  $(id).addEventListener('click', () => {
    const data = downloads?.[key];
    if (data === null || data === undefined) return;
    const url = URL.createObjectURL(new Blob([data as BlobPart], { type }));
    const a = document.createElement('a');
    a.href = url;
    a.download = $(id).textContent!.trim();
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  });
}

function addErrors(errors: FieldError[]): void {
  if (errors.length === 0) return;
  $('errors-section').hidden = false;
  const body = $('errors').querySelector('tbody')!;
  body.insertAdjacentHTML('beforeend', errors.map((e) => `<tr>${[e.plate, e.well, e.site, e.channel, e.file, e.row, e.stage, e.reason].map((v) => `<td>${escape(v)}</td>`).join('')}</tr>`).join(''));
}

const seconds = (s: number): string => (s < 90 ? `${Math.round(s)} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`);

$('run').addEventListener('click', async () => {
  $<HTMLButtonElement>('run').disabled = true;
  $('run-error').hidden = true;
  $('report-section').hidden = true;
  $('errors').querySelector('tbody')!.innerHTML = '';
  $('errors-section').hidden = true;
  $<HTMLProgressElement>('bar').value = 0;
  $('progress-text').textContent = '';
  $('stage').textContent = '';
  $('backend').textContent = '';
  $('precision-choice').textContent = '';
  offer(null);
  const file = $<HTMLInputElement>('model').files?.[0];
  const options: RunOptions = {
    model: file ? { name: file.name, bytes: await file.arrayBuffer() } : null,
    preprocess: $<HTMLSelectElement>('preprocess').value as RunOptions['preprocess'],
    provider: $<HTMLSelectElement>('provider').value as RunOptions['provider'],
    precision: $<HTMLSelectElement>('precision').value as RunOptions['precision'],
    normalize: $<HTMLSelectElement>('normalize').value as RunOptions['normalize'],
    batchSize: Math.max(1, Math.min(64, Number($<HTMLInputElement>('batch').value) || 8)),
    rawRounds: Number(new URLSearchParams(location.search).get('raw-rounds')) || undefined,
  };
  status('running', 'Opening the model');
  send({ type: 'run', options }, options.model ? [options.model.bytes] : []);
});

worker.onmessage = (event: MessageEvent<FromWorker>) => {
  const m = event.data;
  switch (m.type) {
    case 'inspected':
      showSummary(m.summary, m.problems, m.table, m.moaTable, m.notes);
      status('inspected', `${m.summary.fields} fields in ${m.summary.plates.count} plate(s)`);
      break;
    case 'backend':
      $('backend').textContent = `Network backend: ${m.text}.`;
      break;
    case 'precision':
      $('precision-choice').dataset.precision = m.precision;
      $('precision-choice').textContent = `Precision: ${m.text}.`;
      break;
    case 'progress': {
      const bar = $<HTMLProgressElement>('bar');
      bar.max = m.total;
      bar.value = m.done;
      $('progress-text').textContent = `${m.done} / ${m.total} fields` + (m.done > 0 ? ` · ${m.fieldsPerSecond.toFixed(2)} fields/s` : '') + (m.etaSeconds !== null && m.done < m.total ? ` · about ${seconds(m.etaSeconds)} left` : '');
      $('stage').textContent = 'Embedding';
      break;
    }
    case 'errors':
      addErrors(m.errors);
      break;
    case 'stage':
      $('stage').textContent = m.text;
      break;
    case 'raw': {
      const ratio = m.embedding / ((m.before + m.after) / 2);
      $('raw').textContent = `Raw inference of this network on ready tensors: ${m.before.toFixed(2)} images/s before the embedding, ${m.after.toFixed(2)} after; the embedding ran at ${m.embedding.toFixed(2)} images/s = ${ratio.toFixed(3)} of their mean.`;
      $('raw').dataset.ratio = String(ratio);
      break;
    }
    case 'done': {
      offer(m.downloads);
      if (m.metrics) {
        $('stage').textContent = `Done: opening the network ${m.seconds.open.toFixed(1)} s, embedding ${m.seconds.embed.toFixed(1)} s, evaluation ${m.seconds.evaluate.toFixed(1)} s, report ${m.seconds.report.toFixed(1)} s. NSC ${(100 * m.metrics.nsc.accuracy).toFixed(1)}%`;
        $<HTMLIFrameElement>('report').srcdoc = m.downloads.reportHtml ?? '';
        $('report-section').hidden = false;
      } else {
        $('stage').textContent = `Done: opening the network ${m.seconds.open.toFixed(1)} s, embedding ${m.seconds.embed.toFixed(1)} s. ${m.note ?? ''}`;
      }
      $<HTMLButtonElement>('run').disabled = false;
      status('done', 'Done');
      break;
    }
    case 'failed': {
      const running = !$('settings').hidden;
      showError(running ? 'run-error' : 'pick-error', m.message, m.hint);
      if (m.downloads) offer(m.downloads);
      $<HTMLButtonElement>('run').disabled = false;
      status('failed', m.message);
      break;
    }
  }
};
