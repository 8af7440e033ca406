/**
 * Nucleus detection on synthetic screens (the demo preset's first plate, and a smaller screen with
 * another layout; 640x512 fields, every MOA, DMSO controls), scored against where the renderer
 * drew each nucleus (`synth_nuclei.csv`), through the cells stage's `segment` mode with its default
 * settings. Also the scoring rules themselves.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { scoreAgainstSynth, scoreDetections, type TrueNucleus } from '../../src/cells/detect.js';
import { cellScreen } from '../../src/cells/stage.js';
import { loadScreen } from '../../src/screen/index.js';
import { synthesizeScreen } from '../../src/synth/index.js';
import { tempDir } from '../helpers.js';

describe('nucleus detection', () => {
  test('scoring: a hit per true nucleus, extra pieces of one interphase nucleus are false positives, of a mitotic figure are not', () => {
    const truth: TrueNucleus[] = [
      { x: 50, y: 50, a: 10, b: 8, angle: 0, pieces: false },
      { x: 100, y: 50, a: 10, b: 10, angle: 0, pieces: true },
      { x: 150, y: 50, a: 10, b: 10, angle: 0, pieces: false },
    ];
    const s = scoreDetections(truth, [
      { x: 52, y: 50 },
      { x: 47, y: 51 }, // second piece of an interphase nucleus: false positive
      { x: 98, y: 50 },
      { x: 103, y: 52 }, // second piece of a mitotic figure: counted once
      { x: 300, y: 300 }, // nowhere
    ]);
    assert.deepEqual([s.tp, s.fp, s.fn, s.truth, s.found], [2, 2, 1, 3, 4]);
    assert.equal(s.f1, (2 * 2) / (3 + 4));
  });

  /** Synthesize a screen, segment it through the cells stage's `segment` mode with the default settings, and score the nuclei. */
  async function detectionF1(opts: Omit<Parameters<typeof synthesizeScreen>[0], 'out'>, size: { width: number; height: number }): Promise<{ f1: number; fields: number; expected: number; score: unknown }> {
    const root = tempDir('detect-');
    const s = await synthesizeScreen({ out: path.join(root, 'screen'), ...opts });
    const { screen } = await loadScreen({ metadata: s.imageTable, images: s.imagesRoot, moa: s.moaTable });
    const r = await cellScreen({ screen, out: path.join(root, 'seg'), mode: 'segment', progress: false });
    assert.equal(r.errors.length, 0, JSON.stringify(r.errors.slice(0, 3)));
    const score = await scoreAgainstSynth(r.cellsDir!, s.nucleiTable, size);
    return { f1: score.f1, fields: score.fields, expected: s.fields, score };
  }

  test('the demo screen\'s first plate (68 fields of 640x512, every MOA): detection F1 >= 0.96 with the default settings', async () => {
    const r = await detectionF1({ preset: 'demo', plates: 1 }, { width: 640, height: 512 });
    assert.equal(r.fields, r.expected);
    assert.equal(r.fields, 68);
    // measured 0.976 on this plate (0.973 on the whole demo screen, 204 fields; 0.950 and 0.946
    // before the neck and notch splits): see docs/segmentation.md, "Detection on synthetic screens"
    assert.ok(r.f1 >= 0.96, `detection F1 ${r.f1.toFixed(4)} (${JSON.stringify(r.score)})`);
  });

  test('demo-like screen the defaults were not tuned on (one plate, one site, 640x512, every MOA): detection F1 >= 0.95', async () => {
    const r = await detectionF1({ seed: 1, plates: 1, width: 640, height: 512, sites: 1, controls: 2, doses: 1 }, { width: 640, height: 512 });
    assert.equal(r.fields, r.expected);
    // measured 0.969 here (0.934 before the neck and notch splits); the demo preset with seeds 2
    // and 3 (204 fields each, not tuned on): 0.976 and 0.976. See docs/segmentation.md
    assert.ok(r.f1 >= 0.95, `detection F1 ${r.f1.toFixed(4)} (${JSON.stringify(r.score)})`);
  });
});
