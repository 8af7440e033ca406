import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { FeatureStore, planShards } from '../../src/embed/store.js';
import type { Field } from '../../src/screen/types.js';
import { synthesizeScreen, type SynthResult } from '../../src/synth/index.js';
import { readProfiles, type ProfileTable } from '../../src/table/index.js';
import { cliPath, tempDir } from '../helpers.js';

function field(plate: string, well: string, site: number): Field {
  return { plate, well, site, compound: 'c', concentration: 1, moa: 'm', batch: null, images: {}, row: 1 };
}

function tableOf(fields: Field[], dim = 3): ProfileTable {
  return {
    metadataColumns: ['Metadata_Plate', 'Metadata_Well', 'Metadata_Site'],
    metadata: fields.map((f) => ({ Metadata_Plate: f.plate, Metadata_Well: f.well, Metadata_Site: f.site })),
    featureColumns: Array.from({ length: dim }, (_, i) => `f${i}`),
    features: fields.map((_, r) => Float32Array.from({ length: dim }, (_, i) => r * 10 + i)),
  };
}

describe('feature store', () => {
  const fields = [field('P1', 'A01', 1), field('P1', 'A01', 2), field('P1', 'A02', 1), field('P2', 'A01', 1)];

  test('plans shards per plate in table order, with stable ids', () => {
    const plan = planShards(fields, 2);
    assert.deepEqual(plan.map((s) => [s.id, s.fields.length]), [['P1-0000', 2], ['P1-0001', 1], ['P2-0000', 1]]);
    assert.deepEqual(planShards(fields, 2).map((s) => s.id), plan.map((s) => s.id));
    assert.throws(() => planShards(fields, 0), /shard size/);
  });

  test('commits, detects truncated and corrupt shards, and refuses other settings', async () => {
    const dir = path.join(tempDir(), 'features');
    const store = await FeatureStore.open(dir, { model: 'm', shardSize: 2 });
    const [a, b] = planShards(fields, 2);
    assert.deepEqual(await store.state(a!), { committed: false, problem: null });
    await store.commit(a!, tableOf(a!.fields), []);
    await store.commit(b!, tableOf([]), [{ plate: 'P1', well: 'A02', site: 1, channel: 'DNA', file: 'x.tif', row: 3, stage: 'read', reason: 'corrupt' }]);
    assert.equal((await store.state(a!)).committed, true);
    const bState = await store.state(b!);
    assert.ok(bState.committed && bState.receipt.rows === 0 && bState.receipt.errors.length === 1, 'a shard whose fields all failed is committed empty, with its errors');
    const read = await store.read();
    assert.equal(read.features.length, 2);
    assert.deepEqual([...read.features[1]!], [10, 11, 12]);

    const file = store.shardPath(a!.id);
    const bytes = readFileSync(file);
    truncateSync(file, bytes.length - 10);
    const truncated = await store.state(a!);
    assert.ok(!truncated.committed && /truncated/.test(truncated.problem ?? ''));
    const flipped = Buffer.from(bytes);
    flipped[Math.floor(bytes.length / 2)]! ^= 0xff;
    writeFileSync(file, flipped);
    const corrupt = await store.state(a!);
    assert.ok(!corrupt.committed && /corrupt/.test(corrupt.problem ?? ''));

    // a receipt for other fields than planned is not taken as done
    const moved = { ...a!, fields: [a!.fields[0]!] };
    const stale = await store.state(moved);
    assert.ok(!stale.committed && /other fields/.test(stale.problem ?? ''));

    await assert.rejects(FeatureStore.open(dir, { model: 'other', shardSize: 2 }), /other settings/);
  });
});

describe('a run killed with SIGKILL resumes and ends with every field once, bitwise equal', () => {
  let screen: SynthResult;
  let root: string;
  before(async () => {
    root = tempDir();
    screen = await synthesizeScreen({ out: path.join(root, 'screen'), seed: 11, plates: 2, width: 160, height: 128, sites: 1, controls: 2, doses: 1 });
  });

  const args = (out: string) => ['embed', '--metadata', screen.imageTable, '--images', screen.imagesRoot, '--moa', screen.moaTable, '--out', out, '--shard-size', '3', '--batch-size', '3'];

  test('kill at several moments, rerun, compare with an uninterrupted run', async () => {
    const reference = path.join(root, 'reference');
    const r = spawnSync(process.execPath, [cliPath, ...args(reference)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const want = await readProfiles(path.join(reference, 'features'));
    assert.equal(want.features.length, screen.fields);

    const out = path.join(root, 'killed');
    const committedShards = () => (existsSync(path.join(out, 'features')) ? readdirSync(path.join(out, 'features')).filter((n) => n.endsWith('.parquet')).length : 0);
    // kill once one shard is committed, then again after four
    for (const after of [1, 4]) {
      const child = spawn(process.execPath, [cliPath, ...args(out)], { stdio: 'ignore' });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      let finished = false;
      void exited.then(() => (finished = true));
      while (!finished && committedShards() < after) await new Promise((res) => setTimeout(res, 20));
      if (!finished) child.kill('SIGKILL');
      await exited;
    }
    const resumed = spawnSync(process.execPath, [cliPath, ...args(out), '--json'], { encoding: 'utf8' });
    assert.equal(resumed.status, 0, resumed.stderr);
    const got = await readProfiles(path.join(out, 'features'));
    const key = (m: Record<string, unknown>) => `${m.Metadata_Plate}/${m.Metadata_Well}/${m.Metadata_Site}`;
    assert.equal(got.features.length, screen.fields, 'every field exactly once');
    assert.equal(new Set(got.metadata.map(key)).size, screen.fields);
    const wanted = new Map(want.metadata.map((m, i) => [key(m), want.features[i]!]));
    got.metadata.forEach((m, i) => {
      const w = wanted.get(key(m));
      assert.ok(w, `unexpected field ${key(m)}`);
      assert.ok(Buffer.from(w.buffer, w.byteOffset, w.byteLength).equals(Buffer.from(got.features[i]!.buffer, got.features[i]!.byteOffset, got.features[i]!.byteLength)), `features of ${key(m)} differ from the uninterrupted run`);
    });
  });

  test('a corrupted shard is detected on resume, rebuilt and reported', async () => {
    const out = path.join(root, 'corrupt');
    cpSync(path.join(root, 'reference'), out, { recursive: true });
    const dir = path.join(out, 'features');
    const victim = readdirSync(dir).filter((n) => n.endsWith('.parquet')).sort()[0]!;
    truncateSync(path.join(dir, victim), 100);
    const r = spawnSync(process.execPath, [cliPath, ...args(out), '--json'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`${victim.replace('.', '\\.')} is truncated.*rebuilding`));
    const result = JSON.parse(r.stdout);
    assert.equal(result.shardsRebuilt.length, 1);
    assert.equal(result.fieldsEmbedded, 3);
    assert.equal((await readProfiles(dir)).features.length, screen.fields);
  });
});
