import { Option, type Command } from 'commander';
import { errorMessage, MorphoprofError } from '../errors.js';
import { collectRun } from '../queue/collect.js';
import { queueFileOf, readQueueConfig, redactUrl } from '../queue/config.js';
import { formatStatus, queueStatus, retryFailed } from '../queue/status.js';
import { submitScreen } from '../queue/submit.js';
import { runWorker } from '../queue/worker.js';
import { DEFAULT_SHARD_SIZE } from '../embed/store.js';
import { cellDeepFrom, cellSettingsFrom, embedOptions, embedSettingsFrom, featureOptions, note, positiveInt, screenArgs, screenOptions } from './common.js';

const redisOption = () =>
  new Option('--redis <url>', 'Redis of the fleet: redis://host:6379, redis://user:password@host:6379 (ACL user), rediss://... (TLS)').env('MORPHOPROF_REDIS').makeOptionMandatory();
const redisCaOption = () => new Option('--redis-ca <file>', 'PEM file of the CA that signed the certificate of a rediss:// server').env('MORPHOPROF_REDIS_CA');

/** Both Redis options on a command. */
function withRedis(cmd: Command): Command {
  return cmd.addOption(redisOption()).addOption(redisCaOption());
}

/** The --redis argument as shown in suggested commands: never the password. */
const shownRedis = (url: string) => (process.env.MORPHOPROF_REDIS === url ? '$MORPHOPROF_REDIS' : redactUrl(url));

async function screenOf(o: { out?: string; screen?: string }): Promise<string> {
  if (o.screen) return o.screen;
  if (o.out) return (await readQueueConfig(queueFileOf(o.out))).screenId;
  throw new MorphoprofError('BAD_ARGUMENT', 'Say which screen: --out <dir> (its queue.json) or --screen <id>');
}

