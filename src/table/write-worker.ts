/** The thread behind `writeProfilesInThread` (write-thread.ts). */
import { serveThread } from '../util/thread.js';
import type { ProfileTable } from './types.js';
import { writeProfiles } from './write.js';

serveThread<{ file: string; table: ProfileTable }>(async ({ file, table }) => {
  await writeProfiles(file, table);
  return {};
});
