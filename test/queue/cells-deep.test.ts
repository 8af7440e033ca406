/**
 * Single-cell deep profiles on the fleet (`queue submit --mode cells`), on real redis-servers with a
 * tiny ONNX model:
 *  - CLI submit with the options of `run --mode cells`, two worker processes, one of them SIGKILLed
 *    as it starts a job: the job is taken over after its lease, every field is committed once, and
 *    the field and per-cell features equal a single-machine `embed --mode cells` bitwise;
 *  - nuclei from a `--locations` table: inside the roots it runs (bitwise equal to a single-machine
 *    run with that table, its unusable rows in errors.csv); outside the roots, through a link that
 *    leads out, or edited after submit, the jobs are refused with the reason; a table without the
 *    centre columns is refused at submit;
 *  - `--precision int8`: every worker calibrates on the same control crops as a single-machine run
 *    (one quantized network in the cache, features bitwise equal); `--illum auto`: illumination
 *    jobs, then crops of corrected stains equal to a single-machine run with the same functions;
 *  - `--concurrency 2`: two jobs of a screen take turns on its network (whole fields shown).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cellDeepScreen, cellJobSize } from '../../src/cells/deep.js';
import { DEFAULT_SHARD_SIZE } from '../../src/embed/store.js';
import { computeIllumination } from '../../src/illum/index.js';
import { runPipeline } from '../../src/pipeline.js';
import { collectRun } from '../../src/queue/collect.js';
import { queueStatus } from '../../src/queue/status.js';
import { submitScreen } from '../../src/queue/submit.js';
import { runWorker } from '../../src/queue/worker.js';
import { loadScreen } from '../../src/screen/index.js';
import type { Screen } from '../../src/screen/types.js';
import { synthesizeScreen, type SynthResult } from '../../src/synth/index.js';
import { readProfiles } from '../../src/table/index.js';
import { tempDir } from '../helpers.js';
import { assertSameFeatures, CliProcess, freePort, haveRedis, readCsv, runQueueCli, startRedis, status, tinyModel } from './support.js';

const SHARD = 3;
/** a 24-px box enlarged to the tiny network's 32 px input */
const BOX = 24;
const tiny = { inputSize: 32, preprocess: 'caffe' as const, output: 'features' };
const fastLease = { MORPHOPROF_LOCK_MS: '4000', MORPHOPROF_STALLED_MS: '1000' };

let root: string;
let data: string;
let runs: string;
let model: string;
let s: SynthResult;
let screen: Screen;

function sameRows(got: Float32Array[], want: Float32Array[]): boolean {
  const bytes = (f: Float32Array) => Buffer.from(f.buffer, f.byteOffset, f.byteLength);
  return got.length === want.length && got.every((f, i) => bytes(f).equals(bytes(want[i]!)));
}

