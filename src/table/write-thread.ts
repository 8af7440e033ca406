/**
 * `writeProfiles` on a worker thread. Writing a feature shard (6,144 columns) is 0.3 s of
 * synchronous JavaScript; on the main thread it stalled the reading of the next batch, so the
 * network waited at every shard (measured over 2,000 fields: 0.85 of raw inference with commits
 * on the main thread). One thread serves every call, in order; it keeps the process alive only
 * while a write is pending.
 */
import { Worker } from 'node:worker_threads';
import { fromThreadError, MorphoprofError, type ThreadError } from '../errors.js';
import type { ProfileTable } from './types.js';

type Reply = { id: number; ok: true } | { id: number; ok: false; error: ThreadError };

let worker: Worker | null = null;
const pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
let nextId = 1;

function writer(): Worker {
  if (worker) return worker;
  const w = new Worker(new URL('./write-worker.js', import.meta.url));
  w.unref();
  const failAll = (err: Error) => {
    if (worker === w) worker = null;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  w.on('message', (reply: Reply) => {
    const p = pending.get(reply.id);
    if (!p) return;
    pending.delete(reply.id);
    if (pending.size === 0) w.unref();
    if (reply.ok) p.resolve();
    else p.reject(fromThreadError(reply.error));
  });
  w.on('error', failAll);
  w.on('exit', (code) => failAll(new MorphoprofError('INTERNAL', `the table writer thread exited (code ${code})`)));
  worker = w;
  return w;
}

/** Same as `writeProfiles(file, table)` (the table is copied to the thread). */
export function writeProfilesInThread(file: string, table: ProfileTable): Promise<void> {
  const w = writer();
  const id = nextId++;
  return new Promise<void>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    w.ref();
    w.postMessage({ id, file, table });
  });
}
