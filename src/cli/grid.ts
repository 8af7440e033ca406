import { Option, type Command } from 'commander';
import { runGrid } from '../grid.js';
import { DEFAULT_METHOD, ILLUMINATION_METHODS, type IlluminationMethod } from '../illum/index.js';
import { commaList, note, positiveInt, screenOptions } from './common.js';

export function register(program: Command): void {
  const cmd = program
    .command('grid')
    .description('the paper\'s Table 1 on a screen: {illumination off, on} x {RGB mapping, greyscale per stain} x models -> NSC accuracy, then whole-field deep vs classical profiles (NSC, NSCB, mAP, time per field); reruns resume');
  for (const opt of screenOptions) cmd.addOption(opt());
  cmd
    .requiredOption('--out <dir>', 'folder for illum/, runs/<model>/<variant>/, grid.csv, grid.md')
    .option('--models <list>', 'comma-separated models (default: all of `morphoprof models list`)', commaList)
    .addOption(new Option('--method <method>', 'illumination functions: fast (1/4 scale) or full resolution').choices([...ILLUMINATION_METHODS]).default(DEFAULT_METHOD))
    .addOption(new Option('--batch-size <n>', 'fields per inference batch').default(8).argParser(positiveInt('--batch-size')))
    .option('--no-classical', 'skip the classical-features run and the comparison of profile kinds')
    .option('--no-single-cell', 'skip the single-cell deep run (96-px boxes around every nucleus, fed natively) in the comparison')
    .action(async (o: { metadata: string; images: string; moa?: string; controls: string; out: string; models?: string[]; method: IlluminationMethod; batchSize: number; classical: boolean; singleCell: boolean }) => {
      const r = await runGrid({
        metadata: o.metadata, images: o.images, moa: o.moa, out: o.out, models: o.models, method: o.method,
        controlCompound: o.controls, batchSize: o.batchSize, classical: o.classical, singleCell: o.singleCell, log: note,
      });
      console.log(r.markdown);
      console.log(`table: ${r.md}, ${r.csv}${r.comparison.length ? `, ${r.out}/comparison.csv` : ''}`);
    });
}
