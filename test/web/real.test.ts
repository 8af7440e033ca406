/**
 * The browser page on the real BBBC021 files of ../shared/data (skipped, saying so, when they or
 * Chromium are absent): the original image table with the seven real images present (inspect shows
 * the whole screen and its missing files; a run says no field is complete), and those seven real
 * MetaMorph TIFFs as a one-stain LoadData screen, embedded with features equal to the CLI's.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { readProfiles } from '../../src/table/index.js';
import { cliPath, sharedData, skipMessage, tempDir } from '../helpers.js';
import { tinyModel } from '../queue/support.js';
import { buildPage, CHROMIUM, download, haveChromium, openPage, type PageSession, rowKey, runScreen } from './support.js';

const metadata = sharedData('bbbc021', 'metadata');
const images = sharedData('bbbc021', 'images');
const skip = !haveChromium() ? `${CHROMIUM} not present (Debian package chromium); skipped` : !metadata || !images ? skipMessage('bbbc021/metadata and bbbc021/images') : false;

describe('the browser page on real BBBC021 files', { skip }, () => {
  let root: string;
  let session: PageSession;
  let model: string;

  before(async () => {
    root = tempDir('morphoprof-web-real-');
    const bbbc = path.join(root, 'bbbc021');
    mkdirSync(bbbc);
    for (const f of ['BBBC021_v1_image.csv', 'BBBC021_v1_moa.csv']) cpSync(path.join(metadata!, f), path.join(bbbc, f));
    cpSync(images!, path.join(bbbc, 'images'), { recursive: true });
    model = tinyModel(path.join(root, 'tiny.onnx'), { width: 16 });
    session = await openPage(await buildPage(path.join(root, 'dist')));
  });

  after(async () => {
    await session?.close();
  });

  test('BBBC021_v1_image.csv: inspect shows the whole screen and the missing files; a run says no field is complete', async () => {
    const { page } = session;
    const state = await runScreen(page, path.join(root, 'bbbc021'), { model, timeout: 300_000 });
    const facts = (await page.locator('#inspect-body').textContent()) ?? '';
    for (const fact of ['BBBC021_v1_image.csv', 'BBBC021_v1_moa.csv', 'Fields13200', 'Plates55', 'DAPI, Tubulin, Actin', '7 of 39600 present; 0 complete fields', 'The table\'s image paths are relative to /bbbc021/images']) {
      assert.ok(facts.includes(fact), `inspect shows ${fact}`);
    }
    assert.equal(state, 'failed');
    assert.match((await page.locator('#run-error').textContent()) ?? '', /None of the 13200 fields has all its image files/);
    assert.equal(await page.locator('#errors tbody tr').count(), 13200, 'every field is listed with its missing files');
    assert.deepEqual(session.outside, []);
    assert.deepEqual(session.problems, []);
  });

  test('the seven real TIFFs as a one-stain screen: features equal the CLI\'s; no evaluation of controls alone, and the page says why', async () => {
    const { page } = session;
    const index = parse(readFileSync(path.join(images!, 'INDEX.csv')), { columns: true }) as Array<Record<string, string>>;
    const screen = path.join(root, 'real7');
    cpSync(images!, path.join(screen, 'images'), { recursive: true });
    const header = 'FileName_Stain,PathName_Stain,Metadata_Plate,Metadata_Well,Metadata_Site,Metadata_Compound,Metadata_Concentration,Metadata_MOA';
    const rows = index.map((r) => [path.basename(r.path!), path.dirname(r.path!), r.plate, r.well, Number(r.site), r.compound, r.concentration, r.moa].join(','));
    const table = path.join(screen, 'load_data.csv');
    writeFileSync(table, `${header}\n${rows.join('\n')}\n`);
    assert.equal(await runScreen(page, screen, { model }), 'done', (await page.locator('#status').textContent()) ?? '');
    const got = parse(readFileSync(await download(page, 'download-features'), 'utf8'), { columns: true }) as Array<Record<string, string>>;
    assert.equal(got.length, index.length);
    // the seven fields are all DMSO: features, but no evaluation, and the page says why
    assert.match((await page.locator('#stage').textContent()) ?? '', /No evaluation or report: NSC needs MOA-annotated treatments of at least 2 compounds/);

    const out = path.join(root, 'real7-cli');
    const r = spawnSync(process.execPath, [cliPath, 'embed', '--metadata', table, '--images', screen, '--model', model, '--out', out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const want = await readProfiles(path.join(out, 'features'));
    const byKey = new Map(got.map((g) => [rowKey(g), g]));
    let worst = 0;
    want.metadata.forEach((m, i) => {
      const g = byKey.get(rowKey(m))!;
      want.featureColumns.forEach((c, j) => (worst = Math.max(worst, Math.abs(Number(g[c]) - want.features[i]![j]!) / Math.max(Math.abs(want.features[i]![j]!), 1e-3))));
    });
    assert.ok(worst <= 1e-4, `features of the real TIFFs within 1e-4 relative of the CLI's (worst ${worst})`);
    assert.deepEqual(session.problems, []);
  });
});
