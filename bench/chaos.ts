/**
 * Chaos soak of the fleet on loopback: several `morphoprof worker` processes on many small jobs
 * (screens submitted one after another while the soak lasts), workers SIGKILLed at random moments
 * and restarted, and one Redis SIGKILL and restart half-way (with AOF, or without persistence and
 * every screen submitted again). At the end every field of every screen exists exactly once and is
 * bitwise equal to a single-machine run. Reports jobs/min, the time until a killed worker's job is
 * started by another, and the redundant work.
 *   node dist/bench/chaos.js [--minutes 3] [--workers 3] [--job-size 4] [--persistence aof|none] [--seed 1]
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { runPipeline } from '../src/pipeline.js';
import { queueStatus } from '../src/queue/status.js';
import { submitScreen } from '../src/queue/submit.js';
import { synthesizeScreen } from '../src/synth/index.js';
import { tempDir } from '../test/helpers.js';
import { assertSameFeatures, CliProcess, freePort, haveRedis, startRedis, tinyModel, type RedisServer } from '../test/queue/support.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '3' },
    workers: { type: 'string', default: '3' },
    'job-size': { type: 'string', default: '4' },
    persistence: { type: 'string', default: 'aof' },
    seed: { type: 'string', default: '1' },
  },
});
if (!haveRedis()) {
  console.log('chaos: redis-server is not installed; skipped');
  process.exit(0);
}
const minutes = Number(values.minutes);
const nWorkers = Number(values.workers);
const jobSize = Number(values['job-size']);
const aof = values.persistence !== 'none';
let seed = Number(values.seed);
/** a small deterministic generator, so a run can be repeated */
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const between = (lo: number, hi: number) => lo + (hi - lo) * random();
const lease = { MORPHOPROF_LOCK_MS: '5000', MORPHOPROF_STALLED_MS: '2000' };

const root = tempDir('morphoprof-bench-chaos-');
const screen = await synthesizeScreen({ out: path.join(root, 'screen'), seed: 11, plates: 2, width: 320, height: 256, sites: 2, controls: 2, doses: 1 });
// a network that costs real CPU (two 3x3 convolutions of 24 filters at 96x96), so jobs last a moment
const model = tinyModel(path.join(root, 'chaos.onnx'), { size: 96, width: 24, layers: 2 });
const settings = { model, inputSize: 96, preprocess: 'caffe' as const, output: 'features' };
const reference = path.join(root, 'single');
const t0 = performance.now();
await runPipeline({ metadata: screen.imageTable, images: screen.imagesRoot, moa: screen.moaTable, out: reference, shardSize: jobSize, ...settings, progress: false, log: () => {} });
const singleSeconds = (performance.now() - t0) / 1000;
console.log(
  `chaos: ${nWorkers} workers for ${minutes} min on ${cpus().length} CPUs (load ${loadavg()[0]!.toFixed(1)}); screens of ${screen.fields} fields in jobs of ${jobSize}; ` +
    `lease ${lease.MORPHOPROF_LOCK_MS} ms, stalled check ${lease.MORPHOPROF_STALLED_MS} ms; Redis ${aof ? 'with AOF' : 'without persistence'}; single-machine run of one screen ${singleSeconds.toFixed(1)} s`,
);

const port = await freePort();
const redisDir = path.join(root, 'redis');
mkdirSync(redisDir);
let redis: RedisServer = await startRedis(port, aof ? redisDir : undefined, { appendonly: aof });
const url = redis.url;
const outs: string[] = [];
const submitRound = (out: string) => submitScreen({ metadata: screen.imageTable, images: screen.imagesRoot, moa: screen.moaTable, out, redis: url, shardSize: jobSize, ...settings, attempts: 5, backoffMs: 500 });

interface Kill {
  at: number;
  /** the job the worker had started and not finished, if any */
  job: string | null;
}
const kills: Kill[] = [];
const retired: CliProcess[] = [];
const startWorker = () => new CliProcess(['worker', '--redis', url, '--root', root], lease);
const workers = Array.from({ length: nWorkers }, startWorker);

/** The job a worker holds: its last `started` line not followed by an end of that job. */
function jobInHand(w: CliProcess): string | null {
  for (let i = w.lines.length - 1; i >= 0; i--) {
    const m = w.lines[i]!.match(/^(\S+): (started|.*committed|already committed|failed)/);
    if (m) return m[2] === 'started' ? m[1]! : null;
  }
  return null;
}

const start = Date.now();
const end = start + minutes * 60_000;
let redisRestart = null as { at: number; downSeconds: number } | null;
let stopFeeding = false;

