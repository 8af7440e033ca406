/**
 * Classical features on the fleet: `queue submit --features classical --keep-cells`, one worker,
 * `queue collect` give the features (and per-object rows) of a single-machine
 * `run --features classical`, bitwise.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { cellScreen } from '../../src/cells/stage.js';
import { collectRun } from '../../src/queue/collect.js';
import { submitScreen } from '../../src/queue/submit.js';
import { runWorker } from '../../src/queue/worker.js';
import { loadScreen } from '../../src/screen/index.js';
import { synthesizeScreen } from '../../src/synth/index.js';
import { readProfiles } from '../../src/table/index.js';
import { tempDir } from '../helpers.js';
import { assertSameFeatures, freePort, haveRedis, startRedis } from './support.js';

describe('queue: classical features', { skip: haveRedis() ? false : 'redis-server is not installed (apt-get install redis-server); skipped' }, () => {
  test('submit, one worker, collect: the features and per-object rows of a single-machine run', async () => {
    const root = tempDir('queue-cells-');
    const s = await synthesizeScreen({ out: path.join(root, 'screen'), seed: 9, plates: 1, width: 320, height: 256, sites: 1, controls: 2, doses: 1 });
    const { screen } = await loadScreen({ metadata: s.imageTable, images: s.imagesRoot, moa: s.moaTable });
    const reference = path.join(root, 'single');
    await cellScreen({ screen, out: reference, mode: 'classical', keepCells: true, shardSize: 6, progress: false });

    const redis = await startRedis(await freePort());
    try {
      const out = path.join(root, 'queued');
      const submitted = await submitScreen({ metadata: s.imageTable, images: s.imagesRoot, moa: s.moaTable, out, redis: redis.url, shardSize: 6, features: 'classical', keepCells: true });
      assert.equal(submitted.jobs.embed, Math.ceil(s.fields / 6));
      const w = await runWorker({ redis: redis.url, once: true, roots: [root], pollMs: 200 });
      assert.equal(w.failed, 0);
      const c = await collectRun(out);
      assert.ok(c.finished);
      await assertSameFeatures(out, reference);
      const [got, want] = [await readProfiles(path.join(out, 'cells')), await readProfiles(path.join(reference, 'cells'))];
      assert.equal(got.features.length, want.features.length);
      assert.ok(got.features.every((f, i) => Buffer.from(f.buffer, f.byteOffset, f.byteLength).equals(Buffer.from(want.features[i]!.buffer, want.features[i]!.byteOffset, want.features[i]!.byteLength))));
    } finally {
      await redis.stop();
    }
  });
});
