import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Command } from 'commander';
import { register } from '../../src/cli/report.js';
import { MorphoprofError } from '../../src/errors.js';
import { escapeHtml, writeReport } from '../../src/report/index.js';
import { tempDir } from '../helpers.js';
import { ERROR_ROWS, HOSTILE_COMPOUND, makeNewRun, makeOldRun, MOAS, TREATMENTS } from './fixture.js';
import { assertPngFigure, externalSources, specsOf } from './support.js';

test('report of a run with the extended evaluation: headline NSC, NSCB, mAP, charts, tables, figures', async () => {
  const dir = tempDir();
  const result = await makeNewRun(dir);
  const { html: htmlPath, figures } = await writeReport(dir);
  assert.equal(htmlPath, path.join(dir, 'report.html'));
  const html = readFileSync(htmlPath, 'utf8');

  assert.deepEqual(externalSources(html), []);
  assert.doesNotMatch(html, /<script\b[^>]*\bsrc\s*=/i, 'every script is inline');
  assert.doesNotMatch(html, /<link\b/i, 'no linked stylesheet or resource');

  const nsc = `${(100 * result.nsc.accuracy).toFixed(1)}%`;
  for (const text of [nsc, `${result.nsc.correct} of ${result.nsc.total} treatments`, 'NSCB accuracy', '68.8%', '91.7%', '11 of 12', 'Mean average precision', '0.813', 'p = 0.001', '1000 permutations']) {
    assert.ok(html.includes(text), `page shows ${text}`);
  }
  // Text from the inputs is escaped: the page shows the compound's name, never its markup.
  assert.ok(!html.includes(HOSTILE_COMPOUND) && !html.includes('<script>alert(1)'));
  assert.ok(html.includes(escapeHtml(HOSTILE_COMPOUND)));
  assert.ok(html.includes(escapeHtml('/data/<plate>.csv')), 'run settings are shown');
  assert.ok(html.includes(`the first 50 of ${ERROR_ROWS}`), 'error table is cut with the count');
  assert.equal((html.match(/<td>Z\d\d<\/td>/g) ?? []).length, 50);
  assert.ok(html.includes('12.5 s'), 'timings are shown');

  const specs = specsOf(html);
  assert.deepEqual(Object.keys(specs).sort(), ['confusion_matrix', 'per_moa_accuracy', 'profile_map']);
  assert.equal(specs.confusion_matrix!.data!.values.length, MOAS.length ** 2);
  // Per-MOA accuracy comes from per_moa.csv (the fixture's numbers, not recomputed).
  const bars = specs.per_moa_accuracy!.layer![0]!.data!.values;
  assert.deepEqual(Object.fromEntries(bars.map((b) => [b.moa, b.accuracy])), { [MOAS[0]!]: 0.75, [MOAS[1]!]: 1, [MOAS[2]!]: 1, [MOAS[3]!]: 1 });
  const points = specs.profile_map!.data!.values;
  assert.equal(points.length, TREATMENTS);
  assert.ok(points.some((p) => p.compound === HOSTILE_COMPOUND && p.moa === MOAS[2]));
  assert.equal(points.filter((p) => p.role === 'control').length, 1);

  for (const name of ['confusion_matrix', 'per_moa_accuracy', 'profile_map']) {
    assert.ok(figures.includes(path.join(dir, 'figures', `${name}.png`)) && figures.includes(path.join(dir, 'figures', `${name}.svg`)));
    await assertPngFigure(path.join(dir, 'figures', `${name}.png`));
    assert.match(readFileSync(path.join(dir, 'figures', `${name}.svg`), 'utf8'), /^<svg[\s\S]*<\/svg>$/);
  }
});

test('report of a run without the new files: old metrics.json, per-MOA from neighbors.csv, map from features/', async () => {
  const dir = tempDir();
  const result = await makeOldRun(dir);
  const html = readFileSync((await writeReport(dir)).html, 'utf8');
  assert.ok(!html.includes('NSCB') && !html.includes('Mean average precision'), 'absent metrics are not shown');
  assert.ok(!html.includes('<div class="notes">'), 'nothing reported missing');
  const specs = specsOf(html);
  const expected: Record<string, number> = {};
  for (const moa of MOAS) {
    const own = result.neighbors.filter((n) => n.moa === moa);
    expected[moa] = own.filter((n) => n.correct).length / own.length;
  }
  const bars = specs.per_moa_accuracy!.layer![0]!.data!.values;
  assert.deepEqual(Object.fromEntries(bars.map((b) => [b.moa, b.accuracy])), expected);
  assert.equal(specs.profile_map!.data!.values.length, TREATMENTS, 'one point per treatment, averaged from the fields');
  assert.equal(specs.confusion_matrix!.data!.values.length, result.confusion.labels.length ** 2);
  await assertPngFigure(path.join(dir, 'figures', 'profile_map.png'));
});

