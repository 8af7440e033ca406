/**
 * `writeProfiles` on a worker thread. Writing a feature shard (6,144 columns) is 0.3 s of
 * synchronous JavaScript; on the main thread it stalled the reading of the next batch, so the
 * network waited at every shard (measured over 2,000 fields: 0.85 of raw inference with commits
 * on the main thread). One thread serves every call (util/thread.ts).
 */
import { ThreadClient } from '../util/thread.js';
import type { ProfileTable } from './types.js';

let writer: ThreadClient | null = null;

/** Same as `writeProfiles(file, table)` (the table is copied to the thread). */
export function writeProfilesInThread(file: string, table: ProfileTable): Promise<void> {
  if (!writer?.alive) writer = new ThreadClient(new URL('./write-worker.js', import.meta.url), 'the table writer thread');
  return writer.call<void>({ file, table });
}
