/**
 * The job queue end to end, on a real redis-server and separate worker processes:
 *  - 3 workers on a synthetic screen, one SIGKILLed mid-job (it is stuck reading an image that is a
 *    FIFO, so the kill is certainly mid-job): its job is taken over after the lease expires, and every
 *    field's features exist exactly once, bitwise equal to a single-machine `runPipeline`;
 *  - faults: a worker started while Redis is down retries and says so, then proceeds once Redis is
 *    back (with the jobs it had saved); broken images end in errors.csv without failing their job; a
 *    job whose files vanished fails N times and stays in the failed set with its reason until retried;
 *    two screens on one Redis stay apart.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, rmSync, truncateSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { checkFieldFiles } from '../../src/embed/embed.js';
import { planShards } from '../../src/embed/store.js';
import { runPipeline } from '../../src/pipeline.js';
import { loadScreen } from '../../src/screen/index.js';
import { synthesizeScreen, type SynthResult } from '../../src/synth/index.js';
import { readProfiles } from '../../src/table/index.js';
import { tempDir } from '../helpers.js';
import { byField, CliProcess, freePort, haveRedis, readCsv, runQueueCli, startRedis, status, tinyModel, type RedisServer } from './support.js';

const SHARD = 4;
/** short leases so a killed worker's job is taken over within seconds */
const fastLease = { MORPHOPROF_LOCK_MS: '4000', MORPHOPROF_STALLED_MS: '1000' };
const noRedis = 'redis-server is not installed (apt-get install redis-server); skipped';

function screenArgs(s: SynthResult, out: string, redis: string, extra: string[] = []): string[] {
  return ['queue', 'submit', '--metadata', s.imageTable, '--images', s.imagesRoot, '--moa', s.moaTable, '--out', out, '--redis', redis, '--job-size', String(SHARD), ...extra];
}

function submit(args: string[]): { screenId: string; added: number } {
  const r = runQueueCli(args);
  assert.equal(r.status, 0, r.stderr);
  const m = r.stdout.match(/screen (\w+): (\d+) jobs .*?, (\d+) added now/);
  assert.ok(m, r.stdout);
  return { screenId: m[1]!, added: Number(m[3]) };
}

/** The image file of one field and stain (rows of the synthetic image table). */
function imageOf(s: SynthResult, well: string, plate: string, ch: 'DAPI' | 'Tubulin' | 'Actin'): string {
  const row = readCsv(s.imageTable).find((r) => r.Image_Metadata_Well_DAPI === well && r.Image_Metadata_Plate_DAPI === plate)!;
  return path.join(s.imagesRoot, row[`Image_PathName_${ch}`]!, row[`Image_FileName_${ch}`]!);
}

/** Turn an image into a FIFO: a worker reading it blocks until `release()` puts the image back. */
function trapImage(file: string): { release(): void } {
  renameSync(file, `${file}.real`);
  execFileSync('mkfifo', [file]);
  return { release: () => renameSync(`${file}.real`, file) };
}

