import { Option, type Command } from 'commander';
import { invalidParameter } from '../errors.js';
import { synthesizeScreen, SYNTH_PRESETS, type SynthPreset } from '../synth/index.js';
import { note, positiveInt } from './common.js';

function nonNegativeInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw invalidParameter(name, 'a non-negative integer', value);
    return n;
  };
}

export function register(program: Command): void {
  program
    .command('synth')
    .description('write a synthetic screen in BBBC021\'s layout (image table, MOA table, 16-bit TIFFs), deterministic from a seed')
    .requiredOption('--out <dir>', 'output folder')
    .addOption(new Option('--preset <name>', 'demo: 3 plates of 640x512 fields, 2 sites; bench: real-size 1280x1024 fields').choices(Object.keys(SYNTH_PRESETS)).default('demo'))
    .option('--seed <n>', 'random seed (same seed and options, same bytes)', nonNegativeInt('--seed'))
    .option('--plates <n>', 'plates (one per batch/week, each a replicate of every treatment)', positiveInt('--plates'))
    .option('--width <px>', 'field width', positiveInt('--width'))
    .option('--height <px>', 'field height', positiveInt('--height'))
    .option('--sites <n>', 'sites (fields) per well', positiveInt('--sites'))
    .option('--controls <n>', 'DMSO control wells per plate', positiveInt('--controls'))
    .option('--doses <n>', 'doses per compound', positiveInt('--doses'))
    .option('--minority-moa', 'add an MOA whose phenotype lives in a minority of cells (Eg5 inhibitors: a quarter of cells arrested in mitosis), for single-cell profiles')
    .action(async (o: { out: string; preset: SynthPreset; seed?: number; plates?: number; width?: number; height?: number; sites?: number; controls?: number; doses?: number; minorityMoa?: boolean }) => {
      const r = await synthesizeScreen(o);
      note(`synth: ${r.plates} plates, ${r.wells} wells, ${r.fields} fields (${r.images} TIFFs), ${r.compounds} compounds in ${r.moas} MOAs, ${r.treatments} treatments, in ${r.seconds.toFixed(1)}s`);
      console.log(`image table: ${r.imageTable}`);
      console.log(`MOA table:   ${r.moaTable}`);
      console.log(`images:      ${r.imagesRoot}`);
      console.log(`manifest:    ${r.manifest}`);
      console.log('next:');
      console.log(`  morphoprof inspect --metadata ${r.imageTable} --images ${r.imagesRoot} --moa ${r.moaTable}`);
      console.log(`  morphoprof run --metadata ${r.imageTable} --images ${r.imagesRoot} --moa ${r.moaTable} --out <run-dir>`);
    });
}
