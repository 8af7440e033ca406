/**
 * The browser page's speed: images/s in headless Chromium (onnxruntime-web WASM, cross-origin
 * isolated by `morphoprof serve`'s server) for the page's whole embedding of real-size fields
 * (1280x1024 16-bit TIFFs read, downsampled and scaled in its reading worker, embedded in its
 * inference worker), against raw inference on ready tensors, and against the Node CLI on the same
 * fields and machine.
 *
 * The target (page >= 0.9 of raw) is measured on the run's own session: the page, opened with
 * `?raw-rounds=N`, times N ready batches of the run's batch size on the session it embeds with,
 * just before and just after the embedding (each after one uncounted batch), and compares the
 * embedding's rate with their mean. Raw rates in fresh workers are printed too, each after an
 * idle pause (a worker just ended keeps the CPU busy for a few seconds); they vary with what ran
 * before in the browser (WebAssembly's optimizing compiler keeps the kernels that were hot), so
 * they are context, not the comparison.
 *
 * With the project's int8 file (if the CLI has made one): its page rate against its own raw
 * rate, and how close its features are to fp32 (cosine per field); and the page's own int8
 * (precision int8: quantized in the page on the control fields), its rate, cosine, and the
 * calibration's cost as the page says it.
 *
 *   node dist/bench/web.js [--plates 4] [--batch 8] [--rounds 3]
 */
import { copyFileSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'csv-parse/sync';
import { embedScreen } from '../src/embed/embed.js';
import { ensureOnnx } from '../src/models/registry.js';
import { openModel } from '../src/models/session.js';
import { rawImagesPerSecond } from '../src/models/session-core.js';
import { cosine } from '../src/util/cosine.js';
import { loadScreen } from '../src/screen/index.js';
import { synthesizeScreen } from '../src/synth/index.js';
import { buildPage, download, haveChromium, openPage, rowKey, runScreen, type PageSession } from '../test/web/support.js';
import { tempDir } from '../test/helpers.js';

const { values } = parseArgs({ options: { plates: { type: 'string', default: '4' }, batch: { type: 'string', default: '8' }, rounds: { type: 'string', default: '3' } } });
const batch = Number(values.batch);
const rounds = Number(values.rounds);
if (!haveChromium()) {
  console.log('web bench: /usr/bin/chromium not present (Debian package chromium); skipped');
  process.exit(0);
}
const root = tempDir('morphoprof-bench-web-');
const s = await synthesizeScreen({ out: path.join(root, 'screen'), preset: 'bench', plates: Number(values.plates), sites: 1, doses: 1, controls: 2 });
const { screen } = await loadScreen({ metadata: s.imageTable, images: s.imagesRoot, moa: s.moaTable });
const images = screen.fields.length * screen.channels.length;
const perBatch = batch * screen.channels.length;
console.log(`bench screen: ${screen.fields.length} fields x ${screen.channels.length} stains of 1280x1024 16-bit (${images} images); batches of ${batch} fields = ${perBatch} images`);

const fp32 = await ensureOnnx('resnet50');
const cache = path.dirname(fp32);
const int8Name = readdirSync(cache).find((f) => /^resnet50-1\.0\.4-c1-int8-minmax-[0-9a-f]+\.onnx$/.test(f));
const int8 = int8Name ? path.join(cache, int8Name) : null;
const dist = await buildPage(path.join(root, 'dist'), true);
if (int8) copyFileSync(int8, path.join(dist, 'model-int8.onnx'));

const session: PageSession = await openPage(dist);
const { page } = session;
const cores = await page.evaluate('navigator.hardwareConcurrency');
console.log(`Chromium: cross-origin isolated ${await page.evaluate('globalThis.crossOriginIsolated')}, ${cores} cores, WebGPU ${await page.evaluate("'gpu' in navigator ? 'present' : 'absent'")}`);

interface Raw { imagesPerSecond?: number; threads?: number | null; error?: string; features?: number[] }
const settle = () => new Promise((resolve) => setTimeout(resolve, 8000));
async function raw(modelUrl: string, name: string, threads?: number, provider = 'wasm'): Promise<Raw> {
  await settle();
  return page.evaluate(
    `new Promise((resolve) => { const w = new Worker('bench-worker.js', { type: 'module' }); w.onmessage = (e) => { resolve(e.data); w.terminate(); }; w.postMessage(${JSON.stringify({ modelUrl, name, batch: perBatch, rounds, provider, threads })}); })`,
  ) as Promise<Raw>;
}
const show = (r: Raw) => (r.error ? `failed: ${r.error}` : `${r.imagesPerSecond!.toFixed(1)} images/s (${r.threads ?? '?'} thread(s))`);

const rawFp32 = await raw('model.onnx', 'resnet50');
console.log(`browser raw inference in a fresh worker (context; see above), resnet50 fp32: ${show(rawFp32)}`);
const rawInt8 = int8 ? await raw('model-int8.onnx', 'resnet50-int8.onnx') : null;
if (rawInt8) console.log(`browser raw inference, resnet50 int8 (${int8Name}): ${show(rawInt8)}`);
const rawOne = await raw('model.onnx', 'resnet50', 1);
console.log(`browser raw inference, resnet50 fp32, one thread: ${show(rawOne)}`);
const gpu = await raw('model.onnx', 'resnet50', undefined, 'webgpu');
console.log(`browser raw inference, WebGPU: ${show(gpu)}`);

/** The page's whole run on the bench folder: images/s of its embedding, raw inference on its session (before and after), their ratio, its features. */
async function pageRun(model: string | null, precision: 'fp32' | 'int8' | 'auto' = 'fp32'): Promise<{ rate: number; raw: string; ratio: number; open: string; features: Map<string, number[]>; choice: string }> {
  await settle();
  await page.goto(`${session.server.url}?raw-rounds=${rounds}`);
  await runScreen(page, path.join(root, 'screen'), { model: model ?? undefined, preprocess: model ? 'caffe' : undefined, batch, precision, timeout: 1_800_000 });
  const stage = (await page.locator('#stage').textContent()) ?? '';
  const seconds = /embedding ([\d.]+) s/.exec(stage);
  if (!seconds) throw new Error(`the page's run failed: ${await page.locator('#status').textContent()}`);
  const rows = parse(readFileSync(await download(page, 'download-features'), 'utf8'), { columns: true }) as Array<Record<string, string>>;
  const features = new Map(rows.map((r) => [rowKey(r), Object.entries(r).filter(([k]) => !k.startsWith('Metadata_')).map(([, v]) => Number(v))]));
  return {
    rate: (rows.length * screen.channels.length) / Number(seconds[1]),
    raw: (await page.locator('#raw').textContent()) ?? '',
    ratio: Number(await page.locator('#raw').getAttribute('data-ratio')),
    open: /opening the network ([\d.]+) s/.exec(stage)?.[1] ?? '?',
    features,
    choice: (await page.locator('#precision-choice').textContent()) ?? '',
  };
}

const pageFp32 = await pageRun(null);
console.log(`browser page, whole embedding (read, downsample, scale in its reading worker; infer in its inference worker), fp32: ${pageFp32.rate.toFixed(2)} images/s = ${pageFp32.ratio.toFixed(3)} of raw inference on the same session (target >= 0.9); opening the network ${pageFp32.open} s\n  the page said: ${pageFp32.raw}`);
/** Per-field cosine of two runs' features, its min and mean. */
function cosineSummary(a: Map<string, number[]>, b: Map<string, number[]>): string {
  const cosines = [...a].map(([k, x]) => cosine(x, b.get(k)!));
  return `cosine min ${Math.min(...cosines).toFixed(4)}, mean ${(cosines.reduce((s, c) => s + c, 0) / cosines.length).toFixed(4)} over ${cosines.length} fields`;
}
if (int8) {
  const pageInt8 = await pageRun(int8);
  console.log(`browser page, the CLI's int8 file: ${pageInt8.rate.toFixed(2)} images/s = ${pageInt8.ratio.toFixed(3)} of raw inference on the same session (target >= 0.9); features vs fp32: ${cosineSummary(pageFp32.features, pageInt8.features)}\n  the page said: ${pageInt8.raw}`);
}
// the page's own int8: quantized in the page on the screen's control fields (precision int8; its line says what auto would choose)
const pageOwn = await pageRun(null, 'int8');
console.log(`browser page, int8 quantized in the page: ${pageOwn.rate.toFixed(2)} images/s = ${pageOwn.ratio.toFixed(3)} of raw inference on the same session (fp32 page ${pageFp32.rate.toFixed(2)}); features vs fp32: ${cosineSummary(pageFp32.features, pageOwn.features)}\n  the page said: ${pageOwn.choice}\n  ${pageOwn.raw}`);
if (session.problems.length) console.log(`console errors: ${session.problems.join('; ')}`);
await session.close();

// the Node CLI's embedding of the same fields, and its raw inference
const model = await openModel('resnet50');
const nodeRaw = (await rawImagesPerSecond(model, perBatch, rounds)).imagesPerSecond;
await model.dispose();
const t2 = performance.now();
const r = await embedScreen({ screen, out: path.join(root, 'node-run'), batchSize: batch, progress: false });
const nodeWhole = (screen.channels.length * r.fieldsEmbedded) / ((performance.now() - t2) / 1000 - r.openSeconds);
console.log(`Node CLI on the same fields: raw inference ${nodeRaw.toFixed(1)} images/s; embed ${nodeWhole.toFixed(1)} images/s without opening the network`);
console.log(`browser page / Node CLI: ${(pageFp32.rate / nodeWhole).toFixed(2)} (fp32). Machine: ${cores} cores${process.env.MORPHOPROF_BENCH_NOTE ? `; ${process.env.MORPHOPROF_BENCH_NOTE}` : ''}`);
rmSync(root, { recursive: true, force: true });
