import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Option, type Command } from 'commander';
import { invalidParameter } from '../errors.js';
import { EVAL_DIAMETER, evaluateSegmentation, type AccuracyRow } from '../cells/segment-eval.js';
import { note } from './common.js';

/** The DSB 2018 fluorescence folder beside a morphoprof checkout (../shared/data/...). */
const DEFAULT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'shared', 'data', 'nuclei', 'dsb2018-fluorescence');

function diameterRange(value: string): [number, number] {
  const parts = value.split(',').map((s) => Number(s.trim()));
  if (parts.length !== 2 || !parts.every((n) => Number.isFinite(n) && n >= 0) || parts[0]! > parts[1]!) {
    throw invalidParameter('--diameter', 'MIN,MAX in pixels with 0 <= MIN <= MAX, e.g. 10,40', value);
  }
  return parts as [number, number];
}

const line = (r: AccuracyRow): string =>
  `${r.kind.padEnd(9)} ${String(r.images).padStart(6)} ${String(r.truth).padStart(6)} ${String(r.predicted).padStart(6)} ${String(r.tp).padStart(6)}  ${r.f1.toFixed(3)}  ${r.meanIoU.toFixed(3)}`;

export function register(program: Command): void {
  program
    .command('segment-eval')
    .description('accuracy of nucleus segmentation on annotated images (INDEX.csv with image,labels): F1 at IoU > 0.5 and mean IoU, per image size and overall')
    .option('--dir <folder>', 'folder of annotated images (INDEX.csv with columns image,labels); default: ../shared/data/nuclei/dsb2018-fluorescence beside the checkout', DEFAULT_DIR)
    .option('--diameter <min,max>', 'nucleus diameter range in px; objects outside are dropped', diameterRange, EVAL_DIAMETER)
    .addOption(new Option('--threshold <method>', 'global threshold').choices(['li', 'otsu']).default('otsu'))
    .addOption(new Option('--declump <method>', 'how touching nuclei are split').choices(['intensity', 'shape', 'none']).default('intensity'))
    .option('--json', 'print the result (per kind, overall and per image) as JSON')
    .action(async (o: { dir: string; diameter: [number, number]; threshold: 'li' | 'otsu'; declump: 'intensity' | 'shape' | 'none'; json?: boolean }) => {
      const r = await evaluateSegmentation(o.dir, { diameter: o.diameter, threshold: o.threshold, declump: o.declump });
      if (o.json) {
        console.log(JSON.stringify(r, null, 2));
        return;
      }
      note(`segment-eval: ${r.images.length} images in ${r.dir}; threshold ${o.threshold}, declump ${o.declump}, diameter ${o.diameter.join('-')} px`);
      console.log('kind      images  truth  found     TP  F1     mean IoU');
      for (const k of r.kinds) console.log(line(k));
      console.log(line(r.overall));
    });
}
