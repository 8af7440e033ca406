/** The thread behind `writeProfilesInThread` (write-thread.ts). */
import { parentPort } from 'node:worker_threads';
import { toThreadError } from '../errors.js';
import type { ProfileTable } from './types.js';
import { writeProfiles } from './write.js';

parentPort!.on('message', async ({ id, file, table }: { id: number; file: string; table: ProfileTable }) => {
  try {
    await writeProfiles(file, table);
    parentPort!.postMessage({ id, ok: true });
  } catch (err) {
    parentPort!.postMessage({ id, ok: false, error: toThreadError(err) });
  }
});
