import { Option, type Command } from 'commander';
import { embedScreen } from '../embed/embed.js';
import { loadScreen } from '../screen/index.js';
import { note, positiveInt, screenOptions } from './common.js';

export function register(program: Command): void {
  const cmd = program
    .command('embed')
    .description('embed every field of a screen with an ImageNet CNN (one row per field in <out>/features/*.parquet)');
  for (const opt of screenOptions) cmd.addOption(opt());
  cmd
    .requiredOption('--out <dir>', 'run directory')
    .addOption(new Option('--model <name>', 'network (see `morphoprof models list`)').default('resnet50'))
    .addOption(new Option('--batch-size <n>', 'fields per inference batch').default(8).argParser(positiveInt('--batch-size')))
    .option('--json', 'print the result as JSON')
    .action(async (o) => {
      const { screen, problems } = await loadScreen({ metadata: o.metadata, images: o.images, moa: o.moa, controlCompound: o.controls });
      for (const p of problems.slice(0, 5)) note(`warning: ${p.message}`);
      const r = await embedScreen({ screen, out: o.out, model: o.model, batchSize: o.batchSize });
      if (o.json) console.log(JSON.stringify({ ...r, errors: r.errors.length }, null, 2));
      else
        console.log(
          `embedded ${r.fieldsEmbedded} fields (${r.fieldsResumed} resumed, ${r.errors.length} skipped) in ${r.seconds.toFixed(1)} s\nfeatures: ${r.featuresDir}`,
        );
    });
}
