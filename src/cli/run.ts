import { Option, type Command } from 'commander';
import path from 'node:path';
import { runPipeline, type RunResult } from '../pipeline.js';
import { note, positiveInt, screenOptions } from './common.js';

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
  cmd
    .requiredOption('--out <dir>', 'run directory (rerunning the same command resumes)')
    .addOption(new Option('--model <name>', 'network (see `morphoprof models list`)').default('resnet50'))
    .addOption(new Option('--batch-size <n>', 'fields per inference batch').default(8).argParser(positiveInt('--batch-size')))
    .action(async (o) => {
      const r = await runPipeline({
        metadata: o.metadata,
        images: o.images,
        moa: o.moa,
        out: o.out,
        model: o.model,
        batchSize: o.batchSize,
        controlCompound: o.controls,
        log: note,
      });
      printRunSummary(r);
    });
}