describe('queue: workers on a real Redis', { skip: haveRedis() ? false : noRedis }, () => {
  let root: string;
  let redis: RedisServer | null = null;
  before(() => {
    root = tempDir('morphoprof-queue-');
  });
  after(async () => {
    CliProcess.killAll();
    await redis?.stop();
  });

  test('3 workers, one SIGKILLed mid-job: every field once, bitwise equal to a single-machine run', async () => {
    const screen = await synthesizeScreen({ out: path.join(root, 'a'), seed: 3, plates: 2, width: 160, height: 128, sites: 1, controls: 2, doses: 1 });
    // the reference: one machine, same settings and shard size (also warms the model cache)
    const single = path.join(root, 'single');
    await runPipeline({ metadata: screen.imageTable, images: screen.imagesRoot, moa: screen.moaTable, out: single, shardSize: SHARD, progress: false, log: () => {} });

    // an image of the first job (not the screen's first field, which gives the image size) becomes a
    // FIFO: whoever takes that job blocks reading it until it is killed
    const { screen: loaded } = await loadScreen({ metadata: screen.imageTable, images: screen.imagesRoot });
    const plan = planShards(checkFieldFiles(loaded).present, SHARD);
    const trap = plan[0]!;
    const fifo = trapImage(trap.fields.at(-1)!.images.Actin!);

    redis = await startRedis(await freePort());
    const out = path.join(root, 'queued');
    const args = screenArgs(screen, out, redis.url);
    const first = submit(args);
    assert.equal(first.added, plan.length);
    assert.equal(submit(args).added, 0, 'submitting the same screen again adds nothing');

    const workers = [0, 1, 2].map(() => new CliProcess(['worker', '--redis', redis!.url, '--root', root, '--once'], fastLease));
    const trapJob = `${first.screenId}.${trap.id}`;
    const started = new RegExp(`^${trapJob.replace(/\./g, '\\.')}: started .* on \\S+:(\\d+)$`);
    const victimPid = Number((await Promise.any(workers.map((w) => w.waitFor(started, 300_000))))[1]);
    const victim = workers.find((w) => w.proc.pid === victimPid)!;
    victim.proc.kill('SIGKILL');
    await victim.exited;
    fifo.release(); // the image is readable again for whoever takes the job over

    const survivors = workers.filter((w) => w !== victim);
    for (const w of survivors) assert.equal(await w.exit(300_000), 0, w.lines.join('\n'));
    const log = survivors.flatMap((w) => w.lines);
    assert.ok(log.some((l) => started.test(l)), `another worker took over ${trapJob}:\n${log.join('\n')}`);
    assert.ok(log.some((l) => l.startsWith(`${trapJob}: 4 fields committed`)), log.join('\n'));

    const s = status(redis.url, out);
    assert.equal(s.done, plan.length);
    assert.equal(s.failed + s.waiting + s.running + s.delayed, 0);

    const c = runQueueCli(['queue', 'collect', '--out', out]);
    assert.equal(c.status, 0, c.stderr);
    const queued = byField(await readProfiles(path.join(out, 'features')));
    const reference = byField(await readProfiles(path.join(single, 'features')));
    assert.equal(queued.size, screen.fields, 'every field has features');
    assert.deepEqual([...queued.keys()].sort(), [...reference.keys()].sort());
    for (const [k, v] of reference) assert.ok(Buffer.from(queued.get(k)!.buffer).equals(Buffer.from(v.buffer)), `features of ${k} differ from the single-machine run`);
    assert.deepEqual(JSON.parse(readFileSync(path.join(out, 'metrics.json'), 'utf8')).nsc, JSON.parse(readFileSync(path.join(single, 'metrics.json'), 'utf8')).nsc);
    assert.equal(readCsv(path.join(out, 'errors.csv')).length, 0);
    assert.equal(JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')).counts.embedded, screen.fields);
  });

  test('Redis down at start, broken images, a job failing N times, two screens apart', async () => {
    const model = tinyModel(path.join(root, 'tiny.onnx'));
    const tiny = ['--model', model, '--input-size', '32', '--preprocess', 'caffe', '--output', 'features', '--attempts', '2', '--backoff', '100'];
    const b = await synthesizeScreen({ out: path.join(root, 'b'), seed: 5, plates: 1, width: 160, height: 128, sites: 1, controls: 2, doses: 1 });
    const c = await synthesizeScreen({ out: path.join(root, 'c'), seed: 6, plates: 1, width: 160, height: 128, sites: 1, controls: 2, doses: 1 });
    const rows = readCsv(b.imageTable);
    const plate = rows[0]!.Image_Metadata_Plate_DAPI!;
    const broken = imageOf(b, rows[1]!.Image_Metadata_Well_DAPI!, plate, 'Tubulin');
    truncateSync(broken, 500); // corrupt: its field is skipped, its job completes
    const gone = imageOf(b, rows[rows.length - 1]!.Image_Metadata_Well_DAPI!, plate, 'Actin');

    // a Redis that saves its data, so it can be stopped and started again with the jobs in it
    const dir = path.join(root, 'redis');
    mkdirSync(dir);
    const port = await freePort();
    let r2 = await startRedis(port, dir);
    const outB = path.join(root, 'queued-b');
    const outC = path.join(root, 'queued-c');
    const idB = submit(screenArgs(b, outB, r2.url, tiny)).screenId;
    const idC = submit(screenArgs(c, outC, r2.url, tiny)).screenId;
    assert.notEqual(idB, idC);
    await r2.stop();
    renameSync(gone, `${gone}.away`); // vanished after submit: its job fails on every attempt

    const worker = new CliProcess(['worker', '--redis', r2.url, '--root', root, '--once'], fastLease);
    await worker.waitFor(/Redis at .* unreachable \(ECONNREFUSED\); retrying in/, 30_000);
    r2 = await startRedis(port, dir);
    try {
      assert.equal(await worker.exit(90_000), 0, worker.lines.join('\n'));
      assert.ok(worker.lines.some((l) => /reachable again/.test(l)), worker.lines.join('\n'));

      const sB = status(r2.url, outB);
      assert.equal(sB.failed, 1, JSON.stringify(sB));
      assert.equal(sB.done, sB.total - 1);
      assert.equal(sB.failures[0]!.attempts, 2);
      assert.match(sB.failures[0]!.reason, /image files missing/);
      const notYet = runQueueCli(['queue', 'collect', '--out', outB]);
      assert.equal(notYet.status, 3, notYet.stderr);
      assert.match(notYet.stderr, /1 of \d+ jobs \(\d+ fields\) have no committed features yet/);

      // fixed: the file is back; retry the failed job
      renameSync(`${gone}.away`, gone);
      const retry = runQueueCli(['queue', 'retry', '--redis', r2.url, '--out', outB]);
      assert.equal(retry.status, 0, retry.stderr);
      const again = new CliProcess(['worker', '--redis', r2.url, '--root', root, '--once'], fastLease);
      assert.equal(await again.exit(60_000), 0, again.lines.join('\n'));
      for (const [out, s] of [[outB, b], [outC, c]] as const) {
        assert.equal(status(r2.url, out).done, status(r2.url, out).total);
        const done = runQueueCli(['queue', 'collect', '--out', out]);
        assert.equal(done.status, 0, done.stderr);
        // each screen's store holds its own fields only
        const keys = [...byField(await readProfiles(path.join(out, 'features'))).keys()].sort();
        const own = readCsv(s.imageTable).map((r) => `${r.Image_Metadata_Plate_DAPI}/${r.Image_Metadata_Well_DAPI}/1`);
        assert.deepEqual(keys, own.filter((k) => out === outC || !k.endsWith(`/${rows[1]!.Image_Metadata_Well_DAPI}/1`)).sort());
      }
      const errors = readCsv(path.join(outB, 'errors.csv'));
      assert.equal(errors.length, 1, JSON.stringify(errors));
      assert.equal(errors[0]!.File, broken);
      assert.equal(errors[0]!.Stage, 'read');
      assert.equal(readCsv(path.join(outC, 'errors.csv')).length, 0);

      // SIGTERM mid-job: the worker takes no new job and finishes the running one
      const outD = path.join(root, 'queued-d');
      const idD = submit(screenArgs(c, outD, r2.url, tiny)).screenId;
      const { screen: loaded } = await loadScreen({ metadata: c.imageTable, images: c.imagesRoot });
      const first = planShards(checkFieldFiles(loaded).present, SHARD)[0]!;
      const fifo = trapImage(first.fields.at(-1)!.images.Actin!);
      const polite = new CliProcess(['worker', '--redis', r2.url, '--root', root]);
      await polite.waitFor(new RegExp(`^${idD}\\.${first.id}: started`), 60_000);
      polite.proc.kill('SIGTERM');
      await polite.waitFor(/SIGTERM: no new jobs; finishing the running one/, 30_000);
      fifo.release();
      assert.equal(await polite.exit(60_000), 0, polite.lines.join('\n'));
      assert.equal(polite.lines.filter((l) => / started /.test(l)).length, 1, polite.lines.join('\n'));
      assert.ok(polite.lines.some((l) => l.startsWith(`${idD}.${first.id}: 4 fields committed`)), polite.lines.join('\n'));
      const sD = status(r2.url, outD);
      assert.equal(sD.done, 1);
      assert.equal(sD.waiting, sD.total - 1);
    } finally {
      await r2.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
