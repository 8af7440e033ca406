/**
 * Fleet hardening (issue 15), on real redis-servers and worker processes with a tiny ONNX model:
 *  - confinement and forged jobs: a worker allowed two directories refuses screens whose queue
 *    file, images folder, images or model lie outside them (through a symbolic link too), malformed
 *    or edited queue files, and jobs forged in Redis (bad data, bad JSON, foreign queue files, a
 *    forged screen); each goes to the failed set with its reason, and the same worker completes a
 *    good screen, bitwise equal to a single-machine run;
 *  - Redis with an ACL user (URL from MORPHOPROF_REDIS) and with TLS (certificates made here by
 *    openssl): a screen runs through each; a wrong password or a missing CA gives a clear message;
 *    the password appears in no output and no written file;
 *  - losing Redis mid-run (SIGKILL while a job is in hand), without persistence (restarted empty,
 *    submitted again) and with AOF: every field once, equal to a single-machine run;
 *  - SIGTERM while Redis is away: with no job in hand the worker exits at once; with one, it finishes
 *    and commits the job, then exits without waiting for Redis.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { checkFieldFiles } from '../../src/embed/embed.js';
import { planShards, type Shard } from '../../src/embed/store.js';
import { runPipeline } from '../../src/pipeline.js';
import { queueNames, sha256File } from '../../src/queue/config.js';
import { queueStatus } from '../../src/queue/status.js';
import { submitScreen } from '../../src/queue/submit.js';
import { loadScreen } from '../../src/screen/index.js';
import { fieldKey } from '../../src/screen/types.js';
import { synthesizeScreen, type SynthResult } from '../../src/synth/index.js';
import { tempDir } from '../helpers.js';
import {
  assertSameFeatures,
  CliProcess,
  freePort,
  haveOpenssl,
  haveRedis,
  makeCertificates,
  readCsv,
  runQueueCli,
  startRedis,
  status,
  tinyModel,
  type RedisServer,
} from './support.js';

const SHARD = 4;
const fastLease = { MORPHOPROF_LOCK_MS: '4000', MORPHOPROF_STALLED_MS: '1000' };
const noRedis = 'redis-server is not installed (apt-get install redis-server); skipped';
const tinySettings = { inputSize: 32, preprocess: 'caffe' as const, output: 'features' };

let root: string;
let data: string;
let runs: string;
let model: string;
let screen: SynthResult;
let plan: Shard[];
/** the single-machine run every queued run is compared with */
let reference: string;

function submitArgs(out: string, extra: string[] = []): string[] {
  return ['queue', 'submit', '--metadata', screen.imageTable, '--images', screen.imagesRoot, '--moa', screen.moaTable, '--out', out, '--job-size', String(SHARD), '--model', model, '--input-size', '32', '--preprocess', 'caffe', '--output', 'features', ...extra];
}

function submitCli(out: string, extra: string[], env: Record<string, string> = {}) {
  const r = runQueueCli(submitArgs(out, extra), env);
  assert.equal(r.status, 0, r.stderr);
  const m = r.stdout.match(/screen (\w+): (\d+) jobs .*?, (\d+) added now/);
  assert.ok(m, r.stdout);
  return { screenId: m[1]!, added: Number(m[3]), output: r.stdout + r.stderr };
}

/** In-process submit (cheaper than the CLI where the CLI is not the point). */
function submitHere(redis: string, opts: { out: string; metadata?: string; images?: string; model?: string }) {
  return submitScreen({ metadata: screen.imageTable, images: screen.imagesRoot, moa: screen.moaTable, shardSize: SHARD, model, ...tinySettings, attempts: 2, backoffMs: 100, ...opts, redis });
}

const jobRe = (id: string, shard: string, what: string) => new RegExp(`^${id}\\.${shard}: ${what}`);

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => path.join(dir, f))
    .filter((f) => statSync(f).isFile());
}

