import type { Command } from 'commander';
import { MorphoprofError } from '../errors.js';
import { inspectImage } from '../image/index.js';
import { loadScreen, summarizeScreen, type Problem, type ScreenSummary } from '../screen/index.js';
import { screenOptions } from './common.js';

interface InspectOptions {
  metadata?: string;
  images?: string;
  moa?: string;
  controls: string;
  json?: boolean;
  checkFiles: boolean;
}

const SHOW = 5;

function shortList(items: readonly string[], n = SHOW): string {
  return items.length <= n ? items.join(', ') : `${items.slice(0, n).join(', ')}, ... (${items.length - n} more)`;
}

function formatSummary(s: ScreenSummary, problems: readonly Problem[]): string {
  const lines = [
    `image table   ${s.metadataPath}`,
    `images root   ${s.imagesRoot}`,
    `plates        ${s.plates.count}: ${shortList(s.plates.names)}`,
    `batches       ${s.batches.count}${s.batches.count ? `: ${shortList(s.batches.names, 10)}` : ''}`,
    `wells         ${s.wells.count}`,
    `sites         ${s.sites.count} (${s.sites.values.join(', ')}); wells by site count: ${Object.entries(s.sites.perWell)
      .map(([n, w]) => `${w} with ${n}`)
      .join(', ')}`,
    `fields        ${s.fields}`,
    `channels      ${s.channels.length}: ${s.channels.join(', ')}`,
    `compounds     ${s.compounds}; treatments ${s.treatments.length}, ${s.moaTreatments} with an MOA (control excluded)`,
    `MOAs          ${s.moas.length}: ${s.moas.map((m) => `${m.moa} (${m.treatments})`).join(', ')}`,
    `controls      '${s.controlCompound}': ${s.controls.wells} wells, ${s.controls.minPerPlate}-${s.controls.maxPerPlate} per plate`,
  ];
  if (s.files) {
    const f = s.files;
    lines.push(`files         ${f.present} of ${f.files} present, ${f.missing} missing; ${f.fieldsComplete} of ${s.fields} fields complete`);
    for (const m of f.missingFiles.slice(0, SHOW)) lines.push(`  missing: ${m}`);
    if (f.missing > SHOW) lines.push(`  ... and ${f.missing - SHOW} more (--json lists all)`);
  }
  if (problems.length) {
    lines.push(`problems      ${problems.length}`);
    for (const p of problems.slice(0, SHOW)) lines.push(`  ${p.message}`);
    if (problems.length > SHOW) lines.push(`  ... and ${problems.length - SHOW} more (--json lists all)`);
  }
  return lines.join('\n');
}

export function register(program: Command): void {
  const cmd = program
    .command('inspect [image]')
    .description(
      'Describe a screen (--metadata, --images: plates, wells, treatments, MOAs, controls, missing files) or one image file (size, bit depth, compression, min/max/mean)',
    );
  // The shared screen options, optional here: `inspect <image>` needs none of them.
  for (const make of screenOptions) cmd.addOption(make().makeOptionMandatory(false));
  cmd
    .option('--no-check-files', 'do not check that the image files exist')
    .option('--json', 'print JSON (the full summary) instead of text')
    .action(async (image: string | undefined, o: InspectOptions) => {
      if (image !== undefined) {
        if (o.metadata) throw new MorphoprofError('BAD_ARGUMENT', `Give either an image file or --metadata, not both (got ${image} and ${o.metadata})`);
        const r = await inspectImage(image);
        if (o.json) console.log(JSON.stringify(r, null, 2));
        else
          console.log(
            [
              `file          ${image}`,
              `size          ${r.width} x ${r.height}`,
              `bit depth     ${r.bitDepth}`,
              `compression   ${r.compression}`,
              `min/max/mean  ${r.min} / ${r.max} / ${r.mean.toFixed(1)}`,
            ].join('\n'),
          );
        return;
      }
      if (!o.metadata || !o.images) {
        throw new MorphoprofError(
          'BAD_ARGUMENT',
          `inspect needs an image file, or --metadata <csv> and --images <root> (got ${o.metadata ? `--metadata ${o.metadata}` : 'no --metadata'}, ${o.images ? `--images ${o.images}` : 'no --images'})`,
          'e.g. morphoprof inspect --metadata BBBC021_v1_image.csv --images images/ --moa BBBC021_v1_moa.csv',
        );
      }
      const { screen, problems } = await loadScreen({ metadata: o.metadata, images: o.images, moa: o.moa, controlCompound: o.controls });
      const summary = await summarizeScreen(screen, { checkFiles: o.checkFiles });
      if (o.json) console.log(JSON.stringify({ ...summary, problems }, null, 2));
      else console.log(formatSummary(summary, problems));
    });
}