describe('queue: single-cell deep profiles (--mode cells)', { skip: haveRedis() ? false : 'redis-server is not installed (apt-get install redis-server); skipped' }, () => {
  before(async () => {
    root = tempDir('queue-cells-deep-');
    data = path.join(root, 'data');
    runs = path.join(root, 'runs');
    mkdirSync(runs, { recursive: true });
    s = await synthesizeScreen({ out: path.join(data, 'screen'), seed: 9, plates: 1, width: 320, height: 256, sites: 1, controls: 2, doses: 1 });
    screen = (await loadScreen({ metadata: s.imageTable, images: s.imagesRoot, moa: s.moaTable })).screen;
    model = tinyModel(path.join(data, 'tiny.onnx'));
  });
  after(() => CliProcess.killAll());

  test('CLI submit, two workers, one killed mid-job: every field once, bitwise the single-machine features and cell rows', async () => {
    const reference = path.join(root, 'single');
    const single = await cellDeepScreen({ screen, out: reference, model, ...tiny, boxSize: BOX, keepCells: true, shardSize: SHARD, progress: false });
    assert.ok(single.crops > 2 * single.fieldsEmbedded, `${single.crops} cells in ${single.fieldsEmbedded} fields`);
    const redis = await startRedis(await freePort());
    try {
      const out = path.join(runs, 'cli');
      const args = ['--metadata', s.imageTable, '--images', s.imagesRoot, '--moa', s.moaTable, '--out', out, '--redis', redis.url, '--model', model, '--input-size', '32', '--preprocess', 'caffe', '--output', 'features'];
      const sub = runQueueCli(['queue', 'submit', ...args, '--mode', 'cells', '--box-size', String(BOX), '--keep-cells', '--job-size', String(SHARD), '--attempts', '2', '--backoff', '100']);
      assert.equal(sub.status, 0, sub.stderr);
      const m = sub.stdout.match(/screen (\w+): (\d+) jobs \(0 illumination, (\d+) embedding of 3 fields each\)/);
      assert.ok(m, sub.stdout);
      const screenId = m[1]!;
      assert.equal(Number(m[3]), Math.ceil(s.fields / SHARD));
      const queued = JSON.parse(readFileSync(path.join(out, 'queue.json'), 'utf8'));
      assert.deepEqual({ ...queued.cellDeep.recipe, nuclei: 'segmentation' in queued.cellDeep.recipe.nuclei }, { mode: 'cells', boxSize: BOX, inputSize: 32, aggregate: 'mean', resize: 'bilinear', cropBatch: single.settings.cropBatch, nuclei: true });
      // without --job-size, cells mode sizes jobs by the crops of a field, not by whole fields
      const sized = runQueueCli(['queue', 'submit', ...args.map((a) => (a === out ? path.join(runs, 'sized') : a)), '--mode', 'cells', '--box-size', String(BOX)]);
      assert.equal(sized.status, 0, sized.stderr);
      const jobSize = cellJobSize({ inputSize: 32, stains: screen.channels.length, fieldJobSize: DEFAULT_SHARD_SIZE });
      assert.ok(jobSize < DEFAULT_SHARD_SIZE);
      assert.match(sized.stdout, new RegExp(`embedding of ${jobSize} fields each`));

      // what `run --mode cells` refuses, submit refuses, naming the options
      const both = runQueueCli(['queue', 'submit', ...args.map((a) => (a === out ? path.join(runs, 'both') : a)), '--mode', 'cells', '--features', 'classical']);
      assert.notEqual(both.status, 0);
      assert.match(both.stderr, /--mode cells embeds a box around every cell with a network; --features classical measures cells already/);
      const rgb = runQueueCli(['queue', 'submit', ...args.map((a) => (a === out ? path.join(runs, 'rgb') : a)), '--mode', 'cells', '--channels', 'rgb']);
      assert.notEqual(rgb.status, 0);
      assert.match(rgb.stderr, /--channels rgb is for whole fields/);

      const worker = () => new CliProcess(['worker', '--redis', redis.url, '--root', root, '--once'], fastLease);
      const [a, b] = [worker(), worker()];
      // whichever worker starts a job of the screen first is killed at once, mid-job
      const started = new RegExp(`^(${screenId}\\.[^:]+): started`);
      const first = await Promise.any([a, b].map(async (w) => ({ w, m: await w.waitFor(started, 60_000) })));
      first.w.proc.kill('SIGKILL');
      const killedJob = first.m[1]!;
      const survivor = first.w === a ? b : a;
      const c = worker(); // the second worker after the kill
      assert.equal(await survivor.exit(90_000), 0, survivor.lines.join('\n'));
      assert.equal(await c.exit(90_000), 0, c.lines.join('\n'));
      assert.ok(!first.w.lines.some((l) => l.startsWith(`${killedJob}: `) && /committed/.test(l)), 'the killed worker committed nothing');
      const redone = [...survivor.lines, ...c.lines].filter((l) => l.startsWith(`${killedJob}: `) && /fields committed/.test(l));
      assert.equal(redone.length, 1, [...survivor.lines, ...c.lines].join('\n'));
      // the second screen (sized by cellJobSize) was done too; only the first is compared here
      const st = status(redis.url, out);
      assert.equal(st.failed, 0);
      assert.equal(st.done, Math.ceil(s.fields / SHARD));

      const col = runQueueCli(['queue', 'collect', '--out', out]);
      assert.equal(col.status, 0, col.stderr);
      assert.match(col.stdout, /NSC accuracy: [\d.]+/);
      await assertSameFeatures(out, reference);
      const [got, want] = [await readProfiles(path.join(out, 'cells')), await readProfiles(path.join(reference, 'cells'))];
      assert.deepEqual(got.metadata, want.metadata);
      assert.ok(sameRows(got.features, want.features), 'per-cell rows differ from the single-machine run');
      const runJson = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8'));
      assert.equal(runJson.settings.mode, 'cells');
      assert.equal(runJson.settings.keepCells, true);
      assert.ok(runJson.metrics.nsc.total > 0);
    } finally {
      await redis.stop();
    }
  });

  test('--locations inside the roots runs; outside, through a link, or edited after submit it is refused; int8 calibrates as a single machine', async () => {
    const elsewhere = path.join(root, 'elsewhere');
    mkdirSync(elsewhere);
    // nucleus centres as CellProfiler exports them: a few per field, and one row naming a field not in the screen
    const header = 'ImageNumber,ObjectNumber,Metadata_Plate,Metadata_Well,Metadata_Site,Nuclei_Location_Center_X,Nuclei_Location_Center_Y';
    const rows = screen.fields.flatMap((f, i) => [1, 2, 3].map((k) => `${i + 1},${k},${f.plate},${f.well},${f.site},${40 + 37 * k + i},${30 + 53 * k}`));
    const table = [header, ...rows, `99,1,${screen.fields[0]!.plate},P24,9,10,10`].join('\n') + '\n';
    const inside = path.join(data, 'nuclei.csv');
    writeFileSync(inside, table);
    const outside = path.join(elsewhere, 'nuclei.csv');
    writeFileSync(outside, table);
    symlinkSync(outside, path.join(data, 'linked-nuclei.csv'));
    const edited = path.join(data, 'edited-nuclei.csv');
    writeFileSync(edited, table);
    const noCentres = path.join(data, 'no-centres.csv');
    writeFileSync(noCentres, 'Metadata_Plate,Metadata_Well,Metadata_Site\nP,A01,1\n');
    const cacheDir = path.join(root, 'cache');

    const reference = path.join(runs, 'single-locations');
    await cellDeepScreen({ screen, out: reference, model, ...tiny, boxSize: BOX, locations: inside, shardSize: SHARD, progress: false });
    const referenceInt8 = path.join(root, 'single-int8');
    await cellDeepScreen({ screen, out: referenceInt8, model, ...tiny, precision: 'int8', boxSize: BOX, shardSize: SHARD, cacheDir, progress: false });

    const referenceIllum = path.join(root, 'single-illum');
    await computeIllumination({ screen, out: path.join(referenceIllum, 'illum') });
    await cellDeepScreen({ screen, out: referenceIllum, model, ...tiny, boxSize: BOX, illum: path.join(referenceIllum, 'illum'), shardSize: SHARD, progress: false });

    const redis = await startRedis(await freePort());
    try {
      const submit = (name: string, extra: Parameters<typeof submitScreen>[0]['cellDeep'] & { precision?: 'int8'; illum?: string } = {}) => {
        const { precision, illum, ...cellDeep } = extra;
        return submitScreen({ metadata: s.imageTable, images: s.imagesRoot, moa: s.moaTable, out: path.join(runs, name), redis: redis.url, model, ...tiny, precision, illum, mode: 'cells', cellDeep: { boxSize: BOX, ...cellDeep }, shardSize: SHARD, attempts: 2, backoffMs: 100, cacheDir });
      };
      await assert.rejects(submit('no-centres', { locations: noCentres }), /lacks the column\(s\) Nuclei_Location_Center_X, Nuclei_Location_Center_Y/);
      const good = await submit('locations', { locations: inside });
      const away = await submit('outside', { locations: outside });
      const linked = await submit('linked', { locations: path.join(data, 'linked-nuclei.csv') });
      const changed = await submit('edited', { locations: edited });
      writeFileSync(edited, table.replace(/,40,/g, ',41,') + `1,9,${screen.fields[0]!.plate},${screen.fields[0]!.well},1,50,50\n`);
      const int8 = await submit('int8', { precision: 'int8' });
      // --illum auto: illumination jobs first, then the nuclei are found and the crops cut on corrected stains
      const illum = await submit('illum', { illum: 'auto' });
      assert.equal(illum.jobs.illum, screen.channels.length);
      // the queue on top of a single-machine run with the same recipe: the same store, every job already done
      const onTop = await submit('single-locations', { locations: inside });

      const said: string[] = [];
      // two jobs at once share one network and crop writer: still bitwise the single-machine features
      const w = await runWorker({ redis: redis.url, once: true, roots: [data, runs], pollMs: 200, cacheDir, concurrency: 2, say: (l) => said.push(l) });
      assert.ok(w.jobs >= 4 * good.jobs.embed, `${w.jobs} jobs done`);
      assert.equal((await queueStatus({ redis: redis.url, screenId: onTop.screenId }))[0]!.done, onTop.jobs.embed);
      const onTopDone = said.filter((l) => l.startsWith(`${onTop.screenId}.`) && / in [\d.]+ s$/.test(l));
      assert.equal(onTopDone.length, onTop.jobs.embed);
      for (const l of onTopDone) assert.match(l, /already committed \(\d+ fields\), nothing to do/);
      const reasons = async (id: string) => (await queueStatus({ redis: redis.url, screenId: id }))[0]!.failures.map((f) => f.reason);
      for (const [r, what] of [
        [away, /locations table .*elsewhere\/nuclei\.csv lies outside the directories this worker may use/],
        [linked, /locations table .*linked-nuclei\.csv lies outside the directories this worker may use/],
        [changed, /edited-nuclei\.csv changed after the screen was submitted/],
      ] as const) {
        const failures = await reasons(r.screenId);
        assert.equal(failures.length, r.jobs.embed, `every job of ${r.queueFile} is refused`);
        for (const f of failures) assert.match(f, what);
      }

      const c = await collectRun(path.join(runs, 'locations'));
      assert.ok(c.finished);
      await assertSameFeatures(path.join(runs, 'locations'), reference);
      const errors = readCsv(path.join(runs, 'locations', 'errors.csv'));
      assert.ok(errors.some((e) => /field .*P24\/s9 is not in the screen's image table/.test(e.Reason!)), JSON.stringify(errors));

      assert.ok((await collectRun(path.join(runs, 'illum'))).finished);
      await assertSameFeatures(path.join(runs, 'illum'), referenceIllum);

      assert.ok((await collectRun(path.join(runs, 'int8'))).finished);
      await assertSameFeatures(path.join(runs, 'int8'), referenceInt8);
      // one calibration: the single-machine run and the worker quantized the network on the same control crops
      const quantized = readdirSync(cacheDir, { recursive: true, encoding: 'utf8' }).filter((f) => /tiny-int8-.*\.onnx$/.test(f));
      assert.equal(quantized.length, 1, quantized.join(', '));
    } finally {
      await redis.stop();
    }
  });

  test('worker --concurrency 2 on whole fields: two jobs of a screen take turns on its network, every field as a single machine', async () => {
    // small jobs of small batches, so that two jobs often have batches in flight at once (before the turns, 2-4 of 16 fields came out wrong in most rounds)
    const small = await synthesizeScreen({ out: path.join(data, 'small'), seed: 7, plates: 1, width: 160, height: 128, sites: 1, controls: 2, doses: 1 });
    const reference = path.join(runs, 'small-single');
    await runPipeline({ metadata: small.imageTable, images: small.imagesRoot, moa: small.moaTable, out: reference, shardSize: 2, batchSize: 2, model, ...tiny, progress: false, log: () => {} });
    const redis = await startRedis(await freePort());
    try {
      for (let round = 0; round < 3; round++) {
        const out = path.join(runs, `small-queued-${round}`);
        await submitScreen({ metadata: small.imageTable, images: small.imagesRoot, moa: small.moaTable, out, redis: redis.url, shardSize: 2, batchSize: 2, model, ...tiny });
        const w = await runWorker({ redis: redis.url, once: true, roots: [runs, data], pollMs: 100, concurrency: 2 });
        assert.equal(w.failed, 0);
        await assertSameFeatures(out, reference);
      }
    } finally {
      await redis.stop();
    }
  });
});
