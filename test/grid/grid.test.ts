import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { GRID_VARIANTS, gridRunDir, runGrid } from '../../src/grid.js';
import { synthesizeScreen } from '../../src/synth/index.js';
import { tempDir } from '../helpers.js';

test('grid: 4 variants x 1 model on a tiny screen, Table 1 as Markdown and CSV, and a rerun embeds nothing', async (t) => {
  const root = tempDir('grid-');
  const s = await synthesizeScreen({ out: path.join(root, 'screen'), seed: 3, plates: 1, width: 192, height: 160, sites: 1, controls: 2, doses: 1 });
  const out = path.join(root, 'grid');
  const opts = { metadata: s.imageTable, images: s.imagesRoot, moa: s.moaTable, out, models: ['resnet50'], progress: false };
  const lines: string[] = [];
  const first = await runGrid({ ...opts, log: (l) => lines.push(l) });
  assert.equal(first.cells.length, 4);
  for (const v of GRID_VARIANTS) {
    const cell = first.cells.find((c) => c.variant === v.label)!;
    assert.equal(cell.out, gridRunDir(out, 'resnet50', v.illumination, v.channels));
    assert.ok(existsSync(path.join(cell.out, 'metrics.json')), cell.out);
    assert.equal(cell.fieldsEmbedded, s.fields);
    assert.ok(cell.accuracy >= 0 && cell.accuracy <= 1 && cell.total > 0);
    const run = JSON.parse(readFileSync(path.join(cell.out, 'run.json'), 'utf8'));
    assert.equal(run.metrics.nsc.accuracy, cell.accuracy);
  }
  assert.ok(existsSync(path.join(out, 'illum', 'illum.json')));
  t.diagnostic(first.markdown);

  const md = readFileSync(first.md, 'utf8');
  assert.equal(md, first.markdown);
  assert.match(md, /^\| variant \| resnet50 \|/);
  const csv = parse(readFileSync(first.csv), { columns: true }) as Array<Record<string, string>>;
  assert.deepEqual(csv.map((r) => r.variant), GRID_VARIANTS.map((v) => v.label));
  for (const row of csv) {
    const cell = first.cells.find((c) => c.variant === row.variant)!;
    assert.equal(row.resnet50, (100 * cell.accuracy).toFixed(2));
    assert.ok(md.includes(`| ${row.variant} | ${row.resnet50} |`));
  }

  // the comparison of profile kinds: whole-field deep, single-cell deep, classical, each with its run's metrics and time per field
  assert.deepEqual(first.comparison.map((c) => c.method.split(' (')[0]), ['whole-field deep', 'single-cell deep', 'classical']);
  for (const c of first.comparison) {
    const run = JSON.parse(readFileSync(path.join(c.out, 'run.json'), 'utf8'));
    assert.equal(c.nsc, run.metrics.nsc.accuracy);
    assert.ok(c.secondsPerField !== null && c.secondsPerField > 0, c.method);
  }
  assert.ok(existsSync(path.join(out, 'comparison.csv')));
  assert.match(first.markdown, /\| profile \| normalization \| NSC % \| NSCB % \| mAP \| s per field \|/);

  const second = await runGrid({ ...opts, log: () => {} });
  assert.deepEqual(second.cells.map((c) => c.fieldsEmbedded), [0, 0, 0, 0]);
  assert.deepEqual(second.cells.map((c) => c.fieldsResumed), [s.fields, s.fields, s.fields, s.fields]);
  assert.deepEqual(second.cells.map((c) => c.accuracy), first.cells.map((c) => c.accuracy));
});
