import type { Command } from 'commander';
import { writeReport } from '../report/index.js';

export function register(program: Command): void {
  program
    .command('report')
    .description('self-contained HTML report of a run or evaluation folder (accuracy, confusion matrix, map of treatment profiles, neighbours, settings, errors) plus PNG/SVG figures')
    .argument('<run-dir>', 'the --out folder of `morphoprof run`, `demo` or `evaluate` (needs metrics.json)')
    .option('--umap', 'also lay the treatment profiles out with UMAP, beside PCA', false)
    .action(async (runDir: string, o: { umap: boolean }) => {
      const { html, figures } = await writeReport(runDir, { umap: o.umap });
      console.log(`report: ${html}`);
      for (const figure of figures) console.log(`figure: ${figure}`);
    });
}
