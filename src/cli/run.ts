import { Option, type Command } from 'commander';
import path from 'node:path';
import { runPipeline, type RunResult } from '../pipeline.js';
import { embedOptions, embedSettingsFrom, note, screenOptions } from './common.js';

export function printRunSummary(r: RunResult): void {
  const { nsc } = r.metrics;
  console.log(`NSC accuracy: ${nsc.accuracy.toFixed(3)} (${nsc.correct}/${nsc.total} treatments)`);
  console.log(`outputs in ${path.resolve(r.out)}:`);
  console.log('  features/      one row per field: metadata + features (Parquet, one file per plate)');
  console.log('  metrics.json   NSC 1-NN MOA accuracy');
  console.log('  confusion_matrix.csv, neighbors.csv, errors.csv, run.json');
}

export function register(program: Command): void {
  const cmd = program.command('run').description('the whole pipeline: embed every field, build treatment profiles, evaluate MOA accuracy');
  for (const opt of screenOptions) cmd.addOption(opt());
  cmd.requiredOption('--out <dir>', 'run directory (rerunning the same command resumes)');
  for (const opt of embedOptions) cmd.addOption(opt());
  cmd.addOption(
    new Option('--normalize <method>', 'normalize well profiles against the plate\'s control wells before averaging treatments (none = the paper\'s plain means)')
      .choices(['none', 'standardize', 'robustize', 'sphere'])
      .default('none'),
  );
  cmd.action(async (o) => {
      const r = await runPipeline({
        ...embedSettingsFrom(o),
        metadata: o.metadata,
        images: o.images,
        moa: o.moa,
        out: o.out,
        controlCompound: o.controls,
        normalize: o.normalize,
        log: note,
      });
      printRunSummary(r);
    });
}
