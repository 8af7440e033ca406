import { Option, type Command } from 'commander';
import { invalidParameter } from '../errors.js';
import { parseComposite, writeReport, type ReportFiles } from '../report/index.js';

/** `--composite`: checked when the command line is parsed, passed on as written. */
export function compositeOption(): Option {
  return new Option('--composite <stain:colour,...>', 'stains and colours of the pictures of the cells, e.g. DAPI:blue,Tubulin:green,Actin:red (default: DNA blue, tubulin green, actin red)').argParser((value: string) => {
    parseComposite(value);
    return value;
  });
}

/** One line on where the pictures went, or why there are none. */
export function picturesLine(files: ReportFiles): string {
  const p = files.pictures;
  if ('reason' in p) return `pictures: none (${p.reason})`;
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
  if (p.placement === 'report') return `pictures: ${p.count} treatments, ${mb(p.reportBytes)} in the report`;
  return `pictures: ${p.count} treatments, over the page's budget: gallery ${files.gallery} (${mb(p.galleryBytes)})` + (p.reportBytes ? `, small thumbnails in the report (${mb(p.reportBytes)})` : '');
}

export function register(program: Command): void {
  program
    .command('report')
    .description('self-contained HTML report of a run or evaluation folder (accuracy, confusion matrix, map of treatment profiles, pictures of the cells, neighbours, settings, errors) plus PNG/SVG figures')
    .argument('<run-dir>', 'the --out folder of `morphoprof run`, `demo` or `evaluate` (needs metrics.json)')
    .option('--umap', 'also lay the treatment profiles out with UMAP, beside PCA', false)
    .addOption(compositeOption())
    .addOption(new Option('--picture-scale <scope>', 'scale each stain over all pictures (screen: brightness compares between treatments) or per picture (field)').choices(['screen', 'field']).default('screen'))
    .option('--picture-budget <MB>', 'megabytes of pictures the page may embed; over it the gallery goes to gallery.html', (value: string) => {
      const n = Number(value);
      if (!Number.isFinite(n) || n < 0) throw invalidParameter('--picture-budget', 'a number of megabytes >= 0', value);
      return n;
    }, 8)
    .option('--no-pictures', 'leave the pictures of the cells out')
    .action(async (runDir: string, o: { umap: boolean; composite?: string; pictureScale: 'screen' | 'field'; pictureBudget: number; pictures: boolean }) => {
      const files = await writeReport(runDir, { umap: o.umap, composite: o.composite, pictureScale: o.pictureScale, pictureBudget: o.pictureBudget * 1e6, pictures: o.pictures });
      console.log(`report: ${files.html}`);
      console.log(picturesLine(files));
      for (const figure of files.figures) console.log(`figure: ${figure}`);
    });
}
