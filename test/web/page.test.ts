/**
 * The browser page end to end in headless Chromium: a small synthetic screen (with one broken
 * TIFF) given to the page's folder input, a tiny ONNX model to its model input; the run completes,
 * the report renders, the features equal the CLI's `embed` of the same screen within 1e-4 relative,
 * NSC/NSCB/mAP equal the CLI's `evaluate`, the broken TIFF is in the page's error table with its
 * reason, no request leaves the local server, no console errors.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { OnnxGraphBuilder } from '../../src/models/onnx-builder.js';
import { synthesizeScreen, type SynthResult } from '../../src/synth/synthesize.js';
import { readProfiles } from '../../src/table/index.js';
import { cliPath, tempDir } from '../helpers.js';
import { tinyModel } from '../queue/support.js';
import { buildPage, CHROMIUM, download, haveChromium, openPage, type PageSession, rowKey, runScreen } from './support.js';

const skip = haveChromium() ? false : `${CHROMIUM} not present (Debian package chromium); skipped`;

function cli(args: string[]): string {
  const r = spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  assert.equal(r.status, 0, `morphoprof ${args.join(' ')}:\n${r.stderr}`);
  return r.stdout;
}


describe('the browser page', { skip }, () => {
  let root: string;
  let screen: SynthResult;
  let broken: string;
  let notTiff: string;
  let missing: string;
  let model: string;
  let session: PageSession;
  let dist: string;
  let wasmFeatures: Array<Record<string, string>> = [];

  before(async () => {
    root = tempDir('morphoprof-web-');
    // two plates in two batches (NSCB is defined), one site, one dose: 32 fields, 96 images of 192 x 160
    screen = await synthesizeScreen({ out: path.join(root, 'screen'), seed: 11, plates: 2, width: 192, height: 160, sites: 1, controls: 2, doses: 1 });
    const week = readdirSync(screen.imagesRoot).sort()[0]!;
    const plate = readdirSync(path.join(screen.imagesRoot, week)).sort()[0]!;
    const tifs = readdirSync(path.join(screen.imagesRoot, week, plate)).filter((f) => f.endsWith('.tif')).sort();
    // bad input the rest of the screen survives: a truncated TIFF, a text file named .tif, a missing file, stray files
    broken = path.join(screen.imagesRoot, week, plate, tifs[3]!);
    truncateSync(broken, 300);
    notTiff = path.join(screen.imagesRoot, week, plate, tifs[10]!);
    writeFileSync(notTiff, 'this is not an image\n');
    missing = path.join(screen.imagesRoot, week, plate, tifs[20]!);
    rmSync(missing);
    writeFileSync(path.join(root, 'screen', 'notes.txt'), 'lab notes\n');
    writeFileSync(path.join(screen.imagesRoot, week, 'thumbnail.png'), 'not a png either');
    // and a clean screen of 16 small fields
    const clean = await synthesizeScreen({ out: path.join(root, 'clean'), seed: 5, plates: 1, width: 96, height: 80, sites: 1, controls: 2, doses: 1 });
    assert.equal(clean.fields, 16);
    model = tinyModel(path.join(root, 'tiny.onnx'), { width: 16 });
    dist = await buildPage(path.join(root, 'dist'));
    session = await openPage(dist);
  });

  after(async () => {
    await session?.close();
  });

  test('embeds the picked folder in a worker, evaluates, shows the report; features and metrics equal the CLI', async () => {
    const { page } = session;
    assert.equal(await page.evaluate('globalThis.crossOriginIsolated'), true, 'morphoprof serve makes the page cross-origin isolated');
    assert.match(await page.locator('#threads').textContent() ?? '', /Cross-origin isolated/);

    assert.equal(await runScreen(page, path.join(root, 'screen'), { model, batch: 4 }), 'done', (await page.locator('#status').textContent()) ?? '');
    const inspected = (await page.locator('#inspect-body').textContent()) ?? '';
    for (const fact of ['synth_image.csv', 'synth_moa.csv', 'DAPI', 'Tubulin', 'Actin', 'Week1', 'Week2', '32', path.basename(missing)]) assert.ok(inspected.includes(fact), `inspect shows ${fact}`);
    assert.match((await page.locator('#progress-text').textContent()) ?? '', /^31 \/ 31 fields · [\d.]+ fields\/s/, 'the field with a missing file is not embedded');
    assert.match((await page.locator('#backend').textContent()) ?? '', /WebAssembly SIMD; cross-origin isolated: \d+ WebAssembly thread/);
    // the reading stages run the CLI's C as WebAssembly when the build had clang for wasm32 (CI has: test/image/wasm-kernels.test.ts)
    if (existsSync(path.join(dist, 'kernels.wasm'))) assert.match((await page.locator('#backend').textContent()) ?? '', /images read with WebAssembly SIMD kernels/);

    // the bad files: one row each in the error table, naming the file and why
    const rows = await page.locator('#errors tbody tr').allTextContents();
    assert.equal(rows.length, 3, rows.join('\n'));
    const row = (file: string) => rows.find((r) => r.includes(path.basename(file))) ?? '';
    assert.match(row(broken), /read.*Cannot decode image/);
    assert.match(row(notTiff), /read.*Cannot decode image.*not a TIFF/);
    assert.match(row(missing), /files.*missing/i);

    // the report renders in the page: charts drawn by Vega, the neighbour table
    const report = page.frameLocator('#report');
    await report.locator('#confusion_matrix svg .mark-rect path, #confusion_matrix svg .mark-rect').first().waitFor({ timeout: 30_000 });
    assert.ok((await report.locator('#profile_map svg .mark-symbol path').count()) > 0, 'the map has points');
    assert.ok((await report.locator('#neighbors table tbody tr, section#neighbors tr').count()) > 0, 'the neighbour table has rows');

    // downloads
    const text = async (id: string): Promise<string> => readFileSync(await download(page, id), 'utf8');
    const featuresCsv = await text('download-features');
    const parquetFile = path.join(root, 'page-features.parquet');
    copyFileSync(await download(page, 'download-parquet'), parquetFile);
    const metrics = JSON.parse(await text('download-metrics'));
    const reportHtml = await text('download-report');
    assert.match(reportHtml, /^<!doctype html>/i);

    // the CLI on the same screen and model
    const out = path.join(root, 'cli');
    cli(['embed', '--metadata', screen.imageTable, '--images', screen.imagesRoot, '--moa', screen.moaTable, '--model', model, '--out', out, '--batch-size', '4']);
    cli(['evaluate', '--profiles', path.join(out, 'features'), '--out', path.join(out, 'eval')]);
    const want = await readProfiles(path.join(out, 'features'));
    const records = parse(featuresCsv, { columns: true }) as Array<Record<string, string>>;
    wasmFeatures = records;
    assert.deepEqual(Object.keys(records[0]!), [...want.metadataColumns, ...want.featureColumns], 'the CLI\'s columns, in its order');
    assert.equal(records.length, want.features.length);
    const got = new Map(records.map((r) => [rowKey(r), r]));
    let worst = 0;
    want.metadata.forEach((m, i) => {
      const r = got.get(rowKey(m));
      assert.ok(r, `field ${rowKey(m)} is in the page's features`);
      for (const c of want.metadataColumns) assert.equal(r[c] ?? '', m[c] === null ? '' : String(m[c]), `${rowKey(m)} ${c}`);
      want.featureColumns.forEach((c, j) => {
        const a = Number(r[c]);
        const b = want.features[i]![j]!;
        worst = Math.max(worst, Math.abs(a - b) / Math.max(Math.abs(b), 1e-3));
      });
    });
    assert.ok(worst <= 1e-4, `features within 1e-4 relative of the CLI's (worst ${worst})`);
    const fromParquet = await readProfiles(parquetFile);
    assert.deepEqual(fromParquet.featureColumns, want.featureColumns);
    fromParquet.metadata.forEach((m, i) => {
      const csvRow = got.get(rowKey(m))!;
      assert.deepEqual([...fromParquet.features[i]!], fromParquet.featureColumns.map((c) => Math.fround(Number(csvRow[c]))), `features.parquet = features.csv (${rowKey(m)})`);
    });
    const cliErrors = parse(readFileSync(path.join(out, 'errors.csv')), { columns: true }) as Array<Record<string, string>>;
    const pageErrors = parse(await text('download-errors'), { columns: true }) as Array<Record<string, string>>;
    const brief = (e: Record<string, string>) => `${e.Stage} ${path.basename(e.File ?? '')}`;
    assert.deepEqual(pageErrors.map(brief).sort(), cliErrors.map(brief).sort(), 'the page skips what the CLI skips, at the same stage');
    const cliMetrics = JSON.parse(readFileSync(path.join(out, 'eval', 'metrics.json'), 'utf8'));
    assert.ok(cliMetrics.nscb !== null && cliMetrics.nsc.total > 0);
    assert.deepEqual(metrics.nsc, cliMetrics.nsc, 'NSC');
    assert.deepEqual(metrics.nscb, cliMetrics.nscb, 'NSCB');
    assert.deepEqual(metrics.map, cliMetrics.map, 'mAP and its p-value');
    assert.deepEqual(metrics.per_moa, cliMetrics.per_moa);

    assert.deepEqual(session.outside, [], 'no request leaves the local server');
    assert.deepEqual(session.problems, [], 'no console errors');
  });

  test('a folder without a metadata table: the page says what it needs', async () => {
    const { page } = session;
    const dir = path.join(root, 'no-table');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'a.tif'), readFileSync(broken));
    writeFileSync(path.join(dir, 'plates.csv'), 'plate,well\nP1,A01\n');
    await page.locator('#folder').setInputFiles(dir);
    await page.waitForFunction("document.getElementById('status').dataset.state === 'failed'", undefined, { timeout: 30_000 });
    const message = (await page.locator('#pick-error').textContent()) ?? '';
    assert.match(message, /no metadata table.*FileName_<Stain>/);
    assert.match(message, /Pick the folder that holds the image table/);
    assert.equal(await page.locator('#inspect').isVisible(), false);
    assert.deepEqual(session.problems, [], 'no console errors');
  });

  test('WebGPU (here the SwiftShader adapter of Chromium, on the CPU) gives the WASM features', async (t) => {
    assert.ok(wasmFeatures.length > 0, 'the WASM run came first');
    const gpu = await openPage(dist, { webgpu: true });
    try {
      const { page } = gpu;
      const adapter = await page.evaluate("navigator.gpu ? navigator.gpu.requestAdapter().then((a) => a !== null) : false");
      if (!adapter) {
        t.skip('no WebGPU adapter in this Chromium; skipped');
        return;
      }
      assert.equal(await runScreen(page, path.join(root, 'screen'), { model, provider: 'webgpu' }), 'done', (await page.locator('#status').textContent()) ?? '');
      assert.match((await page.locator('#backend').textContent()) ?? '', /WebGPU/);
      const rows = parse(readFileSync(await download(page, 'download-features'), 'utf8'), { columns: true }) as Array<Record<string, string>>;
      const byKey = new Map(rows.map((r) => [rowKey(r), r]));
      assert.equal(rows.length, wasmFeatures.length);
      let worst = 0;
      for (const w of wasmFeatures) {
        const g = byKey.get(rowKey(w))!;
        for (const c of Object.keys(w).filter((c) => !c.startsWith('Metadata_'))) worst = Math.max(worst, Math.abs(Number(g[c]) - Number(w[c])) / Math.max(Math.abs(Number(w[c])), 1e-3));
      }
      assert.ok(worst <= 1e-3, `WebGPU features within 1e-3 relative of WASM's (worst ${worst})`);
      assert.deepEqual(gpu.outside, []);
      assert.deepEqual(gpu.problems.filter((p) => !/powerPreference|WebGPU.*experimental/i.test(p)), []);
    } finally {
      await gpu.close();
    }
  });

  test('a run that fails half way keeps the features made so far downloadable, and the page stays usable', async () => {
    const { page } = session;
    // the clean screen of 16 fields and a model that takes exactly 9 images (3 fields x 3 stains)
    // per run: with batches of 3 fields, 5 batches run and the 6th (one field) fails
    const g = new OnnxGraphBuilder();
    g.node('GlobalAveragePool', ['image'], 'pooled');
    g.node('Flatten', ['pooled'], 'features', { axis: 1 });
    const fixed = path.join(root, 'fixed-batch.onnx');
    writeFileSync(fixed, g.toBytes({ name: 'fixed', inputs: [{ name: 'image', dims: [9, 3, 32, 32] }], outputs: [{ name: 'features', dims: [9, 3] }] }));
    assert.equal(await runScreen(page, path.join(root, 'clean'), { model: fixed, batch: 3 }), 'failed');
    assert.match((await page.locator('#run-error').textContent()) ?? '', /invalid dimensions/);
    assert.equal(await page.locator('#run').isDisabled(), false, 'the page can run again');
    const rows = parse(readFileSync(await download(page, 'download-features'), 'utf8'), { columns: true }) as Array<Record<string, string>>;
    assert.equal(rows.length, 15, 'the 5 batches of 3 fields embedded before the failure');
    assert.equal(session.problems.length, 0);
  });

  test('served without the isolation headers, the page says it runs single-threaded and why, and still runs (here also without its WebAssembly kernels)', async () => {
    const plain = await openPage(dist, { isolate: false });
    const kernels = path.join(dist, 'kernels.wasm');
    const hidden = `${kernels}.hidden`;
    if (existsSync(kernels)) renameSync(kernels, hidden);
    try {
      const { page } = plain;
      assert.equal(await page.evaluate('globalThis.crossOriginIsolated'), false);
      assert.match((await page.locator('#threads').textContent()) ?? '', /Single-threaded: this page is not cross-origin isolated .*Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp/);
      assert.equal(await runScreen(page, path.join(root, 'clean'), { model, batch: 4 }), 'done', (await page.locator('#status').textContent()) ?? '');
      assert.match((await page.locator('#backend').textContent()) ?? '', /not cross-origin isolated .* threads are off/);
      assert.match((await page.locator('#backend').textContent()) ?? '', /images read with TypeScript kernels \(the page was built without kernels\.wasm/);
      assert.match((await page.locator('#progress-text').textContent()) ?? '', /^16 \/ 16 fields/);
      assert.deepEqual(plain.outside, []);
      assert.deepEqual(plain.problems.filter((p) => !p.includes('kernels.wasm') && !/404/.test(p)), []);
    } finally {
      if (existsSync(hidden)) renameSync(hidden, kernels);
      await plain.close();
    }
  });

  test('files dropped on the page (a flat folder: LoadData CSV beside its TIFFs) are inspected and run', async () => {
    const { page } = session;
    // the clean screen's first 6 fields, flat: one folder, PathName empty
    const table = parse(readFileSync(path.join(root, 'clean', 'synth_image.csv')), { columns: true }) as Array<Record<string, string>>;
    const stains = ['DAPI', 'Tubulin', 'Actin'];
    const files: Array<{ name: string; base64: string }> = [];
    const lines = [`${stains.map((s) => `FileName_${s},PathName_${s}`).join(',')},Metadata_Plate,Metadata_Well,Metadata_Site,Metadata_Compound,Metadata_Concentration`];
    for (const [i, r] of table.slice(0, 6).entries()) {
      const names = stains.map((s) => r[`Image_FileName_${s}`]!);
      for (const [k, s] of stains.entries()) files.push({ name: names[k]!, base64: readFileSync(path.join(root, 'clean', 'images', r[`Image_PathName_${s}`]!, names[k]!)).toString('base64') });
      lines.push(`${names.map((n) => `${n},`).join(',')},${r.Image_Metadata_Plate_DAPI},${r.Image_Metadata_Well_DAPI},${i + 1},${r.Image_Metadata_Compound},${r.Image_Metadata_Concentration}`);
    }
    files.push({ name: 'load_data.csv', base64: Buffer.from(`${lines.join('\n')}\n`).toString('base64') });
    const dataTransfer = await page.evaluateHandle((list: Array<{ name: string; base64: string }>) => {
      // in the page (DOM types are not this file's)
      const g = globalThis as unknown as { DataTransfer: new () => { items: { add(f: unknown): void } }; File: new (parts: Uint8Array[], name: string) => unknown };
      const dt = new g.DataTransfer();
      for (const f of list) dt.items.add(new g.File([Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0))], f.name));
      return dt;
    }, files);
    await page.locator('#drop').dispatchEvent('drop', { dataTransfer });
    await page.locator('#inspect').waitFor({ state: 'visible', timeout: 30_000 });
    await page.waitForFunction("document.getElementById('status').dataset.state === 'inspected'", undefined, { timeout: 30_000 });
    assert.match((await page.locator('#inspect-body').textContent()) ?? '', /load_data\.csv.*Fields6.*18 of 18 present; 6 complete fields/);
    await page.locator('#model').setInputFiles(model);
    await page.locator('#run').click();
    await page.waitForFunction("['done', 'failed'].includes(document.getElementById('status').dataset.state)", undefined, { timeout: 60_000 });
    assert.match((await page.locator('#progress-text').textContent()) ?? '', /^6 \/ 6 fields/);
    assert.deepEqual(session.problems, []);
  });

  test('normalized profiles (TVN, as `morphoprof run --normalize tvn`): NSC, NSCB and mAP equal the CLI\'s', async () => {
    const { page } = session;
    assert.equal(await runScreen(page, path.join(root, 'screen'), { model, batch: 4, normalize: 'tvn' }), 'done', (await page.locator('#status').textContent()) ?? '');
    const metrics = JSON.parse(readFileSync(await download(page, 'download-metrics'), 'utf8'));
    const out = path.join(root, 'cli-tvn');
    cli(['run', '--metadata', screen.imageTable, '--images', screen.imagesRoot, '--moa', screen.moaTable, '--model', model, '--normalize', 'tvn', '--out', out, '--batch-size', '4']);
    const want = JSON.parse(readFileSync(path.join(out, 'metrics.json'), 'utf8'));
    assert.ok(want.nsc.total > 0 && want.nscb !== null);
    assert.deepEqual(metrics.nsc, want.nsc, 'NSC');
    assert.deepEqual(metrics.nscb, want.nscb, 'NSCB');
    assert.deepEqual(metrics.map, want.map, 'mAP');
    assert.deepEqual(session.problems, []);
  });

  test('a screen whose features would not fit in the tab is refused before embedding, saying what to use', async () => {
    const { page } = session;
    // a model whose embedding is the image repeated: 3,072 x 10,000 = 30,720,000 values per image;
    // 16 fields x 3 stains x 30,720,000 x 4 bytes = 5.9 GB (refused before any inference)
    const g = new OnnxGraphBuilder();
    g.node('Flatten', ['image'], 'flat', { axis: 1 });
    g.node('Tile', ['flat', g.int64('repeats', [1, 10_000])], 'features');
    const huge = path.join(root, 'huge.onnx');
    writeFileSync(huge, g.toBytes({ name: 'huge', inputs: [{ name: 'image', dims: [null, 3, 32, 32] }], outputs: [{ name: 'features', dims: [null, 30_720_000] }] }));
    assert.equal(await runScreen(page, path.join(root, 'clean'), { model: huge }), 'failed');
    const message = (await page.locator('#run-error').textContent()) ?? '';
    assert.match(message, /16 fields x 92160000 features is 5\.9 GB of features, more than a browser tab holds safely/);
    assert.match(message, /command line \(morphoprof run\) or the fleet/);
    assert.equal(await page.locator('#bar').getAttribute('value'), '0', 'nothing was embedded');
  });
});
