/**
 * Reading a stain's image from each kind of source, at real size (1280x1024 16-bit, three stains):
 * one file per stain (the fast path), a page of a multi-page TIFF, an OME-TIFF channel by name
 * (uncompressed: the same fast path, plus the OME-XML), a deflate multi-page TIFF (libvips), and
 * OME-Zarr fields in v2 (raw chunks) and v3 (zarrita's default codecs). Per image: wall and CPU
 * time of `readImageResized` to 224x224, as the embedding reads.
 *
 *   node dist/bench/sources.js [--reads 90]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { readImageResized } from '../src/image/index.js';
import { formatImageRef } from '../src/image/source.js';
import { fieldPixels, multiPageTiff, omeXml, writeZarrPlateV2, writeZarrPlateV3 } from '../test/image/fixtures.js';

const W = 1280;
const H = 1024;
const STAINS = ['DNA', 'Tubulin', 'Actin'];
const FIELDS = 6;
const readsArg = process.argv.indexOf('--reads');
const READS = readsArg > 0 ? Number(process.argv[readsArg + 1]) : 90;

const dir = path.join(tmpdir(), `morphoprof-bench-sources-${process.pid}`);
mkdirSync(dir, { recursive: true });
const px = Array.from({ length: FIELDS }, (_, f) => STAINS.map((_, s) => fieldPixels(W, H, f * 3 + s + 1)));

const sources: Record<string, string[]> = { single: [], 'multi-page': [], 'ome-tiff': [], 'deflate multi-page': [], 'zarr v2': [], 'zarr v3': [] };
for (let f = 0; f < FIELDS; f++) {
  for (const [s, stain] of STAINS.entries()) {
    const file = path.join(dir, `f${f}_${stain}.tif`);
    await sharp(px[f]![s]!, { raw: { width: W, height: H, channels: 1 } }).toColourspace('grey16').tiff({ compression: 'none' }).toFile(file);
    sources.single!.push(file);
  }
  const multi = path.join(dir, `f${f}.tif`);
  writeFileSync(multi, multiPageTiff(px[f]!, W, H));
  const ome = path.join(dir, `f${f}.ome.tif`);
  writeFileSync(ome, multiPageTiff(px[f]!, W, H, { description: omeXml(STAINS, W, H) }));
  const deflate = path.join(dir, `f${f}.deflate.tif`);
  writeFileSync(deflate, multiPageTiff(px[f]!, W, H, { deflate: true }));
  for (const [s, stain] of STAINS.entries()) {
    sources['multi-page']!.push(formatImageRef({ file: multi, select: { kind: 'page', page: s } }));
    sources['ome-tiff']!.push(formatImageRef({ file: ome, select: { kind: 'ome-channel', channel: stain } }));
    sources['deflate multi-page']!.push(formatImageRef({ file: deflate, select: { kind: 'page', page: s } }));
  }
}
const plate = { name: 'P1', channels: STAINS, width: W, height: H, chunkRows: H, wells: [{ row: 'A', column: '1', fields: px }] };
writeZarrPlateV2({ ...plate, dir: path.join(dir, 'v2.zarr') });
await writeZarrPlateV3({ ...plate, dir: path.join(dir, 'v3.zarr') });
for (let f = 0; f < FIELDS; f++) {
  for (const stain of STAINS) {
    sources['zarr v2']!.push(formatImageRef({ file: path.join(dir, 'v2.zarr', 'A', '1', String(f)), select: { kind: 'zarr', channel: stain } }));
    sources['zarr v3']!.push(formatImageRef({ file: path.join(dir, 'v3.zarr', 'A', '1', String(f)), select: { kind: 'zarr', channel: stain } }));
  }
}

console.log(`reading one stain of a ${W}x${H} 16-bit field and downsampling to 224x224, ${READS} reads per source (warm page cache)`);
const out = new Float32Array(224 * 224);
for (const [name, refs] of Object.entries(sources)) {
  for (const r of refs.slice(0, 3)) await readImageResized(r, 224, 224, out); // warm up
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < READS; i++) await readImageResized(refs[i % refs.length]!, 224, 224, out);
  const wall = (performance.now() - t0) / READS;
  const cpu = process.cpuUsage(cpu0);
  console.log(`  ${name.padEnd(20)} ${wall.toFixed(2).padStart(6)} ms wall, ${((cpu.user + cpu.system) / 1000 / READS).toFixed(2).padStart(6)} ms CPU per image`);
}
