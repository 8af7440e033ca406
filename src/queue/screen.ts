import path from 'node:path';
import { classicalRecipe } from '../cells/stage.js';
import { checkFieldFiles } from '../embed/embed.js';
import { metadataErrors, type FieldError } from '../embed/field-errors.js';
import { FeatureStore, type Shard } from '../embed/store.js';
import { MorphoprofError } from '../errors.js';
import { loadScreen } from '../screen/index.js';
import { fieldKey, type Field, type Screen } from '../screen/types.js';
import { sha256File, type QueueConfig } from './config.js';

export { metadataErrors };

export interface QueuedScreen {
  config: QueueConfig;
  screen: Screen;
  /** the fields of the plan in table order (those whose files all existed at submit time) */
  present: Field[];
  /** the plan of shards, as submitted */
  plan: Shard[];
  /** metadata problems and files missing at submit time, as rows of errors.csv */
  priorErrors: FieldError[];
}

/** Open the screen of a queued run, refusing tables that changed since it was submitted. */
export async function loadQueuedScreen(config: QueueConfig): Promise<QueuedScreen> {
  const changed = (file: string) =>
    new MorphoprofError('BAD_TABLE', `${file} changed after the screen was submitted (screen ${config.screenId})`, 'Submit the screen again with a new --out, or restore the table');
  if ((await sha256File(config.metadata)) !== config.metadataSha256) throw changed(config.metadata);
  if (config.moa && (await sha256File(config.moa)) !== config.moaSha256) throw changed(config.moa);
  const { screen, problems } = await loadScreen({ metadata: config.metadata, images: config.images, moa: config.moa ?? undefined, controlCompound: config.controlCompound });
  const byKey = new Map(screen.fields.map((f) => [fieldKey(f), f]));
  const plan = (config.plan ?? []).map((s) => {
    const fields = s.fields.map((k) => byKey.get(k));
    const unknown = s.fields.find((_, i) => !fields[i]);
    if (unknown) throw new MorphoprofError('BAD_TABLE', `field ${unknown} of shard ${s.id} is no longer in ${config.metadata}`, 'Submit the screen again with a new --out');
    return { id: s.id, plate: fields[0]!.plate, fields: fields as Field[] };
  });
  const planned = new Set(plan.flatMap((s) => s.fields));
  const errors = checkFieldFiles({ ...screen, fields: screen.fields.filter((f) => !planned.has(f)) }).errors;
  return { config, screen, present: screen.fields.filter((f) => planned.has(f)), plan, priorErrors: [...metadataErrors(problems), ...errors] };
}

/** The feature store of a queued run (same settings record as `run`, so either can resume the other). */
export function openStore(config: QueueConfig): Promise<FeatureStore> {
  const recipe = config.cells ? classicalRecipe(config.cells.settings, config.shardSize) : { ...config.settings, shardSize: config.shardSize };
  return FeatureStore.open(path.join(config.out, 'features'), recipe);
}
