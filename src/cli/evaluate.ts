import type { Command } from 'commander';
import { evaluate } from '../evaluate/index.js';
import { note } from './common.js';

export function register(program: Command): void {
  program
    .command('evaluate')
    .description('not-same-compound 1-NN MOA accuracy of a profile table (field, well or treatment level; averaged per treatment)')
    .requiredOption('--profiles <table>', 'profile table: .csv, .csv.gz, .parquet, or a folder of .parquet files')
    .requiredOption('--out <dir>', 'output folder for metrics.json, confusion_matrix.csv, neighbors.csv')
    .option('--metadata <csv>', 'platemap to annotate profiles that lack Metadata_Compound: BBBC021_v1_image.csv or a LoadData-style table')
    .option('--moa <csv>', 'MOA table (compound,concentration,moa), e.g. BBBC021_v1_moa.csv')
    .option('--controls <compound>', 'negative-control compound, excluded from evaluation', 'DMSO')
    .action(async (o: { profiles: string; out: string; metadata?: string; moa?: string; controls: string }) => {
      const { metrics, files } = await evaluate({
        profiles: o.profiles,
        out: o.out,
        metadata: o.metadata,
        moa: o.moa,
        controlCompound: o.controls,
      });
      const { accuracy, correct, total } = metrics.nsc;
      console.log(`NSC accuracy: ${accuracy.toFixed(3)} (${correct}/${total})`);
      const { control, without_moa: withoutMoa, without_moa_treatments: names } = metrics.excluded;
      note(`excluded: ${control} ${o.controls} treatment(s), ${withoutMoa} without MOA${withoutMoa ? ` (${names.join(', ')})` : ''}`);
      console.log(`metrics:   ${files.metrics}`);
      console.log(`confusion: ${files.confusion}`);
      console.log(`neighbors: ${files.neighbors}`);
    });
}
