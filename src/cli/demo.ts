import type { Command } from 'commander';
import path from 'node:path';
import { runPipeline } from '../pipeline.js';
import { synthesizeScreen } from '../synth/index.js';
import { note } from './common.js';
import { printRunSummary } from './run.js';

export function register(program: Command): void {
  program
    .command('demo')
    .description('write the embedded synthetic demo screen and run the whole pipeline on it (what `npm run demo` does)')
    .option('--out <dir>', 'output folder', 'demo-out')
    .option('--seed <n>', 'random seed of the synthetic screen', (v) => Number(v), 1)
    .action(async (o: { out: string; seed: number }) => {
      const started = performance.now();
      const screenDir = path.join(o.out, 'screen');
      const s = await synthesizeScreen({ out: screenDir, preset: 'demo', seed: o.seed });
      note(`synth: ${s.plates} plates, ${s.fields} fields, ${s.compounds} compounds in ${s.moas} MOAs (${s.treatments} treatments) in ${s.seconds.toFixed(1)} s -> ${screenDir}`);
      const r = await runPipeline({
        metadata: s.imageTable,
        images: s.imagesRoot,
        moa: s.moaTable,
        out: path.join(o.out, 'run'),
        log: note,
      });
      printRunSummary(r);
      console.log(`demo finished in ${((performance.now() - started) / 1000).toFixed(0)} s (synthetic screen in ${path.resolve(screenDir)})`);
    });
}
