import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { applyIllumination, computeIllumination, loadIllumination, MIN_IMAGES, readNpy } from '../../src/illum/index.js';
import type { Field, Screen } from '../../src/screen/types.js';
import { tempDir } from '../helpers.js';

const CHANNELS = ['DNA', 'Actin'];

/** A tiny screen of 16-bit PNGs: `images[plate]` fields per plate; pixel = 1000 + 10x (+100 for Actin). */
async function tinyScreen(dir: string, images: Record<string, number>, size: (plate: string, k: number) => [number, number] = () => [40, 30]): Promise<Screen> {
  const fields: Field[] = [];
  for (const [plate, n] of Object.entries(images)) {
    for (let k = 0; k < n; k++) {
      const [w, h] = size(plate, k);
      const files: Record<string, string> = {};
      for (const [c, channel] of CHANNELS.entries()) {
        const px = Uint16Array.from({ length: w * h }, (_, i) => 1000 + 10 * (i % w) + 100 * c + k);
        const file = path.join(dir, `${plate}_${k}_${channel}.png`);
        await sharp(Buffer.from(px.buffer), { raw: { width: w, height: h, channels: 1 } }).toColourspace('grey16').png().toFile(file);
        files[channel] = file;
      }
      fields.push({ plate, well: `B${String(k + 1).padStart(2, '0')}`, site: 1, compound: 'DMSO', concentration: 0, moa: null, batch: null, images: files, row: fields.length + 1 });
    }
  }
  return { metadataPath: path.join(dir, 'screen.csv'), imagesRoot: dir, channels: [...CHANNELS], controlCompound: 'DMSO', fields };
}

test('computes one function per plate and stain (npy, png, records, manifest), loads them, and a rerun reuses them', async () => {
  const dir = tempDir('illum-compute-');
  const screen = await tinyScreen(dir, { P1: 12, P2: 11 });
  const out = path.join(dir, 'illum');
  const warnings: string[] = [];
  const set = await computeIllumination({ screen, out, warn: (m) => warnings.push(m) });
  assert.deepEqual(warnings, []);
  assert.deepEqual([set.plates, set.channels, set.width, set.height], [['P1', 'P2'], CHANNELS, 40, 30]);
  for (const name of ['P1_IllumDNA.npy', 'P1_IllumDNA.png', 'P2_IllumActin.npy', 'illum.json']) assert.ok(existsSync(path.join(out, name)), name);
  const manifest = JSON.parse(readFileSync(path.join(out, 'illum.json'), 'utf8'));
  assert.deepEqual([manifest.plates, manifest.channels, manifest.width, manifest.height, manifest.method], [['P1', 'P2'], CHANNELS, 40, 30, 'fast']);
  assert.deepEqual(manifest.functions.map((f: { plate: string; channel: string; images: number }) => `${f.plate}/${f.channel}:${f.images}`), ['P1/DNA:12', 'P1/Actin:12', 'P2/DNA:11', 'P2/Actin:11']);
  // a window larger than the image: the function is the image's median, rescaled to 1
  const fn = set.full('P1', 'DNA');
  assert.ok(fn.every((v) => Math.abs(v - 1) < 1e-6));
  assert.deepEqual(readNpy(path.join(out, 'P1_IllumDNA.npy')).data, fn);

  const loaded = await loadIllumination(out, screen);
  assert.deepEqual(loaded.resized('P2', 'Actin', 8, 6), new Float32Array(48).fill(1));
  assert.throws(() => loaded.resized('P9', 'DNA', 8, 6), /plate P9, stain DNA/);

  const before = statSync(path.join(out, 'P1_IllumDNA.npy')).mtimeMs;
  let reads = -1;
  await computeIllumination({ screen, out, onProgress: (e) => (reads = e.total) });
  assert.equal(reads, 0, 'nothing is read again');
  assert.equal(statSync(path.join(out, 'P1_IllumDNA.npy')).mtimeMs, before);
  await assert.rejects(computeIllumination({ screen, out, method: 'full' }), /holds 'fast' functions; asked for 'full'/);
});

