import type { Command } from 'commander';
import { MorphoprofError } from '../errors.js';
import { embedScreen } from '../embed/embed.js';
import { resolveIllumination } from '../pipeline.js';
import { loadScreen } from '../screen/index.js';
import { cellScreen } from '../cells/stage.js';
import { cellDeepScreen } from '../cells/deep.js';
import { cellDeepFrom, cellSettingsFrom, embedOptions, embedSettingsFrom, featureOptions, note, screenArgs, screenOptions } from './common.js';

export function register(program: Command): void {
  const cmd = program
    .command('embed')
    .description('embed every field of a screen with an ImageNet CNN (one row per field in <out>/features/*.parquet; a rerun resumes)');
  for (const opt of screenOptions) cmd.addOption(opt());
  cmd.requiredOption('--out <dir>', 'run directory');
  for (const opt of embedOptions) cmd.addOption(opt());
  for (const opt of featureOptions) cmd.addOption(opt());
  cmd.option('--json', 'print the result as JSON').action(async (o) => {
    const { screen, problems } = await loadScreen(screenArgs(o));
    for (const p of problems.slice(0, 5)) note(`warning: ${p.message}`);
    const s = embedSettingsFrom(o);
    const illum = await resolveIllumination(s.illum, screen, o.out, note);
    if (o.features === 'classical' && o.mode === 'cells')
      throw new MorphoprofError('BAD_ARGUMENT', '--mode cells embeds a box around every cell with a network; --features classical measures cells already', 'give one of them: --features classical, or --mode cells');
    if (o.features === 'classical') {
      const c = await cellScreen({
        screen, out: o.out, mode: 'classical', settings: { ...cellSettingsFrom(o), illum: illum ?? null }, keepCells: o.keepCells === true,
        threads: o.threads, shardSize: s.shardSize, warn: (m) => note(`warning: ${m}`),
      });
      if (o.json) console.log(JSON.stringify({ ...c, errors: c.errors.length, peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }, null, 2));
      else console.log(`measured ${c.fieldsEmbedded} fields (${c.fieldsResumed} resumed, ${c.errors.length} skipped): ${c.objects} nuclei, ${c.featureDim} features, in ${c.seconds.toFixed(1)} s\nfeatures: ${c.featuresDir}` + (c.cellsDir ? `\ncells: ${c.cellsDir}` : ''));
      return;
    }
    if (o.mode === 'cells') {
      const c = await cellDeepScreen({ ...s, ...cellDeepFrom(o), illum, screen, out: o.out, keepCells: o.keepCells === true, warn: (m) => note(`warning: ${m}`) });
      if (o.json) console.log(JSON.stringify({ ...c, errors: c.errors.length, peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }, null, 2));
      else console.log(`embedded ${c.crops} cells of ${c.fieldsEmbedded} fields (${c.fieldsResumed} resumed, ${c.errors.length} skipped) in ${c.seconds.toFixed(1)} s\nfeatures: ${c.featuresDir}` + (c.cellsDir ? `\ncells: ${c.cellsDir}` : ''));
      return;
    }
    const r = await embedScreen({ ...s, illum, screen, out: o.out, warn: (m) => note(`warning: ${m}`) });
    if (o.json) console.log(JSON.stringify({ ...r, errors: r.errors.length, peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }, null, 2));
    else console.log(`embedded ${r.fieldsEmbedded} fields (${r.fieldsResumed} resumed, ${r.errors.length} skipped) in ${r.seconds.toFixed(1)} s\nfeatures: ${r.featuresDir}`);
  });
}
