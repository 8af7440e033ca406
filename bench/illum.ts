/**
 * Illumination stage figures: time to compute one plate's functions from real-size 1280x1024
 * 16-bit fields (a synthetic `bench` plate), `fast` and `full`, per image and per plate.
 *   npx tsc -p . && node dist/bench/illum.js [--sites 1]
 * Compare with embedding (bench/models.ts: images/s of ResNet-50; a field is 3 images in grey mode).
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { computeIllumination, illuminationFunction } from '../src/illum/index.js';
import { loadScreen } from '../src/screen/index.js';
import { synthesizeScreen } from '../src/synth/index.js';
import { tempDir } from '../test/helpers.js';

const { values } = parseArgs({ options: { sites: { type: 'string', default: '1' } } });
const synth = await synthesizeScreen({ out: tempDir('morphoprof-bench-illum-'), preset: 'bench', plates: 1, sites: Number(values.sites) });
const { screen } = await loadScreen({ metadata: synth.imageTable, images: synth.imagesRoot });
const images = screen.fields.length * screen.channels.length;
console.log(`illum: one plate of ${screen.fields.length} fields x ${screen.channels.length} stains = ${images} images of 1280x1024 16-bit (load average ${loadavg()[0]!.toFixed(1)})`);

for (const method of ['fast', 'full'] as const) {
  const t = performance.now();
  const cpu0 = process.cpuUsage();
  await computeIllumination({ screen, out: tempDir(`morphoprof-bench-illum-${method}-`), method });
  const seconds = (performance.now() - t) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  console.log(`illum ${method}: ${seconds.toFixed(1)} s per plate (${screen.channels.length} functions), ${(1000 * seconds / images).toFixed(1)} ms per image, ${(images / seconds).toFixed(1)} images/s (CPU ${cpuSeconds.toFixed(1)} s)`);
}

// the filter alone, on one average image
const avg = Float32Array.from({ length: 1280 * 1024 }, (_, i) => 500 + ((i * 2654435761) % 997));
for (const method of ['fast', 'full'] as const) {
  const t = performance.now();
  illuminationFunction(avg, 1280, 1024, method);
  console.log(`illum ${method}: median filter + rescale of one 1280x1024 average ${((performance.now() - t) / 1000).toFixed(2)} s`);
}
