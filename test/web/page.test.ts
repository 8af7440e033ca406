/**
 * The browser page end to end in headless Chromium: a small synthetic screen (with one broken
 * TIFF) given to the page's folder input, a tiny ONNX model to its model input; the run completes,
 * the report renders, the features equal the CLI's `embed` of the same screen within 1e-4 relative,
 * NSC/NSCB/mAP equal the CLI's `evaluate`, the broken TIFF is in the page's error table with its
 * reason, no request leaves the local server, no console errors.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, truncateSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { synthesizeScreen, type SynthResult } from '../../src/synth/synthesize.js';
import { readProfiles } from '../../src/table/index.js';
import { cliPath, tempDir } from '../helpers.js';
import { tinyModel } from '../queue/support.js';
import { buildPage, CHROMIUM, haveChromium, openPage, type PageSession } from './support.js';

const skip = haveChromium() ? false : `${CHROMIUM} not present (Debian package chromium); skipped`;

function cli(args: string[]): string {
  const r = spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  assert.equal(r.status, 0, `morphoprof ${args.join(' ')}:\n${r.stderr}`);
  return r.stdout;
}

const key = (m: Record<string, unknown>): string => `${String(m.Metadata_Plate)}/${String(m.Metadata_Well)}/${String(m.Metadata_Site)}`;

describe('the browser page', { skip }, () => {
  let root: string;
  let screen: SynthResult;
  let broken: string;
  let model: string;
  let session: PageSession;
  let dist: string;

  before(async () => {
    root = tempDir('morphoprof-web-');
    // two plates in two batches (NSCB is defined), one site, one dose: 32 fields, 96 images of 192 x 160
    screen = await synthesizeScreen({ out: path.join(root, 'screen'), seed: 11, plates: 2, width: 192, height: 160, sites: 1, controls: 2, doses: 1 });
    const week = readdirSync(screen.imagesRoot).sort()[0]!;
    const plate = readdirSync(path.join(screen.imagesRoot, week)).sort()[0]!;
    const tif = readdirSync(path.join(screen.imagesRoot, week, plate)).filter((f) => f.endsWith('.tif')).sort()[3]!;
    broken = path.join(screen.imagesRoot, week, plate, tif);
    truncateSync(broken, 300);
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

    await page.locator('#folder').setInputFiles(path.join(root, 'screen'));
    await page.locator('#inspect').waitFor({ state: 'visible', timeout: 30_000 });
    const inspected = (await page.locator('#inspect-body').textContent()) ?? '';
    for (const fact of ['synth_image.csv', 'synth_moa.csv', 'DAPI', 'Tubulin', 'Actin', 'Week1', 'Week2', '32']) assert.ok(inspected.includes(fact), `inspect shows ${fact}`);

    await page.locator('#model').setInputFiles(model);
    await page.locator('#batch').fill('4');
    await page.locator('#run').click();
    await page.waitForFunction("['done', 'failed'].includes(document.getElementById('status').dataset.state)", undefined, { timeout: 120_000 });
    assert.equal(await page.locator('#status').getAttribute('data-state'), 'done', (await page.locator('#status').textContent()) ?? '');
    assert.match((await page.locator('#progress-text').textContent()) ?? '', /^32 \/ 32 fields · [\d.]+ fields\/s/);
    assert.match((await page.locator('#backend').textContent()) ?? '', /WebAssembly SIMD; cross-origin isolated: \d+ WebAssembly thread/);

    // the broken TIFF: one row of the error table, naming the file and why
    const rows = await page.locator('#errors tbody tr').allTextContents();
    assert.equal(rows.length, 1, rows.join('\n'));
    assert.ok(rows[0]!.includes(path.basename(broken)), rows[0]);
    assert.match(rows[0]!, /read.*(Cannot decode|Cannot read)/);

    // the report renders in the page: charts drawn by Vega, the neighbour table
    const report = page.frameLocator('#report');
    await report.locator('#confusion_matrix svg .mark-rect path, #confusion_matrix svg .mark-rect').first().waitFor({ timeout: 30_000 });
    assert.ok((await report.locator('#profile_map svg .mark-symbol path').count()) > 0, 'the map has points');
    assert.ok((await report.locator('#neighbors table tbody tr, section#neighbors tr').count()) > 0, 'the neighbour table has rows');

    // downloads
    const download = async (id: string): Promise<string> => {
      const [d] = await Promise.all([page.waitForEvent('download'), page.locator(`#${id}`).click()]);
      return readFileSync((await d.path())!, 'utf8');
    };
    const featuresCsv = await download('download-features');
    const metrics = JSON.parse(await download('download-metrics'));
    const reportHtml = await download('download-report');
    assert.match(reportHtml, /^<!doctype html>/i);
    assert.match(await download('download-errors'), new RegExp(path.basename(broken)));

    // the CLI on the same screen and model
    const out = path.join(root, 'cli');
    cli(['embed', '--metadata', screen.imageTable, '--images', screen.imagesRoot, '--moa', screen.moaTable, '--model', model, '--out', out, '--batch-size', '4']);
    cli(['evaluate', '--profiles', path.join(out, 'features'), '--out', path.join(out, 'eval')]);
    const want = await readProfiles(path.join(out, 'features'));
    const records = parse(featuresCsv, { columns: true }) as Array<Record<string, string>>;
    assert.deepEqual(Object.keys(records[0]!), [...want.metadataColumns, ...want.featureColumns], 'the CLI\'s columns, in its order');
    assert.equal(records.length, want.features.length);
    const got = new Map(records.map((r) => [key(r), r]));
    let worst = 0;
    want.metadata.forEach((m, i) => {
      const r = got.get(key(m));
      assert.ok(r, `field ${key(m)} is in the page's features`);
      for (const c of want.metadataColumns) assert.equal(r[c] ?? '', m[c] === null ? '' : String(m[c]), `${key(m)} ${c}`);
      want.featureColumns.forEach((c, j) => {
        const a = Number(r[c]);
        const b = want.features[i]![j]!;
        worst = Math.max(worst, Math.abs(a - b) / Math.max(Math.abs(b), 1e-3));
      });
    });
    assert.ok(worst <= 1e-4, `features within 1e-4 relative of the CLI's (worst ${worst})`);
    const cliMetrics = JSON.parse(readFileSync(path.join(out, 'eval', 'metrics.json'), 'utf8'));
    assert.ok(cliMetrics.nscb !== null && cliMetrics.nsc.total > 0);
    assert.deepEqual(metrics.nsc, cliMetrics.nsc, 'NSC');
    assert.deepEqual(metrics.nscb, cliMetrics.nscb, 'NSCB');
    assert.deepEqual(metrics.map, cliMetrics.map, 'mAP and its p-value');
    assert.deepEqual(metrics.per_moa, cliMetrics.per_moa);

    assert.deepEqual(session.outside, [], 'no request leaves the local server');
    assert.deepEqual(session.problems, [], 'no console errors');
  });
});