test('an evaluation folder (no run.json, errors.csv or profiles): report without those sections, saying why', async () => {
  const dir = tempDir();
  await makeOldRun(dir);
  for (const f of ['run.json', 'errors.csv', 'features', 'confusion_matrix.csv']) rmSync(path.join(dir, f), { recursive: true });
  const { html: htmlPath, figures } = await writeReport(dir);
  const html = readFileSync(htmlPath, 'utf8');
  assert.ok(html.includes('No run.json') && html.includes('map of treatment profiles is not shown'));
  assert.ok(!html.includes('id="run"') && !html.includes('id="errors"'));
  // The confusion matrix is rebuilt from neighbors.csv.
  assert.equal(specsOf(html).confusion_matrix!.data!.values.length, MOAS.length ** 2);
  assert.ok(!figures.some((f) => f.includes('profile_map')));
});

test('NSCB without any eligible treatment shows n/a and the reason, not 0.0%', async () => {
  const dir = tempDir();
  await makeNewRun(dir);
  const metrics = JSON.parse(readFileSync(path.join(dir, 'metrics.json'), 'utf8'));
  const note = 'every treatment spans all 3 batches (Week1, Week2, Week3), so none has a neighbour in another batch';
  metrics.nscb = { accuracy: 0, correct: 0, total: 16, eligible: { accuracy: 0, correct: 0, total: 0 }, note };
  writeFileSync(path.join(dir, 'metrics.json'), JSON.stringify(metrics));
  const html = readFileSync((await writeReport(dir)).html, 'utf8');
  const cards = html.slice(html.indexOf('<div class="cards">'), html.indexOf('</section>'));
  assert.match(cards, /NSCB accuracy<\/div><div class="value">n\/a<\/div><div class="detail">every treatment spans all 3 batches/);
  assert.ok(!cards.includes('eligible') && !cards.includes('0 of 0') && !/NSCB[^<]*<\/div><div class="value">0/.test(cards), 'no zero shown for an undefined figure');
});

test('a broken optional input becomes a note; a missing or broken metrics.json is an error naming the file', async () => {
  const dir = tempDir();
  await makeNewRun(dir);
  writeFileSync(path.join(dir, 'per_moa.csv'), 'Mechanism,Hits\nX,1\n');
  const html = readFileSync((await writeReport(dir)).html, 'utf8');
  assert.match(html, /Could not read per_moa\.csv: [^<]*no MOA column/);
  assert.equal(specsOf(html).per_moa_accuracy!.layer![0]!.data!.values.length, MOAS.length, 'falls back to metrics.json per_moa');

  writeFileSync(path.join(dir, 'metrics.json'), '{"nsc": {"accuracy": "high"}}');
  await assert.rejects(writeReport(dir), (e: unknown) => e instanceof MorphoprofError && e.code === 'BAD_TABLE' && e.message.includes('metrics.json') && e.message.includes('nsc'));
  const empty = tempDir();
  await assert.rejects(writeReport(empty), (e: unknown) => e instanceof MorphoprofError && e.code === 'FILE_NOT_FOUND' && e.message.includes(path.join(empty, 'metrics.json')));
});

test('CLI: morphoprof report <run-dir> --umap prints the page and figure paths, with a UMAP map', async () => {
  const dir = tempDir();
  await makeOldRun(dir);
  const program = new Command().exitOverride();
  register(program);
  const lines: string[] = [];
  const log = console.log;
  console.log = (line: string) => lines.push(line);
  try {
    await program.parseAsync(['node', 'morphoprof', 'report', dir, '--umap']);
  } finally {
    console.log = log;
  }
  assert.equal(lines[0], `report: ${path.join(dir, 'report.html')}`);
  const umap = path.join(dir, 'figures', 'profile_map_umap.png');
  assert.ok(lines.includes(`figure: ${umap}`) && existsSync(umap));
  await assertPngFigure(umap);
  const points = specsOf(readFileSync(path.join(dir, 'report.html'), 'utf8')).profile_map_umap!.data!.values;
  assert.equal(points.length, TREATMENTS);
  assert.ok(points.every((p) => Number.isFinite(p.x) && Number.isFinite(p.y)));
});
