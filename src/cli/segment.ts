import type { Command } from 'commander';
import { segmentImages } from '../cells/loose.js';
import { cellScreen } from '../cells/stage.js';
import { MorphoprofError } from '../errors.js';
import { resolveIllumination } from '../pipeline.js';
import { loadScreen } from '../screen/index.js';
import { cellOptions, cellSettingsFrom, note, positiveInt, screenArgs } from './common.js';
import { Option } from 'commander';
import { DEFAULT_SHARD_SIZE } from '../embed/store.js';

export function register(program: Command): void {
  const cmd = program
    .command('segment [images...]')
    .description(
      'find nuclei (and cells with --cell-channel) in every field of a screen: one row per nucleus in <out>/cells/*.parquet; ' +
        'or in loose image files of any size: <name>_labels.png per image and objects.csv, to tune the settings on a few images first',
    )
    .option('--metadata <csv>', 'image table: BBBC021_v1_image.csv or a CellProfiler LoadData CSV (screen mode)')
    .option('--images <root>', "folder the table's PathName columns are relative to (screen mode)")
    .option('--moa <csv>', 'MOA table (compound,concentration,moa)')
    .option('--controls <compound>', 'negative-control compound', 'DMSO')
    .requiredOption('--out <dir>', 'output directory (rerunning the same command resumes)')
    .option('--illum <dir|auto>', 'divide each image by its plate\'s illumination function before thresholding (auto: compute them into <out>/illum)')
    .option('--labels', 'write each field\'s label images to <out>/labels/ (16-bit PNG, 0 = background, n = object n)')
    .addOption(new Option('--label-format <format>', 'label images as 16-bit PNG or TIFF').choices(['png', 'tiff']).default('png'))
    .option('--overlays', 'write outlines over the nuclei stain to <out>/overlays/ (PNG)');
  for (const opt of cellOptions) cmd.addOption(opt());
  cmd.addOption(new Option('--shard-size <n>', 'fields per committed shard').default(DEFAULT_SHARD_SIZE).argParser(positiveInt('--shard-size')));
  cmd.option('--json', 'print the result as JSON').action(async (files: string[], o) => {
    const settings = cellSettingsFrom(o);
    if (files.length > 0) {
      if (o.metadata) throw new MorphoprofError('BAD_ARGUMENT', 'give either image files or --metadata/--images, not both', 'morphoprof segment a.tif b.tif --out dir, or morphoprof segment --metadata screen.csv --images root --out dir');
      const results = await segmentImages({ files, out: o.out, nuclei: { ...settings.nuclei, ...(settings.diameter ? { diameter: settings.diameter } : {}) }, overlays: o.overlays === true });
      if (o.json) console.log(JSON.stringify(results, null, 2));
      else for (const r of results) console.log(r.error ? `${r.file}: skipped: ${r.error}` : `${r.file}: ${r.nuclei} nuclei -> ${r.labels}${r.overlay ? `, ${r.overlay}` : ''}`);
      if (results.every((r) => r.error)) process.exitCode = 2;
      return;
    }
    if (!o.metadata || !o.images)
      throw new MorphoprofError('BAD_ARGUMENT', 'segment needs image files, or --metadata and --images for a screen', 'e.g. morphoprof segment --metadata BBBC021_v1_image.csv --images <root> --out seg, or morphoprof segment a.tif --out seg');
    const { screen, problems } = await loadScreen(screenArgs(o));
    for (const p of problems.slice(0, 5)) note(`warning: ${p.message}`);
    const illum = await resolveIllumination(o.illum, screen, o.out, note);
    const r = await cellScreen({ screen, out: o.out, mode: 'segment', settings: { ...settings, illum: illum ?? null }, labels: o.labels, labelFormat: o.labelFormat, overlays: o.overlays, threads: o.threads, shardSize: o.shardSize, warn: (m) => note(`warning: ${m}`) });
    if (o.json) console.log(JSON.stringify({ ...r, errors: r.errors.length }, null, 2));
    else
      console.log(
        `segmented ${r.fieldsEmbedded} fields (${r.fieldsResumed} resumed, ${r.errors.length} skipped): ${r.objects} nuclei in ${r.seconds.toFixed(1)} s` +
          ` (${r.secondsPerField ? (1000 * r.secondsPerField).toFixed(0) : '-'} ms of one thread per field)\nnuclei: ${r.cellsDir}`,
      );
  });
}