async function feeder(): Promise<void> {
  while (!stopFeeding) {
    try {
      const s = await queueStatus({ redis: url });
      const waiting = s.reduce((n, x) => n + x.waiting + x.delayed, 0);
      if (waiting < nWorkers * 3) {
        const out = path.join(root, 'runs', `round-${String(outs.length).padStart(3, '0')}`);
        outs.push(out);
        await submitRound(out);
      }
    } catch {
      // Redis is being restarted
    }
    await sleep(1000);
  }
}

async function chaos(): Promise<void> {
  while (Date.now() < end) {
    await sleep(between(3000, 9000));
    if (Date.now() >= end) break;
    if (!redisRestart && Date.now() > start + (end - start) / 2) {
      const at = Date.now();
      await redis.kill();
      await sleep(between(1000, 3000));
      redis = await startRedis(port, aof ? redisDir : undefined, { appendonly: aof });
      if (!aof) for (const out of outs) await submitRound(out);
      redisRestart = { at, downSeconds: (Date.now() - at) / 1000 };
      continue;
    }
    const i = Math.floor(random() * workers.length);
    const victim = workers[i]!;
    kills.push({ at: Date.now(), job: jobInHand(victim) });
    victim.proc.kill('SIGKILL');
    await victim.exited;
    retired.push(victim);
    await sleep(between(500, 3000));
    workers[i] = startWorker();
  }
}

const feeding = feeder();
await chaos();
stopFeeding = true;
await feeding;
// drain: every submitted job done
let jobs = 0;
for (;;) {
  const s = await queueStatus({ redis: url });
  jobs = s.reduce((n, x) => n + x.total, 0);
  if (s.every((x) => x.done === x.total)) break;
  if (s.some((x) => x.failed > 0)) throw new Error(`failed jobs: ${JSON.stringify(s.flatMap((x) => x.failures))}`);
  await sleep(1000);
}
const drained = Date.now();
// (a worker restarted a moment ago may not have its signal handlers yet)
for (const w of workers) await w.waitFor(/waiting for jobs/, 60_000);
for (const w of workers) w.proc.kill('SIGTERM');
for (const w of workers) assert.equal(await w.exit(60_000), 0, w.lines.join('\n'));
await redis.stop();

// every field of every screen once, equal to the single-machine run
for (const out of outs) await assertSameFeatures(out, reference);

const all = [...retired, ...workers];
const events = all.flatMap((w) => w.lines.map((line, k) => ({ line, at: w.times[k]!, w })));
const count = (re: RegExp) => events.filter((e) => re.test(e.line)).length;
const starts = count(/: started \(attempt/);
const embeddings = count(/: \d+ fields committed/);
const noops = count(/: already committed/);
const takeovers = kills
  .filter((k) => k.job)
  .map((k) => {
    const next = events.filter((e) => e.at > k.at && e.line.startsWith(`${k.job}: started`)).sort((a, b) => a.at - b.at)[0];
    return next ? (next.at - k.at) / 1000 : null;
  })
  .filter((t): t is number => t !== null)
  .sort((a, b) => a - b);
const median = (v: number[]) => (v.length ? v[Math.floor(v.length / 2)]! : NaN);
const elapsedMin = (drained - start) / 60_000;
console.log(`rounds: ${outs.length} screens, ${jobs} jobs, ${outs.length * screen.fields} fields; every field once and bitwise equal to the single-machine run`);
console.log(`throughput: ${(jobs / elapsedMin).toFixed(1)} jobs/min (${((jobs * jobSize) / elapsedMin).toFixed(0)} fields/min) over ${elapsedMin.toFixed(1)} min from first submit to drained`);
console.log(`chaos: ${kills.length} workers SIGKILLed (${kills.filter((k) => k.job).length} with a job in hand); Redis SIGKILLed and restarted once${redisRestart ? ` (down ${redisRestart.downSeconds.toFixed(1)} s${aof ? ', AOF replayed' : ', restarted empty, every screen submitted again'})` : ' (not reached)'}`);
console.log(
  `takeover of a killed worker's job: median ${median(takeovers).toFixed(1)} s, max ${(takeovers.at(-1) ?? NaN).toFixed(1)} s over ${takeovers.length} (lease ${Number(lease.MORPHOPROF_LOCK_MS) / 1000} s + stalled check every ${Number(lease.MORPHOPROF_STALLED_MS) / 1000} s)`,
);
// every job is embedded and committed at least once (a rerun of a committed job is a no-op); the
// rest is redundant: whole embeddings done twice, and the partial work of jobs whose worker was killed
console.log(
  `redundant work: ${starts} job starts for ${jobs} jobs; ${embeddings - jobs} jobs embedded twice in full, ${kills.filter((k) => k.job).length} lost mid-job to a kill, ${noops} no-op reruns of committed jobs`,
);
