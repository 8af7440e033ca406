import { Option, type Command } from 'commander';
import path from 'node:path';
import { computeIllumination, DEFAULT_METHOD, ILLUMINATION_METHODS, MANIFEST_FILE, type IlluminationMethod } from '../illum/index.js';
import { MorphoprofError } from '../errors.js';
import { loadScreen } from '../screen/index.js';
import { commaList, note, screenOptions } from './common.js';

export function register(program: Command): void {
  const cmd = program
    .command('illum')
    .description('illumination functions per plate and stain (BBBC021\'s CellProfiler recipe): average, 500 px median, robust-minimum rescale; reruns compute only what is missing');
  for (const opt of screenOptions) cmd.addOption(opt());
  cmd
    .requiredOption('--out <dir>', 'folder for <plate>_Illum<Stain>.npy/.png and illum.json')
    .addOption(new Option('--method <method>', 'fast: median at 1/4 scale (DeepProfiler); full: at full resolution (CellProfiler)').choices([...ILLUMINATION_METHODS]).default(DEFAULT_METHOD))
    .option('--plates <list>', 'only these plates (comma-separated)', commaList)
    .option('--stains <list>', 'only these stains (comma-separated channel names)', commaList)
    .action(async (o: { metadata: string; images: string; moa?: string; controls: string; out: string; method: IlluminationMethod; plates?: string[]; stains?: string[] }) => {
      const { screen, problems } = await loadScreen({ metadata: o.metadata, images: o.images, moa: o.moa, controlCompound: o.controls });
      if (problems.length > 0) note(`warning: ${problems.length} metadata rows skipped (first: ${problems[0]!.message})`);
      const started = performance.now();
      let read = 0;
      const warnings: string[] = [];
      const set = await computeIllumination({
        screen, out: o.out, method: o.method, plates: o.plates, channels: o.stains,
        onProgress: (e) => (read = e.done),
        warn: (m) => {
          warnings.push(m);
          note(`warning: ${m}`);
        },
      });
      const seconds = (performance.now() - started) / 1000;
      note(`illum: ${read} images in ${seconds.toFixed(1)} s (${read > 0 ? (read / seconds).toFixed(1) : '0'} images/s)`);
      if (set.width === 0) {
        // not one function: say why, as run does, instead of reporting an empty set
        const plates = o.plates?.length ?? new Set(screen.fields.map((f) => f.plate)).size;
        const stains = o.stains?.length ?? screen.channels.length;
        const why = screen.fields.length === 0
          ? `the image table lists no valid field${problems.length ? ` (first problem: ${problems[0]!.message})` : ''}`
          : `none of the images of ${plates} plate(s) x ${stains} stain(s) could be read${warnings.length ? ` (${warnings[0]})` : ''}`;
        throw new MorphoprofError('NOTHING_VALID', `No illumination function computed in ${path.resolve(o.out)}: ${why}`, 'Check --images (the folder the PathName columns are relative to) and that the files are readable images: morphoprof inspect --metadata ... --images ...');
      }
      console.log(`illumination functions (${o.method}): ${set.plates.length} plates x ${set.channels.length} stains, ${set.width}x${set.height}, in ${path.resolve(o.out)}`);
      console.log(`manifest: ${path.join(path.resolve(o.out), MANIFEST_FILE)}`);
      console.log(`next: morphoprof run --metadata ${o.metadata} --images ${o.images}${o.moa ? ` --moa ${o.moa}` : ''} --illum ${o.out} --out <run-dir>`);
    });
}
