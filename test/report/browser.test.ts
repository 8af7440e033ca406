/**
 * Opens the report in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core),
 * with every network request refused, and checks that each chart rendered its marks.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { writeReport } from '../../src/report/index.js';
import { tempDir } from '../helpers.js';
import { HOSTILE_COMPOUND, makeNewRun, MOAS, TREATMENTS } from './fixture.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--disable-quic', '--disable-component-update', '--disable-sync'];

test('the report renders in headless Chromium offline: heatmap cells, bars, map points, tooltips, no console errors', async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} not present (Debian package chromium); skipped`);
    return;
  }
  const dir = tempDir();
  await makeNewRun(dir);
  const { html } = await writeReport(dir, { umap: true });
  const url = pathToFileURL(html).href;

  const context = await chromium.launchPersistentContext(path.join(tempDir('morphoprof-chromium-'), 'profile'), {
    executablePath: CHROMIUM,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
  });
  try {
    const page = await context.newPage();
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.route('**/*', async (route) => {
      const requested = route.request().url();
      if (requested === url) return route.continue();
      requests.push(requested);
      return route.abort();
    });
    await page.goto(url);
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
    const point = page.locator('#profile_map svg g.mark-symbol.role-mark path').nth(hostile);
    await point.scrollIntoViewIfNeeded();
    const box = await point.boundingBox();
    assert.ok(box);
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    const tooltip = page.locator('#vg-tooltip-element');
    await tooltip.waitFor({ state: 'visible', timeout: 10_000 });
    const text = await tooltip.innerText();
    assert.match(text, /Compound[\s\S]*Concentration[\s\S]*MOA/);
    assert.ok(text.includes(HOSTILE_COMPOUND) && text.includes(MOAS[2]!), `tooltip: ${text}`);

    assert.deepEqual(requests, [], 'the page requests nothing but itself');
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});
