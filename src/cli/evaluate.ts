import { Option, type Command } from 'commander';
import { evaluate, SIMILARITIES, type Similarity } from '../evaluate/index.js';
import { note, positiveInt } from './common.js';

const pct = (a: { accuracy: number; correct: number; total: number }): string => `${a.accuracy.toFixed(3)} (${a.correct}/${a.total})`;

export function register(program: Command): void {
  program
    .command('evaluate')
    .description('NSC and NSCB 1-NN MOA accuracy and same-MOA mAP of a profile table (field, well or treatment level; averaged per treatment)')
    .requiredOption('--profiles <table>', 'profile table: .csv, .csv.gz, .parquet, or a folder of .parquet files')
    .requiredOption('--out <dir>', 'output folder for metrics.json, confusion_matrix.csv, neighbors.csv, per_moa.csv, treatment_profiles.parquet')
    .option('--metadata <csv>', 'platemap to annotate profiles that lack Metadata_Compound: BBBC021_v1_image.csv or a LoadData-style table')
    .option('--moa <csv>', 'MOA table (compound,concentration,moa), e.g. BBBC021_v1_moa.csv')
    .option('--controls <compound>', 'negative-control compound, excluded from evaluation', 'DMSO')
    .addOption(new Option('--similarity <kind>', 'similarity of profiles').choices([...SIMILARITIES]).default('cosine'))
    .option('--permutations <n>', 'MOA label permutations for the mAP p-value (0: none)', (v) => (v === '0' ? 0 : positiveInt('--permutations')(v)), 1000)
    .option('--seed <n>', 'seed of the permutations', positiveInt('--seed'), 1)
    .action(async (o: { profiles: string; out: string; metadata?: string; moa?: string; controls: string; similarity: Similarity; permutations: number; seed: number }) => {
      const { metrics, files } = await evaluate({
        profiles: o.profiles,
        out: o.out,
        metadata: o.metadata,
        moa: o.moa,
        controlCompound: o.controls,
        similarity: o.similarity,
        permutations: o.permutations,
        seed: o.seed,
        warn: (m) => note(`morphoprof: warning: ${m}`),
      });
      console.log(`NSC accuracy: ${pct(metrics.nsc)}`);
      if (metrics.nscb?.note) console.log(`NSCB accuracy: n/a (${metrics.nscb.note})`);
      else if (metrics.nscb) console.log(`NSCB accuracy: ${pct(metrics.nscb)}; over treatments with an eligible same-MOA neighbour: ${pct(metrics.nscb.eligible)}`);
      const { mean_average_precision: map, p_value: p, permutations } = metrics.map;
      if (map !== null) console.log(`mAP (same MOA): ${map.toFixed(3)}${p === null ? '' : `, permutation p = ${p.toPrecision(3)} (${permutations} permutations)`}`);
      const { control, without_moa: withoutMoa, without_moa_treatments: names } = metrics.excluded;
      note(`excluded: ${control} ${o.controls} treatment(s), ${withoutMoa} without MOA${withoutMoa ? ` (${names.join(', ')})` : ''}`);
      if (metrics.map.note) note(metrics.map.note);
      console.log(`metrics:   ${files.metrics}`);
      console.log(`confusion: ${files.confusion}`);
      console.log(`neighbors: ${files.neighbors}`);
      console.log(`per MOA:   ${files.perMoa}`);
      if (files.treatmentProfiles) console.log(`treatment profiles: ${files.treatmentProfiles}`);
    });
}
