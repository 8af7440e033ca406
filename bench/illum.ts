/**
 * Illumination stage figures on one plate of real-size 1280x1024 16-bit fields (a synthetic
 * `bench` plate), measured side by side in one run: computing the plate's functions (`fast`, the
 * default, and `full`) against embedding the same plate end to end (ResNet-50, grey mode).
 *   node dist/bench/illum.js [--sites 3] [--full]
 */
import { rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { embedScreen } from '../src/embed/embed.js';
import { computeIllumination, illuminationFunction } from '../src/illum/index.js';
import { native } from '../src/native.js';
import { loadScreen } from '../src/screen/index.js';
import { synthesizeScreen } from '../src/synth/index.js';
import { tempDir } from '../test/helpers.js';

const { values } = parseArgs({ options: { sites: { type: 'string', default: '3' }, full: { type: 'boolean', default: false } } });
const root = tempDir('morphoprof-bench-illum-');
const synth = await synthesizeScreen({ out: path.join(root, 'screen'), preset: 'bench', plates: 1, sites: Number(values.sites) });
const { screen } = await loadScreen({ metadata: synth.imageTable, images: synth.imagesRoot });
const images = screen.fields.length * screen.channels.length;
const functions = screen.channels.length;
console.log(
  `illum: one plate of ${screen.fields.length} fields x ${functions} stains = ${images} images of 1280x1024 16-bit ` +
    `(C kernels ${native ? 'built' : 'not built'}; load average ${loadavg()[0]!.toFixed(1)})`,
);

// the filter alone, on one average image: the fixed cost of each function
const avg = Float32Array.from({ length: 1280 * 1024 }, (_, i) => 500 + ((i * 2654435761) % 997));
const t0 = performance.now();
illuminationFunction(avg, 1280, 1024, 'fast');
const filterSeconds = (performance.now() - t0) / 1000;

const methods = values.full ? (['fast', 'full'] as const) : (['fast'] as const);
const illumSeconds: Record<string, number> = {};
for (const method of methods) {
  const t = performance.now();
  await computeIllumination({ screen, out: path.join(root, `illum-${method}`), method });
  illumSeconds[method] = (performance.now() - t) / 1000;
}

const e = await embedScreen({ screen, out: path.join(root, 'run'), progress: false });
const embedSeconds = e.seconds - e.openSeconds;

const fast = illumSeconds['fast']!;
const perImage = (fast - functions * filterSeconds) / images;
console.log(`illum fast: ${fast.toFixed(1)} s for the plate (${functions} functions): ${(1000 * perImage).toFixed(2)} ms per image read and summed, ${filterSeconds.toFixed(2)} s per function to filter and rescale (the average image)`);
if (illumSeconds['full'] !== undefined) console.log(`illum full: ${illumSeconds['full'].toFixed(1)} s for the plate`);
console.log(`embed (resnet50 fp32, grey): ${embedSeconds.toFixed(1)} s for the same plate (${(images / embedSeconds).toFixed(1)} images/s, without opening the network)`);
console.log(`illum fast / embed: ${(fast / embedSeconds).toFixed(2)} of the embedding time on this plate`);
// a BBBC021 plate: 60 wells x 4 sites x 3 stains = 720 images
const bbbc = 720 * perImage + functions * filterSeconds;
console.log(`projected for a BBBC021 plate (720 images): illum ${bbbc.toFixed(1)} s vs embed ${((720 * embedSeconds) / images).toFixed(1)} s = ${(bbbc / ((720 * embedSeconds) / images)).toFixed(2)}`);
rmSync(root, { recursive: true, force: true });
