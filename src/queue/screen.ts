import path from 'node:path';
import { storeSettings } from '../cells/deep.js';
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

/** The nucleus locations table of a `--mode cells` screen, if it has one. */
export function locationsOf(config: QueueConfig): string | null {
  const nuclei = config.cellDeep?.recipe.nuclei;
  return nuclei && 'locations' in nuclei ? nuclei.locations : null;
}

/** Open the screen of a queued run, refusing tables that changed since it was submitted. */
export async function loadQueuedScreen(config: QueueConfig): Promise<QueuedScreen> {
  const changed = (file: string) =>
    new MorphoprofError('BAD_TABLE', `${file} changed after the screen was submitted (screen ${config.screenId})`, 'Submit the screen again with a new --out, or restore the table');
  if ((await sha256File(config.metadata)) !== config.metadataSha256) throw changed(config.metadata);
  if (config.moa && (await sha256File(config.moa)) !== config.moaSha256) throw changed(config.moa);
  const locations = locationsOf(config);
  if (locations && (await sha256File(locations)) !== (config.cellDeep!.recipe.nuclei as { sha256: string }).sha256) throw changed(locations);
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

/** The settings record of a queued run's feature store (the same as `run` writes, so either can resume the other). */
export function storeRecipe(config: QueueConfig): Record<string, unknown> {
  if (config.cells) return classicalRecipe(config.cells.settings, config.shardSize);
  if (config.cellDeep) return storeSettings(config.settings, config.cellDeep.recipe, config.shardSize);
  return { ...config.settings, shardSize: config.shardSize };
}

/** The feature store of a queued run. */
export function openStore(config: QueueConfig): Promise<FeatureStore> {
  return FeatureStore.open(path.join(config.out, 'features'), storeRecipe(config));
}

/** `--mode cells --keep-cells`: the store of one row per cell, as `run --mode cells --keep-cells` writes it. */
export function openCellRowStore(config: QueueConfig): Promise<FeatureStore> {
  return FeatureStore.open(path.join(config.out, 'cells'), { objects: true, ...storeRecipe(config) });
}