export function register(program: Command): void {
  const queue = program.command('queue').description('run a screen on many machines: submit jobs to Redis, watch them, collect the results');

  const submit = queue
    .command('submit')
    .description('split a screen into jobs on Redis (illumination per plate and stain, then groups of fields); submitting again adds nothing');
  for (const opt of screenOptions) submit.addOption(opt());
  submit.requiredOption('--out <dir>', 'run directory on a filesystem every worker sees at the same path');
  withRedis(submit);
  for (const opt of embedOptions) {
    const o = opt();
    if (o.long !== '--shard-size') submit.addOption(o);
  }
  for (const opt of featureOptions) {
    const o = opt();
    if (o.long !== '--threads') submit.addOption(o);
  }
  submit
    .addOption(
      new Option('--job-size <n>', 'fields per job (= per committed shard; same as run --shard-size); --mode cells: default ~20 s of crops per job (3 fields at 224 px, 15 at native 96)')
        .default(DEFAULT_SHARD_SIZE)
        .argParser(positiveInt('--job-size')),
    )
    .addOption(new Option('--attempts <n>', 'tries per job before it goes to the failed set').default(3).argParser(positiveInt('--attempts')))
    .addOption(new Option('--backoff <ms>', 'delay before the first retry, doubled at each retry').default(5000).argParser(positiveInt('--backoff')))
    .action(async (o) => {
      const cells = o.mode === 'cells';
      const r = await submitScreen({
        ...embedSettingsFrom(o),
        ...screenArgs(o),
        // cells mode sizes its jobs by the crops of a field (cellJobSize) unless --job-size is given
        shardSize: cells && submit.getOptionValueSource('jobSize') === 'default' ? undefined : o.jobSize,
        out: o.out,
        redis: o.redis,
        redisCa: o.redisCa,
        attempts: o.attempts,
        backoffMs: o.backoff,
        features: o.features,
        cells: cellSettingsFrom(o),
        keepCells: o.keepCells === true,
        mode: o.mode,
        ...(cells ? { cellDeep: cellDeepFrom(o) } : {}),
        log: note,
      });
      const jobs = r.jobs.illum + r.jobs.embed;
      console.log(`screen ${r.screenId}: ${jobs} jobs (${r.jobs.illum} illumination, ${r.jobs.embed} embedding of ${r.jobSize} fields each), ${r.added} added now${r.added < jobs ? ', the rest were submitted before' : ''}`);
      if (r.failed) note(`${r.failed} job(s) of this screen are in the failed set: morphoprof queue retry --redis ${shownRedis(o.redis)} --out ${o.out}`);
      console.log(`queue file: ${r.queueFile}`);
      console.log(`start workers: morphoprof worker --redis ${shownRedis(o.redis)} --root <dir holding the images, tables and --out>`);
    });

  withRedis(queue.command('status').description('done, running, waiting, delayed and failed jobs (with reasons), rate and ETA'))
    .option('--out <dir>', 'the run directory of one screen')
    .option('--screen <id>', 'one screen id (default: every screen on this Redis)')
    .option('--json', 'print JSON')
    .action(async (o: { redis: string; redisCa?: string; out?: string; screen?: string; json?: boolean }) => {
      const s = await queueStatus({ redis: o.redis, redisCa: o.redisCa, out: o.out, screenId: o.screen });
      console.log(o.json ? JSON.stringify(s, null, 2) : formatStatus(s));
    });

  withRedis(queue.command('retry').description("put a screen's failed jobs back in the queue (after fixing what made them fail)"))
    .option('--out <dir>', 'the run directory of the screen')
    .option('--screen <id>', 'the screen id')
    .action(async (o: { redis: string; redisCa?: string; out?: string; screen?: string }) => {
      const n = await retryFailed({ redis: o.redis, redisCa: o.redisCa, screenId: await screenOf(o) });
      console.log(`${n} failed job(s) put back in the queue`);
    });

  queue
    .command('collect')
    .description('once every job is done: errors.csv, treatment profiles, MOA evaluation and run.json from the committed features')
    .requiredOption('--out <dir>', 'the run directory given to queue submit')
    .action(async (o: { out: string }) => {
      const r = await collectRun(o.out, note);
      if (!r.finished) {
        for (const p of r.problems) note(`warning: ${p}`);
        note(`screen ${r.screenId} is not finished: ${r.shardsLeft} of ${r.shards} jobs (${r.fieldsLeft} fields) have no committed features yet; see morphoprof queue status`);
        process.exitCode = 3;
        return;
      }
      console.log(`NSC accuracy: ${r.metrics.nsc.accuracy.toFixed(3)} (${r.metrics.nsc.correct}/${r.metrics.nsc.total} treatments)`);
      console.log(`${r.embedded} of ${r.fields} fields embedded, ${r.skipped} skipped (errors.csv); outputs in ${o.out}`);
    });

  withRedis(
    program
      .command('worker')
      .description('take jobs of every screen submitted to a Redis, embed their fields into the shared run directory; run one per machine'),
  )
    .addOption(
      new Option('--root <dir>', 'a directory this worker may read and write under (repeatable; default: the current directory); jobs leading elsewhere fail')
        .argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]),
    )
    .addOption(new Option('--concurrency <n>', 'jobs run at once by this process').default(1).argParser(positiveInt('--concurrency')))
    .option('--once', 'exit when no screen has work left instead of waiting for more')
    .addOption(new Option('--lock-duration <ms>', 'lease of a running job; a dead worker\'s job is taken over after it expires (env MORPHOPROF_LOCK_MS)').argParser(positiveInt('--lock-duration')))
    .addOption(new Option('--stalled-interval <ms>', 'how often expired leases are looked for (env MORPHOPROF_STALLED_MS)').argParser(positiveInt('--stalled-interval')))
    .action(async (o: { redis: string; redisCa?: string; root?: string[]; concurrency: number; once?: boolean; lockDuration?: number; stalledInterval?: number }) => {
      const stop = new AbortController();
      const onSignal = (sig: string) => {
        if (stop.signal.aborted) {
          note(`${sig} again: leaving now; the running job returns to the queue when its lease expires`);
          process.exit(130);
        }
        note(`${sig}: no new jobs; finishing the running one, if any (send ${sig} again to leave at once)`);
        stop.abort();
      };
      process.on('SIGTERM', () => onSignal('SIGTERM'));
      process.on('SIGINT', () => onSignal('SIGINT'));
      try {
        const r = await runWorker({
          redis: o.redis,
          redisCa: o.redisCa,
          roots: o.root,
          concurrency: o.concurrency,
          once: o.once,
          lockDurationMs: o.lockDuration,
          stalledIntervalMs: o.stalledInterval,
          signal: stop.signal,
          say: note,
        });
        note(`worker: ${r.jobs} job(s) done, ${r.failed} failed attempt(s)`);
      } catch (err) {
        note(`morphoprof: ${errorMessage(err)}`);
        process.exit(1);
      }
      // connections BullMQ left retrying an unreachable Redis must not hold the process
      process.exit(0);
    });
}