test('subsets: one plate and stain per call, the manifest gathers them; loading before all are there names the missing one', async () => {
  const dir = tempDir('illum-subset-');
  const screen = await tinyScreen(dir, { P1: 10, P2: 10 });
  const out = path.join(dir, 'illum');
  const one = await computeIllumination({ screen, out, plates: ['P2'], channels: ['Actin'] });
  assert.deepEqual([one.plates, existsSync(path.join(out, 'P1_IllumDNA.npy'))], [['P2'], false]);
  await assert.rejects(loadIllumination(out, screen), /no function for plate P1, stain DNA/);
  await assert.rejects(computeIllumination({ screen, out, plates: ['P3'] }), /plates/);
  let reads = 0;
  await computeIllumination({ screen, out, onProgress: (e) => (reads = e.total) });
  assert.equal(reads, 3 * 10, 'only the three missing plate-stain pairs are read');
  const manifest = JSON.parse(readFileSync(path.join(out, 'illum.json'), 'utf8'));
  assert.equal(manifest.functions.length, 4);
  await loadIllumination(out, screen);
});

test('bad input: too few images warn with the count, unreadable images are skipped and counted, differing sizes are an error', async () => {
  const dir = tempDir('illum-bad-');
  const screen = await tinyScreen(dir, { P1: 12, P2: 3 });
  writeFileSync(screen.fields[0]!.images.DNA!, 'not an image');
  screen.fields[1]!.images.DNA = path.join(dir, 'missing.png');
  const warnings: string[] = [];
  const set = await computeIllumination({ screen, out: path.join(dir, 'illum'), warn: (m) => warnings.push(m) });
  assert.ok(warnings.some((w) => /plate P1, stain DNA: 2 of 12 images unreadable, skipped \(first: .*(P1_0_DNA|missing)\.png/.test(w)), warnings.join('\n'));
  assert.ok(warnings.some((w) => new RegExp(`plate P2, stain DNA: only 3 images averaged \\(fewer than ${MIN_IMAGES}\\)`).test(w)), warnings.join('\n'));
  assert.equal(warnings.length, 3); // P1 DNA skipped; P2 DNA and Actin too few
  const manifest = JSON.parse(readFileSync(path.join(dir, 'illum', 'illum.json'), 'utf8'));
  const p1 = manifest.functions.find((f: { plate: string; channel: string }) => f.plate === 'P1' && f.channel === 'DNA');
  assert.deepEqual([p1.images, p1.skipped], [10, 2]);
  assert.ok(set.full('P1', 'DNA'));

  const mixed = await tinyScreen(tempDir('illum-sizes-'), { P1: 3 }, (_, k) => (k === 2 ? [32, 30] : [40, 30]));
  await assert.rejects(
    computeIllumination({ screen: mixed, out: path.join(dir, 'illum-mixed') }),
    // images are read concurrently: whichever stain meets the odd image first reports it, in either order
    /Plate P1, stain (DNA|Actin): images of different sizes, (40x30|32x30) \(.*\) and (32x30|40x30) \(.*\).*$/s,
  );
  await assert.rejects(
    computeIllumination({ screen: mixed, out: path.join(dir, 'illum-mixed-2') }),
    (err: Error) => err.message.includes('40x30') && err.message.includes('32x30') && err.message.includes('P1_2_'),
  );
});

test('loadIllumination refuses another screen, another stain set and another image size, naming plate and stain', async () => {
  const dir = tempDir('illum-identity-');
  const screen = await tinyScreen(dir, { P1: 10 });
  const out = path.join(dir, 'illum');
  await computeIllumination({ screen, out });
  const other = await tinyScreen(tempDir('illum-other-'), { Q7: 1 });
  await assert.rejects(loadIllumination(out, other), /belongs to another screen: plate Q7 is not among its 1 plates \(P1\)/);
  await assert.rejects(loadIllumination(out, { ...screen, channels: ['DNA', 'Tubulin'] }), /made for stains DNA, Actin.*no functions for stain Tubulin/);
  const bigger = await tinyScreen(tempDir('illum-bigger-'), { P1: 1 }, () => [64, 48]);
  await assert.rejects(loadIllumination(out, bigger), /Plate P1, stain DNA: image .* is 64x48 but the illumination functions .* are 40x30/);
  await assert.rejects(loadIllumination(path.join(dir, 'nowhere'), screen), /No illumination functions in .*nowhere/);
});

test('applyIllumination divides in place and checks sizes', () => {
  const img = Float32Array.of(2, 4, 9);
  assert.equal(applyIllumination(img, Float32Array.of(1, 2, 3)), img);
  assert.deepEqual(img, Float32Array.of(2, 2, 3));
  assert.throws(() => applyIllumination(img, new Float32Array(2)), /3 pixels but the illumination function has 2/);
});
