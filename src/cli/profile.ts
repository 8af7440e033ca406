import path from 'node:path';
import { Option, type Command } from 'commander';
import { invalidParameter } from '../errors.js';
import { AGGREGATE_METHODS, buildProfilesWithSummary, parseNormalize, parseFeatureSelections, type AggregateMethod, type NormalizeBy, type NormalizeFit, type ProfileLevel } from '../profiles/index.js';
import { writeProfiles } from '../table/index.js';
import { note } from './common.js';

function nonNegative(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0) throw invalidParameter(name, 'a number >= 0', value);
    return n;
  };
}

interface ProfileCliOptions {
  profiles: string;
  out?: string;
  outputFile?: string;
  aggregate: AggregateMethod;
  level: ProfileLevel;
  normalize: string;
  fit: NormalizeFit;
  by: NormalizeBy;
  controls: string;
  sphereLambda?: number;
  featureSelect?: string;
  corrThreshold?: number;
  metadata?: string;
  moa?: string;
}

export function register(program: Command): void {
  program
    .command('profile')
    .description('aggregate fields -> wells (-> treatments), normalize and select features, as pycytominer does; writes <out>/profiles.parquet')
    .requiredOption('--profiles <table>', 'profile table: .csv, .csv.gz, .parquet, or a folder of .parquet files (fields or wells)')
    .option('--out <dir>', 'output folder (profiles.parquet)')
    .option('--output-file <file>', 'output table instead (.parquet, .csv, .csv.gz)')
    .addOption(new Option('--aggregate <method>', 'fields -> wells (and wells -> treatments)').choices([...AGGREGATE_METHODS]).default('mean'))
    .addOption(new Option('--level <level>', 'output one profile per well or per treatment').choices(['well', 'treatment']).default('well'))
    .option('--normalize <methods>', 'standardize, robustize (median/MAD), sphere (ZCA whitening), none; a comma list runs in order, e.g. standardize,sphere; or the preset tvn (standardize on the screen\'s controls, then sphere with lambda 1; fixes --by)', 'none')
    .addOption(new Option('--fit <rows>', 'fit the normalization on the control wells or on all wells').choices(['controls', 'all']).default('controls'))
    .addOption(new Option('--by <scope>', 'fit standardize/robustize per plate or over the whole screen (sphere: always the screen)').choices(['plate', 'screen']).default('plate'))
    .option('--controls <compound>', 'negative-control compound', 'DMSO')
    .option('--sphere-lambda <x>', 'sphering regularization, as a fraction of the mean eigenvalue (default 0.01)', nonNegative('--sphere-lambda'))
    .option('--feature-select <ops>', 'comma list, in order: variance, correlation, na')
    .option('--corr-threshold <r>', 'correlation threshold of --feature-select correlation (default 0.9)', nonNegative('--corr-threshold'))
    .option('--metadata <csv>', 'platemap joined on plate and well: BBBC021_v1_image.csv or a LoadData-style table')
    .option('--moa <csv>', 'MOA table (compound,concentration,moa), e.g. BBBC021_v1_moa.csv')
    .action(async (o: ProfileCliOptions) => {
      if (!o.out && !o.outputFile) throw invalidParameter('--out or --output-file', 'an output folder or file', undefined);
      const file = o.outputFile ?? path.join(o.out!, 'profiles.parquet');
      const t0 = performance.now();
      const { table, summary } = await buildProfilesWithSummary(o.profiles, {
        aggregate: o.aggregate,
        level: o.level,
        normalize: parseNormalize(o.normalize),
        fit: o.fit,
        by: o.by,
        controlCompound: o.controls,
        sphereLambda: o.sphereLambda,
        featureSelect: o.featureSelect ? parseFeatureSelections(o.featureSelect) : [],
        corrThreshold: o.corrThreshold,
        metadata: o.metadata,
        moa: o.moa,
        warn: (m) => note(`morphoprof: warning: ${m}`),
      });
      await writeProfiles(file, table);
      const d = summary.droppedFeatures;
      note(`dropped features: ${d.missing.length} with missing values, ${d.variance.length} by variance, ${d.correlation.length} by correlation, ${d.na.length} by na`);
      console.log(`profiles: ${summary.rows} ${o.level}s x ${summary.features} features (from ${summary.wells} wells) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      console.log(`written:  ${file}`);
    });
}
