import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { connectRedis, ensureReachable, queueFileOf, queueNames, quietQueue, readQueueConfig, SCREENS_KEY, screenKey } from './config.js';
import { jobCounts } from './submit.js';

export interface ScreenStatus {
  screenId: string;
  out: string | null;
  submittedAt: string | null;
  done: number;
  running: number;
  waiting: number;
  delayed: number;
  failed: number;
  total: number;
  /** embedding jobs held back until every illumination job has completed */
  waitingForIllumination: boolean;
  failures: Array<{ id: string; attempts: number; reason: string }>;
  /** completed jobs per minute over the last (up to 100) completions, or null */
  jobsPerMinute: number | null;
  etaSeconds: number | null;
}

/**
 * A few fields of the newest jobs in a state, read from their hashes without parsing the job (whose
 * data may be anything, if it was forged in Redis).
 */
async function jobFields(client: Redis, queue: Queue, state: 'failed' | 'completed', n: number): Promise<Array<{ id: string } & Record<string, string | undefined>>> {
  const ids = await queue.getRanges([state], 0, n - 1);
  return Promise.all(
    ids.map(async (id) => {
      // BullMQ keeps the attempts made as `atm` (older versions: `attemptsMade`)
      const [failedReason, atm, attemptsMade, finishedOn] = await client.hmget(queue.toKey(id), 'failedReason', 'atm', 'attemptsMade', 'finishedOn');
      return { id, failedReason: failedReason ?? undefined, attemptsMade: atm ?? attemptsMade ?? undefined, finishedOn: finishedOn ?? undefined };
    }),
  );
}

/** Progress of the queued screens on a Redis (one screen, or all of them). */
export async function queueStatus(opts: { redis: string; redisCa?: string; out?: string; screenId?: string }): Promise<ScreenStatus[]> {
  const client = connectRedis(opts.redis, { ca: opts.redisCa });
  await ensureReachable(client, opts.redis);
  try {
    const ids = opts.screenId
      ? [opts.screenId]
      : opts.out
        ? [(await readQueueConfig(queueFileOf(opts.out))).screenId]
        : (await client.smembers(SCREENS_KEY)).sort();
    const statuses: ScreenStatus[] = [];
    for (const id of ids) {
      const names = queueNames(id);
      const illum = quietQueue(names.illum, client);
      const embed = quietQueue(names.embed, client);
      try {
        const c = await jobCounts([illum, embed]);
        const info = await client.hgetall(screenKey(id));
        const failedJobs = [...(await jobFields(client, illum, 'failed', 20)), ...(await jobFields(client, embed, 'failed', 20))];
        // newest first: finishedOn of the last completions gives the current rate
        const recent = [...(await jobFields(client, illum, 'completed', 100)), ...(await jobFields(client, embed, 'completed', 100))]
          .map((j) => Number(j.finishedOn) || 0)
          .filter((t) => t > 0)
          .sort((a, b) => b - a)
          .slice(0, 100);
        const span = recent.length >= 2 ? (recent[0]! - recent[recent.length - 1]!) / 60_000 : 0;
        const rate = span > 0 ? (recent.length - 1) / span : null;
        const s: ScreenStatus = {
          screenId: id,
          out: info.out ?? null,
          submittedAt: info.submittedAt ?? null,
          done: c.completed ?? 0,
          running: c.active ?? 0,
          waiting: (c.waiting ?? 0) + (c.prioritized ?? 0) + (c['waiting-children'] ?? 0),
          delayed: c.delayed ?? 0,
          failed: c.failed ?? 0,
          total: Object.values(c).reduce((a, b) => a + b, 0),
          waitingForIllumination: (await embed.isPaused()) && (await embed.count()) > 0,
          failures: failedJobs.map((j) => ({ id: j.id, attempts: Number(j.attemptsMade) || 0, reason: j.failedReason ?? '' })),
          jobsPerMinute: rate,
          etaSeconds: null,
        };
        const left = s.running + s.waiting + s.delayed;
        s.etaSeconds = rate && left > 0 ? (left / rate) * 60 : left === 0 ? 0 : null;
        statuses.push(s);
      } finally {
        await illum.close();
        await embed.close();
      }
    }
    return statuses;
  } finally {
    await client.quit();
  }
}

function duration(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

export function formatStatus(statuses: readonly ScreenStatus[]): string {
  if (statuses.length === 0) return 'no screens submitted to this Redis';
  return statuses
    .map((s) => {
      const lines = [
        `screen ${s.screenId}${s.out ? ` (${s.out})` : ''}: ${s.done} of ${s.total} jobs done, ${s.running} running, ${s.waiting} waiting, ${s.delayed} delayed (retry backoff), ${s.failed} failed`,
      ];
      if (s.waitingForIllumination) lines.push('  embedding jobs wait until every illumination job has completed');
      if (s.jobsPerMinute !== null) lines.push(`  rate ${s.jobsPerMinute.toFixed(1)} jobs/min` + (s.etaSeconds !== null ? `, ETA ${duration(s.etaSeconds)}` : ''));
      for (const f of s.failures) lines.push(`  failed ${f.id} after ${f.attempts} attempt(s): ${f.reason}`);
      if (s.failed > 0) lines.push('  fix the cause, then `morphoprof queue retry` puts failed jobs back');
      if (s.total > 0 && s.done === s.total && s.out) lines.push(`  all done: morphoprof queue collect --out ${s.out}`);
      return lines.join('\n');
    })
    .join('\n');
}

/** Put a screen's failed jobs back in the queue (after fixing what made them fail). */
export async function retryFailed(opts: { redis: string; redisCa?: string; screenId: string }): Promise<number> {
  const client = connectRedis(opts.redis, { ca: opts.redisCa });
  await ensureReachable(client, opts.redis);
  const names = queueNames(opts.screenId);
  const queues = [quietQueue(names.illum, client), quietQueue(names.embed, client)];
  try {
    let n = 0;
    for (const q of queues) {
      n += (await q.getJobCounts('failed')).failed ?? 0;
      await q.retryJobs({ state: 'failed' });
    }
    return n;
  } finally {
    for (const q of queues) await q.close();
    await client.quit();
  }
}