describe('fleet hardening', { skip: haveRedis() ? false : noRedis }, () => {
  before(async () => {
    root = tempDir('morphoprof-fleet-');
    data = path.join(root, 'data');
    runs = path.join(root, 'runs');
    mkdirSync(runs);
    screen = await synthesizeScreen({ out: path.join(data, 'screen'), seed: 7, plates: 1, width: 160, height: 128, sites: 1, controls: 2, doses: 1 });
    model = tinyModel(path.join(data, 'tiny.onnx'));
    reference = path.join(root, 'single');
    await runPipeline({ metadata: screen.imageTable, images: screen.imagesRoot, moa: screen.moaTable, out: reference, shardSize: SHARD, model, ...tinySettings, progress: false, log: () => {} });
    const { screen: loaded } = await loadScreen({ metadata: screen.imageTable, images: screen.imagesRoot });
    plan = planShards(checkFieldFiles(loaded).present, SHARD);
  });
  after(() => CliProcess.killAll());

  test('confinement: jobs leading outside the roots, malformed, edited or forged fail with their reason; the worker goes on', async () => {
    const redis = await startRedis(await freePort());
    const elsewhere = path.join(root, 'elsewhere');
    try {
      const good = await submitHere(redis.url, { out: path.join(runs, 'good') });
      // the run directory (and so the queue file) outside the roots
      const away = await submitHere(redis.url, { out: path.join(elsewhere, 'run') });
      // images reached through a link inside a root that points outside
      const other = await synthesizeScreen({ out: path.join(elsewhere, 'screen'), seed: 8, plates: 1, width: 160, height: 128, sites: 1, controls: 2, doses: 1 });
      const otherTable = path.join(data, 'other.csv');
      copyFileSync(other.imageTable, otherTable);
      symlinkSync(other.imagesRoot, path.join(data, 'linked-images'));
      const linked = await submitHere(redis.url, { out: path.join(runs, 'linked'), metadata: otherTable, images: path.join(data, 'linked-images') });
      // one image of the table escapes the images folder with ../
      const rows = readCsv(screen.imageTable);
      const header = Object.keys(rows[0]!);
      const target = path.join(other.imagesRoot, readCsv(other.imageTable)[0]!.Image_PathName_DAPI!, readCsv(other.imageTable)[0]!.Image_FileName_DAPI!);
      rows[0]!.Image_PathName_DAPI = path.relative(screen.imagesRoot, path.dirname(target));
      rows[0]!.Image_FileName_DAPI = path.basename(target);
      const escapeTable = path.join(data, 'escape.csv');
      writeFileSync(escapeTable, [header.join(','), ...rows.map((r) => header.map((h) => r[h]).join(','))].join('\n') + '\n');
      const escape = await submitHere(redis.url, { out: path.join(runs, 'escape'), metadata: escapeTable });
      // a run directory inside a root whose feature store is a link to elsewhere
      mkdirSync(path.join(elsewhere, 'features'));
      mkdirSync(path.join(runs, 'linked-store'));
      symlinkSync(path.join(elsewhere, 'features'), path.join(runs, 'linked-store', 'features'));
      const linkedStore = await submitHere(redis.url, { out: path.join(runs, 'linked-store') });
      // a "model" that is not ONNX, inside a root
      const notOnnx = path.join(data, 'not-a-model.onnx');
      writeFileSync(notOnnx, 'this is not a network\n');
      const badModel = await submitHere(redis.url, { out: path.join(runs, 'bad-model'), model: notOnnx });
      // queue files changed after submit: edited (still well-formed) and malformed
      const edited = await submitHere(redis.url, { out: path.join(runs, 'edited') });
      const q = JSON.parse(readFileSync(edited.queueFile, 'utf8'));
      writeFileSync(edited.queueFile, JSON.stringify({ ...q, batchSize: 2 }, null, 2) + '\n');
      const malformed = await submitHere(redis.url, { out: path.join(runs, 'malformed') });
      writeFileSync(malformed.queueFile, JSON.stringify({ morphoprof: 1, screenId: malformed.screenId, images: 'relative/path' }));

      // jobs forged in Redis: in the good screen's queue, and a whole forged screen
      const client = new Redis(redis.url, { maxRetriesPerRequest: null });
      const embedName = queueNames(good.screenId).embed;
      const embedQueue = new Queue(embedName, { connection: client });
      const sha = await sha256File(good.queueFile);
      const fields = plan[0]!.fields.map(fieldKey);
      await embedQueue.add('embed', { kind: 'embed', screenId: good.screenId, queueFile: '/etc/morphoprof/queue.json', queueSha256: sha, shard: plan[0]!.id, fields }, { jobId: 'forged-foreign-queue-file' });
      await embedQueue.add('embed', { kind: 'embed', fields: 42 }, { jobId: 'forged-malformed' });
      await embedQueue.add('embed', { kind: 'illum', screenId: good.screenId, queueFile: good.queueFile, queueSha256: sha, plate: '../../etc', channel: 'DAPI' }, { jobId: 'forged-illum' });
      // as BullMQ stores a job, but its data is not JSON
      await client.hset(`bull:${embedName}:forged-not-json`, { name: 'embed', data: '{"kind": "embed", not json', opts: '{"attempts":1}', timestamp: String(Date.now()), delay: '0', priority: '0' });
      await client.lpush(`bull:${embedName}:wait`, 'forged-not-json');
      await client.zadd(`bull:${embedName}:marker`, 0, '0');
      const forgedId = 'deadbeefdeadbeef';
      await client.sadd('morphoprof:screens', forgedId, 'not-a-screen');
      await client.hset(`morphoprof:screen:${forgedId}`, { queueFile: '/etc/morphoprof/queue.json' });
      const forgedQueue = new Queue(queueNames(forgedId).embed, { connection: client });
      await forgedQueue.add('embed', { kind: 'embed', screenId: forgedId, queueFile: '/etc/morphoprof/queue.json', queueSha256: sha, shard: 'x-0000', fields: ['a/b/s1'] }, { jobId: `${forgedId}.x-0000` });
      // a queue file inside the roots that is not there (not mounted here?): retried, then failed
      const missingId = 'feedfacefeedface';
      const missingFile = path.join(runs, 'gone', 'queue.json');
      await client.sadd('morphoprof:screens', missingId);
      await client.hset(`morphoprof:screen:${missingId}`, { queueFile: missingFile });
      const missingQueue = new Queue(queueNames(missingId).embed, { connection: client });
      await missingQueue.add('embed', { kind: 'embed', screenId: missingId, queueFile: missingFile, queueSha256: sha, shard: 'x-0000', fields: ['a/b/s1'] }, { jobId: `${missingId}.x-0000`, attempts: 2, backoff: { type: 'fixed', delay: 100 } });
      await missingQueue.close();
      await embedQueue.close();
      await forgedQueue.close();
      await client.quit();

      const worker = new CliProcess(['worker', '--redis', redis.url, '--root', data, '--root', runs, '--once'], fastLease);
      assert.equal(await worker.exit(120_000), 0, worker.lines.join('\n'));
      const log = worker.lines.join('\n');
      assert.doesNotMatch(log, /\n\s+at |Unhandled|TypeError|SyntaxError: Unexpected/, 'no stack traces: the worker handled every refusal');
      assert.match(log, /ignoring "not-a-screen"/);

      const statuses = new Map((await queueStatus({ redis: redis.url })).map((s) => [s.screenId, s]));
      const reasons = (id: string) => statuses.get(id)!.failures.map((f) => `${f.id}: ${f.reason}`).sort();
      const allFail = (id: string, pattern: RegExp, n = plan.length) => {
        const s = statuses.get(id)!;
        assert.equal(s.failed, n, JSON.stringify(s));
        assert.equal(s.done, 0);
        for (const f of s.failures) {
          assert.match(f.reason, pattern);
          assert.equal(f.attempts, 1, `${f.id}: a refusal is not retried`);
        }
      };
      allFail(away.screenId, /queue file .*elsewhere\/run\/queue\.json lies outside the directories this worker may use/);
      allFail(linked.screenId, /images folder .*linked-images lies outside/);
      allFail(linkedStore.screenId, /feature store .*linked-store\/features lies outside/);
      allFail(badModel.screenId, /not-a-model\.onnx: it is not a valid ONNX model/);
      allFail(edited.screenId, /queue\.json changed after job .* was submitted/);
      allFail(malformed.screenId, /queue\.json is malformed \(.*(metadata|images)/);
      allFail(forgedId, /\/etc\/morphoprof\/queue\.json lies outside/, 1);
      const missing = statuses.get(missingId)!;
      assert.equal(missing.failed, 1, JSON.stringify(missing));
      assert.match(missing.failures[0]!.reason, /No queued run at .*gone\/queue\.json/);
      assert.equal(missing.failures[0]!.attempts, 2, 'a missing queue file is retried (a mount may come back)');
      assert.equal(statuses.get(escape.screenId)!.failed, 1);
      assert.equal(statuses.get(escape.screenId)!.done, plan.length - 1);
      assert.match(reasons(escape.screenId)[0]!, new RegExp(`^${escape.screenId}\\.${plan[0]!.id}: image DAPI of field .* lies outside`));
      // the good screen: its own jobs done, every forged one failed with its reason
      const g = statuses.get(good.screenId)!;
      assert.equal(g.done, plan.length, JSON.stringify(g));
      const expected: Array<[string, RegExp]> = [
        ['forged-foreign-queue-file', /names the queue file \/etc\/morphoprof\/queue\.json, but screen \w+ was submitted with /],
        ['forged-malformed', /the data of job forged-malformed is malformed \(/],
        ['forged-not-json', /forged-not-json.*(JSON|malformed)/],
        ['forged-illum', /screen \w+ was submitted without --illum auto: it has no illumination jobs/],
      ];
      const failures = g.failures;
      assert.equal(failures.length, expected.length, reasons(good.screenId).join('\n'));
      for (const [id, pattern] of expected) assert.match(failures.find((f) => f.id === id)?.reason ?? `(${id} not failed)`, pattern);
      // nothing was written outside the roots, and the good screen equals the single-machine run
      assert.deepEqual(readdirSync(path.join(elsewhere, 'run')).filter((f) => f !== 'queue.json' && f !== 'features'), []);
      for (const store of [path.join(elsewhere, 'run', 'features'), path.join(elsewhere, 'features')])
        assert.ok(!existsSync(store) || readdirSync(store).every((f) => !f.endsWith('.parquet') && (f === 'store.json' || !f.endsWith('.json'))), `nothing committed in ${store} (store.json is made by submit)`);
      const c = runQueueCli(['queue', 'collect', '--out', path.join(runs, 'good')]);
      assert.equal(c.status, 0, c.stderr);
      await assertSameFeatures(path.join(runs, 'good'), reference);
    } finally {
      await redis.stop();
    }
  });

  test('Redis with an ACL user, and with TLS: a screen through each; wrong password or CA refused clearly; the password never shown', async (t) => {
    const password = `pw-${randomBytes(12).toString('hex')}`;
    const user = { name: 'fleet', password };
    const withTls = haveOpenssl();
    if (!withTls) t.diagnostic('openssl is not installed (apt-get install openssl): the TLS half is skipped');
    const certs = withTls ? makeCertificates(path.join(root, 'tls')) : null;
    const acl = await startRedis(await freePort(), undefined, { user });
    const tls = certs ? await startRedis(await freePort(), undefined, { user, tls: certs }) : null;
    const outputs: string[] = [];
    const outs: string[] = [];
    try {
      for (const [kind, redis] of [['acl', acl], ...(tls ? [['tls', tls]] : [])] as Array<['acl' | 'tls', RedisServer]>) {
        const out = path.join(runs, `secure-${kind}`);
        outs.push(out);
        // the ACL run takes its URL from the environment (no password in the process list); the TLS run from --redis
        const env: Record<string, string> = kind === 'acl' ? { MORPHOPROF_REDIS: redis.url } : {};
        const redisArgs = kind === 'acl' ? [] : ['--redis', redis.url, '--redis-ca', certs!.ca];
        const submitted = submitCli(out, redisArgs, env);
        outputs.push(submitted.output);
        assert.match(submitted.output, kind === 'acl' ? /worker --redis \$MORPHOPROF_REDIS/ : /worker --redis rediss:\/\/fleet:\*\*\*@127\.0\.0\.1/);
        const worker = new CliProcess(['worker', ...redisArgs, '--root', root, '--once'], { ...fastLease, ...env });
        assert.equal(await worker.exit(60_000), 0, worker.lines.join('\n'));
        outputs.push(worker.lines.join('\n'));
        assert.match(worker.lines[0]!, /waiting for jobs on redis(s?):\/\/fleet:\*\*\*@127\.0\.0\.1/);
        const s = status(kind === 'acl' ? null : redis.url, out, env, kind === 'acl' ? [] : ['--redis-ca', certs!.ca]);
        outputs.push(JSON.stringify(s));
        assert.equal(s.done, plan.length);
        const c = runQueueCli(['queue', 'collect', '--out', out]);
        assert.equal(c.status, 0, c.stderr);
        await assertSameFeatures(out, reference);

        // refusals: a wrong password (short command and worker), and for TLS a CA not given
        const wrong = redis.url.replace(password, 'not-the-password');
        const w1 = runQueueCli(['queue', 'status', '--redis', wrong, ...(kind === 'tls' ? ['--redis-ca', certs!.ca] : [])]);
        assert.equal(w1.status, 1, w1.stderr);
        assert.match(w1.stderr, /Redis at redis(s?):\/\/fleet:\*\*\*@127\.0\.0\.1:\d+\/? refused the user or password \(WRONGPASS\)/);
        assert.doesNotMatch(w1.stderr, /not-the-password/);
        const w2 = new CliProcess(['worker', '--redis', wrong, '--root', root, ...(kind === 'tls' ? ['--redis-ca', certs!.ca] : [])]);
        assert.equal(await w2.exit(30_000), 1, w2.lines.join('\n'));
        assert.match(w2.lines.join('\n'), /refused the user or password/);
        assert.doesNotMatch(w2.lines.join('\n'), /not-the-password/);
        outputs.push(w1.stdout, w1.stderr);
        if (kind === 'tls') {
          const noCa = runQueueCli(['queue', 'status', '--redis', redis.url]);
          assert.equal(noCa.status, 1, noCa.stderr);
          assert.match(noCa.stderr, /the TLS connection failed \(SELF_SIGNED_CERT_IN_CHAIN\)[^]*--redis-ca/);
          const plain = runQueueCli(['queue', 'status', '--redis', redis.url.replace('rediss:', 'redis:'), '--redis-ca', certs!.ca]);
          assert.equal(plain.status, 1);
          assert.match(plain.stderr, /--redis-ca given, but redis:\/\/fleet:\*\*\*@.* does not use TLS/);
          const w3 = new CliProcess(['worker', '--redis', redis.url, '--root', root]);
          assert.equal(await w3.exit(30_000), 1, w3.lines.join('\n'));
          assert.match(w3.lines.join('\n'), /TLS connection failed/);
          outputs.push(noCa.stdout, noCa.stderr, plain.stdout, plain.stderr, w3.lines.join('\n'));
        }
      }
      for (const o of outputs) assert.ok(!o.includes(password), `the password is shown:\n${o}`);
      for (const out of outs) for (const f of filesUnder(out)) assert.ok(!readFileSync(f).includes(password), `the password is in ${f}`);
    } finally {
      await acl.stop();
      await tls?.stop();
    }
  });

  test('losing Redis mid-run (SIGKILL with a job in hand), without persistence and with AOF: every field once, as a single run', async () => {
    for (const mode of ['no persistence', 'AOF'] as const) {
      const port = await freePort();
      const dir = mode === 'AOF' ? path.join(root, 'redis-aof') : undefined;
      if (dir) mkdirSync(dir);
      let redis: RedisServer = await startRedis(port, dir, { appendonly: mode === 'AOF' });
      const out = path.join(runs, `lost-${mode === 'AOF' ? 'aof' : 'none'}`);
      try {
        const { screenId } = submitCli(out, ['--redis', redis.url]);
        const worker = new CliProcess(['worker', '--redis', redis.url, '--root', root, '--once'], fastLease);
        // frozen while it holds the second job (the first is committed): Redis dies under it
        await worker.waitFor(jobRe(screenId, plan[1]!.id, 'started'), 60_000);
        worker.proc.kill('SIGSTOP');
        await redis.kill();
        redis = await startRedis(port, dir, { appendonly: mode === 'AOF' });
        const again = submitCli(out, ['--redis', redis.url]);
        assert.equal(again.added, mode === 'AOF' ? 0 : plan.length, `${mode}: jobs added by the second submit`);
        worker.proc.kill('SIGCONT');
        assert.equal(await worker.exit(60_000), 0, worker.lines.join('\n'));
        const log = worker.lines.join('\n');
        assert.match(log, new RegExp(`${screenId}\\.${plan[1]!.id}: ${SHARD} fields committed`), 'the job in hand was finished');
        if (mode === 'no persistence') assert.match(log, new RegExp(`${screenId}\\.${plan[0]!.id}: already committed`), 'the job committed before the loss is not embedded again');
        const s = status(redis.url, out);
        assert.equal(s.done, plan.length, `${mode}: ${JSON.stringify(s)}`);
        assert.equal(s.failed, 0);
        const c = runQueueCli(['queue', 'collect', '--out', out]);
        assert.equal(c.status, 0, c.stderr);
        await assertSameFeatures(out, reference);
      } finally {
        await redis.stop();
      }
    }
  });

  test('SIGTERM while Redis is away: no job in hand, the worker exits at once; a job in hand is finished and committed first', async () => {
    // no job: Redis was never there
    const idle = new CliProcess(['worker', '--redis', `redis://127.0.0.1:${await freePort()}`, '--root', root]);
    await idle.waitFor(/unreachable \(ECONNREFUSED\); retrying in/, 30_000);
    idle.proc.kill('SIGTERM');
    assert.equal(await idle.exit(10_000), 0, idle.lines.join('\n'));
    assert.match(idle.lines.join('\n'), /stopping; no job running/);

    // a job in hand: frozen while it holds the first job, Redis dies, SIGTERM, then it runs on
    const redis = await startRedis(await freePort());
    const out = path.join(runs, 'sigterm');
    const { screenId } = submitCli(out, ['--redis', redis.url]);
    const busy = new CliProcess(['worker', '--redis', redis.url, '--root', root], fastLease);
    await busy.waitFor(jobRe(screenId, plan[0]!.id, 'started'), 60_000);
    busy.proc.kill('SIGSTOP');
    await redis.kill();
    busy.proc.kill('SIGTERM');
    busy.proc.kill('SIGCONT');
    assert.equal(await busy.exit(20_000), 0, busy.lines.join('\n'));
    const log = busy.lines.join('\n');
    assert.match(log, new RegExp(`${screenId}\\.${plan[0]!.id}: ${SHARD} fields committed`));
    assert.match(log, /stopping; finishing the running job\(s\)/);
    assert.equal(busy.lines.filter((l) => / started /.test(l)).length, 1, log);
    const receipt = JSON.parse(readFileSync(path.join(out, 'features', `${plan[0]!.id}.json`), 'utf8'));
    assert.deepEqual(receipt.fields, plan[0]!.fields.map(fieldKey));
  });
});
