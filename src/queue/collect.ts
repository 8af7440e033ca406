import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { writeErrorTable, type FieldError } from '../embed/field-errors.js';
import { evaluate, type Metrics } from '../evaluate/index.js';
import { queueFileOf, readQueueConfig } from './config.js';
import { readLocations } from '../cells/locations.js';
import { loadQueuedScreen, locationsOf, openCellRowStore, openStore } from './screen.js';

export type CollectResult =
  | { finished: false; screenId: string; shardsLeft: number; shards: number; fieldsLeft: number; problems: string[] }
  | { finished: true; screenId: string; fields: number; embedded: number; skipped: number; metrics: Metrics };

/**
 * The tail of a queued run: once every shard of the plan is committed, write errors.csv (metadata
 * problems, missing files, and the broken images of every shard's receipt), evaluate the features
 * and write run.json. Decided from the feature store alone, so it needs no Redis.
 */
export async function collectRun(out: string, log: (line: string) => void = () => {}): Promise<CollectResult> {
  const t0 = performance.now();
  const config = await readQueueConfig(queueFileOf(out));
  const { screen, plan, priorErrors } = await loadQueuedScreen(config);
  const store = await openStore(config);
  const { receipts, problems } = await store.committed(plan);
  const left = plan.filter((s) => !receipts.has(s.id));
  if (left.length > 0)
    return { finished: false, screenId: config.screenId, shardsLeft: left.length, shards: plan.length, fieldsLeft: left.reduce((n, s) => n + s.fields.length, 0), problems };
  await store.cleanStaging(); // every job is done: no writer is left
  if (config.cellDeep?.keepCells) await (await openCellRowStore(config)).cleanStaging();

  const errors: FieldError[] = [...priorErrors];
  // rows of a locations table that name no field of the screen or no centre, as `run --mode cells` lists them
  const locations = locationsOf(config);
  if (locations) errors.push(...(await readLocations(locations, screen)).errors);
  for (const s of plan) errors.push(...receipts.get(s.id)!.errors);
  await writeErrorTable(path.join(config.out, 'errors.csv'), errors);
  const embedded = [...receipts.values()].reduce((n, r) => n + r.rows, 0);
  log(`collect: ${embedded} fields embedded by the queue, ${errors.length} skipped (see errors.csv)`);
  const { metrics } = await evaluate({ profiles: store.dir, out: config.out, controlCompound: config.controlCompound, warn: (m) => log(`warning: ${m}`) });
  await writeFile(
    path.join(config.out, 'run.json'),
    JSON.stringify(
      {
        morphoprof: '0.1.0',
        queue: { screenId: config.screenId, submittedAt: config.submittedAt, jobs: config.jobs },
        settings: {
          metadata: config.metadata,
          images: config.images,
          moa: config.moa,
          ...config.settings,
          ...(config.cells ? { features: 'classical', cells: config.cells.settings, keepCells: config.cells.keepCells } : {}),
          ...(config.cellDeep ? { ...config.cellDeep.recipe, keepCells: config.cellDeep.keepCells } : {}),
          batchSize: config.batchSize,
          shardSize: config.shardSize,
          controlCompound: screen.controlCompound,
        },
        counts: { fields: screen.fields.length, embedded, skipped: errors.length },
        timings: { collect: (performance.now() - t0) / 1000 },
        metrics,
      },
      null,
      2,
    ) + '\n',
  );
  return { finished: true, screenId: config.screenId, fields: screen.fields.length, embedded, skipped: errors.length, metrics };
}
