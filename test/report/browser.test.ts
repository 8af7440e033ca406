/**
 * Opens the report in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core),
 * with every network request refused, and checks that each chart rendered its marks.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { writeReport } from '../../src/report/index.js';
import { tempDir } from '../helpers.js';
import { HOSTILE_COMPOUND, makeNewRun, MOAS, TREATMENTS } from './fixture.js';
import { makePictureRun } from './pictures-fixture.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--disable-quic', '--disable-component-update', '--disable-sync'];

type Page = Awaited<ReturnType<Awaited<ReturnType<typeof chromium.launchPersistentContext>>['newPage']>>;

/**
 * Opens each file in Chromium with every other request refused, and hands the pages to `check`;
 * then asserts that no page requested anything but itself or logged an error.
 */
async function inChromium(files: string[], check: (pages: Page[]) => Promise<void>): Promise<void> {
  const context = await chromium.launchPersistentContext(path.join(tempDir('morphoprof-chromium-'), 'profile'), {
    executablePath: CHROMIUM,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
  });
  const problems: string[] = [];
  const requests: string[] = [];
  try {
    const pages: Page[] = [];
    for (const file of files) {
      const url = pathToFileURL(file).href;
      const page = await context.newPage();
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      await page.route('**/*', async (route) => {
        const requested = route.request().url();
        if (requested === url || requested.startsWith('data:')) return route.continue();
        requests.push(requested);
        return route.abort();
      });
      await page.goto(url);
      pages.push(page);
    }
    await check(pages);
  } finally {
    await context.close();
  }
  assert.deepEqual(requests, [], 'the pages request nothing but themselves');
  assert.deepEqual(problems, []);
}

/** Hovers the n-th point of a map and returns the tooltip. */
async function hoverPoint(page: Page, chart: string, n: number) {
  const point = page.locator(`#${chart} svg g.mark-symbol.role-mark path`).nth(n);
  await point.scrollIntoViewIfNeeded();
  const box = await point.boundingBox();
  assert.ok(box);
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  const tooltip = page.locator('#vg-tooltip-element');
  await tooltip.waitFor({ state: 'visible', timeout: 10_000 });
  return tooltip;
}

test('the report renders in headless Chromium offline: heatmap cells, bars, map points, tooltips, no console errors', async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} not present (Debian package chromium); skipped`);
    return;
  }
  const dir = tempDir();
  await makeNewRun(dir);
  const { html } = await writeReport(dir, { umap: true });
  await inChromium([html], async ([page]) => {
    page = page!;
    // Browser-side code as strings: the project compiles without the DOM typings.
    await page.waitForFunction(`[...document.querySelectorAll('.chart')].every((e) => e.dataset.rendered)`, undefined, { timeout: 30_000 });
    const charts = await page.evaluate<Record<string, { rendered: string; rects: number; symbols: number }>>(`Object.fromEntries(
      [...document.querySelectorAll('.chart')].map((e) => [e.id, {
        rendered: e.dataset.rendered,
        rects: e.querySelectorAll('svg g.mark-rect.role-mark path').length,
        symbols: e.querySelectorAll('svg g.mark-symbol.role-mark path').length,
      }]))`);
    assert.deepEqual(Object.keys(charts).sort(), ['confusion_matrix', 'per_moa_accuracy', 'profile_map', 'profile_map_umap']);
    for (const [id, chart] of Object.entries(charts)) assert.equal(chart.rendered, 'true', `${id} rendered`);
    assert.equal(charts.confusion_matrix!.rects, MOAS.length ** 2, 'one heatmap cell per pair of MOAs');
    assert.equal(charts.per_moa_accuracy!.rects, MOAS.length, 'one bar per MOA');
    assert.equal(charts.profile_map!.symbols, TREATMENTS, 'one PCA point per treatment');
    assert.equal(charts.profile_map_umap!.symbols, TREATMENTS, 'one UMAP point per treatment');

    // Hovering a point shows its compound, concentration and MOA (vega-tooltip), as text.
    const labels = await page.locator('#profile_map svg g.mark-symbol.role-mark path').evaluateAll((paths) => paths.map((p) => p.getAttribute('aria-label') ?? ''));
    assert.ok(labels.every((l) => /Compound: .*Concentration: .*/.test(l)), 'every point describes its treatment');
    const hostile = labels.findIndex((l) => l.includes(`Compound: ${HOSTILE_COMPOUND}`));
    assert.ok(hostile >= 0);
    const tooltip = await hoverPoint(page, 'profile_map', hostile);
    const text = await tooltip.innerText();
    assert.match(text, /Compound[\s\S]*Concentration[\s\S]*MOA/);
    assert.ok(text.includes(HOSTILE_COMPOUND) && text.includes(MOAS[2]!), `tooltip: ${text}`);
    assert.equal(await tooltip.locator('img').count(), 0, 'no picture without images');
  });
});

/** Pictures of <img data-picture> elements that the browser decoded, and those it did not. */
const decoded = `(() => {
  const imgs = [...document.querySelectorAll('img[data-picture]')];
  return { total: imgs.length, decoded: imgs.filter((i) => i.complete && i.naturalWidth > 0).length };
})()`;

test('the pictures of the cells decode in Chromium: gallery, neighbour table, map tooltip; the gallery page too', async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} not present (Debian package chromium); skipped`);
    return;
  }
  const run = await makePictureRun(tempDir('morphoprof-pictures-'));
  const { html } = await writeReport(run.dir);
  const apart = path.join(tempDir(), 'run');
  cpSync(run.dir, apart, { recursive: true });
  const split = await writeReport(apart, { pictureBudget: 30_000 });
  assert.ok(split.gallery);
  await inChromium([html, split.html, split.gallery], async ([page, small, gallery]) => {
    await page!.waitForFunction(`[...document.querySelectorAll('.chart')].every((e) => e.dataset.rendered)`, undefined, { timeout: 30_000 });
    const images = await page!.evaluate<{ total: number; decoded: number }>(decoded);
    const rows = run.treatments - 1; // the control is not evaluated
    assert.equal(images.total, 2 * run.treatments + 2 * rows, 'gallery (thumbnail + crop) and neighbour table (two per row)');
    assert.equal(images.decoded, images.total, 'every picture decodes');
    const size = await page!.locator('#cells img[data-picture$="c"]').first().evaluate((img) => [(img as unknown as { naturalWidth: number }).naturalWidth, img.getBoundingClientRect().width]);
    assert.deepEqual(size, [144, 144], 'the crop is shown at full resolution: one image pixel per CSS pixel');
    const tooltip = await hoverPoint(page!, 'profile_map', 3);
    const picture = tooltip.locator('img.tooltip-picture');
    assert.equal(await picture.count(), 1, 'the map\'s tooltip shows the picture');
    assert.ok((await picture.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)) > 0);
    assert.match(await tooltip.innerText(), /Compound[\s\S]*MOA/);
    assert.doesNotMatch(await tooltip.innerText(), /Picture|p\d+/, 'the picture id is not shown as text');

    // over budget: small thumbnails in the report, the gallery apart
    const rest = await small!.evaluate<{ total: number; decoded: number }>(decoded);
    assert.ok(rest.total === 2 * rows && rest.decoded === rest.total, JSON.stringify(rest));
    const pictures = await gallery!.evaluate<{ total: number; decoded: number }>(decoded);
    assert.ok(pictures.total === 2 * run.treatments && pictures.decoded === pictures.total, JSON.stringify(pictures));
  });
});
