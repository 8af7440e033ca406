import { Option, type Command } from 'commander';
import path from 'node:path';
import { runPipeline, type RunResult } from '../pipeline.js';
import { cellDeepFrom, cellSettingsFrom, embedOptions, embedSettingsFrom, featureOptions, note, screenArgs, screenOptions } from './common.js';
import { compositeOption } from './report.js';

export function printRunSummary(r: RunResult): void {
  const { nsc, nscb, map } = r.metrics as RunResult['metrics'] & {
    nscb?: { accuracy: number; correct: number; total: number; eligible: { correct: number; total: number }; note?: string } | null;
    map?: { mean_average_precision: number; p_value: number | null } | null;
  };
  console.log(`NSC accuracy: ${nsc.accuracy.toFixed(3)} (${nsc.correct}/${nsc.total} treatments)`);
  if (nscb?.note) console.log(`NSCB accuracy: n/a (${nscb.note})`);
  else if (nscb && nscb.eligible.total > 0)
    console.log(`NSCB accuracy: ${nscb.accuracy.toFixed(3)} (${nscb.correct}/${nscb.total}; ${nscb.eligible.correct}/${nscb.eligible.total} of those with a same-MOA neighbour in another batch)`);
  if (map) console.log(`same-MOA mAP: ${map.mean_average_precision.toFixed(3)}` + (map.p_value !== null ? ` (permutation p = ${map.p_value.toPrecision(2)})` : ''));
  console.log(`outputs in ${path.resolve(r.out)}:`);
  console.log('  report.html    the report: accuracy, confusion matrix, map of treatment profiles, neighbours, errors');
  console.log('  features/      one row per field: metadata + features (Parquet shards)');
  if ('cellsDir' in r.embed && r.embed.cellsDir)
    console.log('crops' in r.embed ? '  cells/         one row per cell: metadata, object number, centre + its embedding' : '  cells/         one row per object (nucleus, its cell and cytoplasm): metadata + measurements');
  console.log('  metrics.json, confusion_matrix.csv, per_moa.csv, neighbors.csv, treatment_profiles.parquet');
  console.log('  errors.csv     skipped fields with reasons; run.json: settings, counts, timings');
}

export function register(program: Command): void {
  const cmd = program.command('run').description('the whole pipeline: embed every field, build treatment profiles, evaluate MOA accuracy');
  for (const opt of screenOptions) cmd.addOption(opt());
  cmd.requiredOption('--out <dir>', 'run directory (rerunning the same command resumes)');
  for (const opt of embedOptions) cmd.addOption(opt());
  for (const opt of featureOptions) cmd.addOption(opt());
  cmd.addOption(
    new Option('--normalize <method>', 'normalize well profiles against the control wells before averaging treatments (none = the paper\'s plain means; tvn = standardize on the screen\'s controls, then sphere)')
      .choices(['none', 'standardize', 'robustize', 'sphere', 'tvn'])
      .default('none'),
  );
  cmd.addOption(compositeOption());
  cmd.action(async (o) => {
      const r = await runPipeline({
        report: { composite: o.composite },
        ...embedSettingsFrom(o),
        ...screenArgs(o),
        out: o.out,
        normalize: o.normalize,
        features: o.features,
        cells: cellSettingsFrom(o),
        keepCells: o.keepCells === true,
        threads: o.threads,
        mode: o.mode,
        cellDeep: cellDeepFrom(o),
        log: note,
      });
      printRunSummary(r);
    });
}
