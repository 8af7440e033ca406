/**
 * int8 in the browser page (headless Chromium): the page quantizes the model with the CLI's own
 * quantizer, calibrated on the same control fields, so its int8 features equal the CLI's
 * `embed --precision int8` within 1e-4 relative; `auto` keeps int8 only when it is faster and its
 * features hold (cosine >= 0.99 on every calibration image), and the page says which and why.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { synthesizeScreen, type SynthResult } from '../../src/synth/synthesize.js';
import { readProfiles } from '../../src/table/index.js';
import { cliPath, tempDir } from '../helpers.js';
import { tinyModel } from '../queue/support.js';
import { buildPage, CHROMIUM, download, haveChromium, openPage, type PageSession, rowKey, runScreen } from './support.js';

const skip = haveChromium() ? false : `${CHROMIUM} not present (Debian package chromium); skipped`;

describe('int8 in the browser page', { skip }, () => {
  let root: string;
  let screen: SynthResult;
  let model: string;
  let session: PageSession;

  before(async () => {
    root = tempDir('morphoprof-web-int8-');
    screen = await synthesizeScreen({ out: path.join(root, 'screen'), seed: 7, plates: 1, width: 96, height: 80, sites: 1, controls: 2, doses: 1 });
    model = tinyModel(path.join(root, 'tiny.onnx'), { width: 16, layers: 2 });
    session = await openPage(await buildPage(path.join(root, 'dist')));
  });

  after(async () => {
    await session?.close();
  });

  /** The page's precision line: what it chose, and the calibration's figures. */
  async function choice(): Promise<{ text: string; precision: string; fields: number; seconds: number; mean: number; min: number; int8Rate: number; fp32Rate: number }> {
    const line = session.page.locator('#precision-choice');
    const text = (await line.textContent()) ?? '';
    const m = /calibrated on (\d+) control field\(s\) \(\d+ images\) in ([\d.]+) s; .*cosine mean ([\d.]+), min ([\d.]+); speed ([\d.]+) vs ([\d.]+) images\/s/.exec(text);
    assert.ok(m, `the page states the calibration's cost, cosine and speed: ${text}`);
    return { text, precision: (await line.getAttribute('data-precision')) ?? '', fields: Number(m[1]), seconds: Number(m[2]), mean: Number(m[3]), min: Number(m[4]), int8Rate: Number(m[5]), fp32Rate: Number(m[6]) };
  }

  test('int8: the page calibrates on the control fields and its features equal the CLI\'s embed --precision int8', async (t) => {
    const { page } = session;
    assert.equal(await runScreen(page, path.join(root, 'screen'), { model, batch: 4, precision: 'int8' }), 'done', (await page.locator('#status').textContent()) ?? '');
    const c = await choice();
    assert.equal(c.precision, 'int8');
    assert.match(c.text, /^Precision: int8 \(chosen\)/);
    assert.ok(c.fields >= 1 && c.fields <= 8 && c.seconds >= 0, 'a few control fields (calibrationFields: at most 8)');
    assert.ok(c.min <= c.mean && c.mean <= 1.0001 && c.min > 0.9, `int8 stays close to fp32 on a tiny model (${c.text})`);

    const out = path.join(root, 'cli');
    const r = spawnSync(process.execPath, [cliPath, 'embed', '--metadata', screen.imageTable, '--images', screen.imagesRoot, '--moa', screen.moaTable, '--model', model, '--precision', 'int8', '--out', out, '--batch-size', '4'], {
      encoding: 'utf8',
      env: { ...process.env, CI: 'true', MORPHOPROF_CACHE: path.join(root, 'cache') },
    });
    assert.equal(r.status, 0, r.stderr);
    const want = await readProfiles(path.join(out, 'features'));
    const records = parse(readFileSync(await download(page, 'download-features'), 'utf8'), { columns: true }) as Array<Record<string, string>>;
    assert.deepEqual(Object.keys(records[0]!), [...want.metadataColumns, ...want.featureColumns], 'the CLI\'s int8 columns (<stain>_tiny.int8_<i>)');
    assert.ok(want.featureColumns[0]!.includes('tiny.int8'));
    const got = new Map(records.map((row) => [rowKey(row), row]));
    let worst = 0;
    want.metadata.forEach((m, i) => {
      const row = got.get(rowKey(m));
      assert.ok(row, `field ${rowKey(m)} is in the page's features`);
      want.featureColumns.forEach((col, j) => {
        const b = want.features[i]![j]!;
        worst = Math.max(worst, Math.abs(Number(row[col]) - b) / Math.max(Math.abs(b), 1e-3));
      });
    });
    assert.equal(records.length, want.features.length);
    assert.ok(worst <= 1e-4, `int8 features within 1e-4 relative of the CLI's (worst ${worst})`);
    t.diagnostic(`${c.text} Worst relative difference to the CLI's int8 features: ${worst}`);
  });

  test('auto: int8 only when faster with every cosine >= 0.99, else fp32 with the reason; the report says which', async (t) => {
    const { page } = session;
    await page.goto(session.server.url);
    assert.equal(await runScreen(page, path.join(root, 'screen'), { model, batch: 4, precision: 'auto' }), 'done', (await page.locator('#status').textContent()) ?? '');
    const c = await choice();
    const int8 = c.min >= 0.99 && c.int8Rate > c.fp32Rate;
    assert.equal(c.precision, int8 ? 'int8' : 'fp32', c.text);
    t.diagnostic(c.text);
    if (int8) assert.match(c.text, /^Precision: int8 \(auto: faster, and its features hold\)/);
    else assert.match(c.text, /^Precision: fp32 \(auto\): int8 not used because (its features do not hold|it is not faster here)/);
    const columns = Object.keys((parse(readFileSync(await download(page, 'download-features'), 'utf8'), { columns: true }) as Array<Record<string, string>>)[0]!);
    assert.equal(columns.some((col) => col.includes('tiny.int8_')), int8, 'the feature columns name the precision used');
    assert.deepEqual(session.problems, []);
  });
});
