import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import sharp, { type Sharp } from 'sharp';
import UTIF from 'utif2';
import { MorphoprofError } from '../../src/errors.js';
import { areaResize, inspectImage, readImage, readImageResized } from '../../src/image/index.js';
import { sharedData, skipMessage, tempDir } from '../helpers.js';

/** A deterministic 16-bit test pattern that uses the full range, including 0, 255, 256 and 65535. */
function pattern16(width: number, height: number): Uint16Array {
  const a = new Uint16Array(width * height);
  let x = 12345;
  for (let i = 0; i < a.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    a[i] = x >>> 16;
  }
  a.set([0, 65535, 255, 256, 1, 65534]);
  return a;
}

async function writeGrey16(file: string, data: Uint16Array, width: number, height: number, out: (s: Sharp) => Sharp) {
  await out(sharp(data, { raw: { width, height, channels: 1 } }).toColourspace('grey16')).toFile(file);
}

/** Pixels decoded by utif2, an independent (pure JS) TIFF decoder, as host-order values. */
function utifPixels(file: string): { width: number; height: number; values: Uint8Array | Uint16Array } {
  const buf = readFileSync(file);
  const [ifd] = UTIF.decode(buf);
  UTIF.decodeImage(buf, ifd!);
  const bits = Number((ifd!['t258'] as number[])[0]);
  const bytes = ifd!.data;
  const values = bits === 16 ? new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2) : bytes;
  return { width: ifd!.width, height: ifd!.height, values };
}

/**
 * A minimal uncompressed 32-bit float greyscale TIFF, written byte by byte: sharp always converts
 * float output to 8 or 16 bits, and a float file is what we need to see refused.
 */
function floatTiff(width: number, height: number): Buffer {
  const tags: [number, number, number][] = [
    // [tag, type (3 SHORT, 4 LONG), value]
    [256, 4, width],
    [257, 4, height],
    [258, 3, 32],
    [259, 3, 1],
    [262, 3, 1],
    [273, 4, 0], // strip offset, patched below
    [277, 3, 1],
    [278, 4, height],
    [279, 4, width * height * 4],
    [339, 3, 3], // SampleFormat IEEE float
  ];
  const ifdSize = 2 + tags.length * 12 + 4;
  const buf = Buffer.alloc(8 + ifdSize + width * height * 4);
  buf.write('II*\0', 0, 'latin1');
  buf.writeUInt32LE(8, 4);
  buf.writeUInt16LE(tags.length, 8);
  tags.forEach(([tag, type, value], i) => {
    const o = 10 + i * 12;
    buf.writeUInt16LE(tag, o);
    buf.writeUInt16LE(type, o + 2);
    buf.writeUInt32LE(1, o + 4);
    const v = tag === 273 ? 8 + ifdSize : value;
    if (type === 3) buf.writeUInt16LE(v, o + 8);
    else buf.writeUInt32LE(v, o + 8);
  });
  for (let i = 0; i < width * height; i++) buf.writeFloatLE(i / 7, 8 + ifdSize + i * 4);
  return buf;
}

describe('readImage on tiny images written by sharp', () => {
  const dir = tempDir();
  const [w, h] = [37, 23];
  const data = pattern16(w, h);

  for (const compression of ['none', 'lzw', 'deflate', 'packbits'] as const) {
    it(`16-bit greyscale TIFF, ${compression}: exact values and compression reported`, async () => {
      const file = path.join(dir, `g16-${compression}.tif`);
      await writeGrey16(file, data, w, h, (s) => s.tiff({ compression }));
      const img = await readImage(file);
      assert.equal(img.bitDepth, 16);
      assert.deepEqual([img.width, img.height], [w, h]);
      assert.ok(img.data instanceof Uint16Array);
      assert.deepEqual(Array.from(img.data), Array.from(data));
      const info = await inspectImage(file);
      assert.equal(info.compression, compression);
      assert.equal(info.min, 0);
      assert.equal(info.max, 65535);
    });
  }

  it('16-bit TIFF with a horizontal predictor (lzw): exact', async () => {
    const file = path.join(dir, 'g16-lzw-pred.tif');
    await writeGrey16(file, data, w, h, (s) => s.tiff({ compression: 'lzw', predictor: 'horizontal' }));
    assert.deepEqual(Array.from((await readImage(file)).data), Array.from(data));
  });

  it('16-bit PNG: exact values, compression png', async () => {
    const file = path.join(dir, 'g16.png');
    await writeGrey16(file, data, w, h, (s) => s.png());
    const img = await readImage(file);
    assert.equal(img.bitDepth, 16);
    assert.deepEqual(Array.from(img.data), Array.from(data));
    assert.equal((await inspectImage(file)).compression, 'png');
  });

  it('8-bit greyscale TIFF and PNG: exact values as Uint8Array', async () => {
    const bytes = Uint8Array.from(data, (v) => v >> 8);
    for (const name of ['g8.tif', 'g8.png']) {
      const file = path.join(dir, name);
      // (sharp's TIFF default is lossy JPEG compression: always say which)
      const s = sharp(bytes, { raw: { width: w, height: h, channels: 1 } }).toColourspace('b-w');
      await (name.endsWith('.tif') ? s.tiff({ compression: 'lzw' }) : s.png()).toFile(file);
      const img = await readImage(file);
      assert.equal(img.bitDepth, 8);
      assert.ok(img.data instanceof Uint8Array);
      assert.deepEqual(Array.from(img.data), Array.from(bytes));
    }
  });

  it('RGB with identical channels is read as one channel; differing channels are an error naming the file', async () => {
    const bytes = Uint8Array.from(data, (v) => v & 0xff);
    const rgb = new Uint8Array(bytes.length * 3);
    bytes.forEach((v, i) => rgb.set([v, v, v], i * 3));
    const same = path.join(dir, 'rgb-same.png');
    await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png().toFile(same);
    assert.deepEqual(Array.from((await readImage(same)).data), Array.from(bytes));
    const resized = await readImageResized(same, 5, 4);
    assert.equal(resized.data.length, 20);

    rgb[4] = (rgb[4]! + 1) % 256;
    const differ = path.join(dir, 'rgb-differ.png');
    await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png().toFile(differ);
    await assert.rejects(readImage(differ), (e: unknown) => e instanceof MorphoprofError && e.code === 'BAD_IMAGE' && e.message.includes(differ) && /channels/.test(e.message));
  });

  it('errors: missing file, corrupt file, unsupported bit depth each name the file', async () => {
    const missing = path.join(dir, 'nope.tif');
    await assert.rejects(readImage(missing), (e: unknown) => e instanceof MorphoprofError && e.code === 'FILE_NOT_FOUND' && e.message.includes(missing) && !!e.hint);
    await assert.rejects(readImageResized(missing, 4, 4), (e: unknown) => e instanceof MorphoprofError && e.code === 'FILE_NOT_FOUND');

    const corrupt = path.join(dir, 'corrupt.tif');
    writeFileSync(corrupt, Buffer.concat([Buffer.from('II*\0'), Buffer.alloc(200, 7)]));
    await assert.rejects(readImage(corrupt), (e: unknown) => e instanceof MorphoprofError && e.code === 'BAD_IMAGE' && e.message.includes(corrupt) && !!e.hint);
    await assert.rejects(inspectImage(corrupt), (e: unknown) => e instanceof MorphoprofError && e.message.includes(corrupt));

    const float = path.join(dir, 'float.tif');
    writeFileSync(float, floatTiff(4, 4));
    await assert.rejects(readImage(float), (e: unknown) => e instanceof MorphoprofError && e.code === 'BAD_IMAGE' && e.message.includes(float) && /8- and 16-bit/.test(e.message));
  });
});

describe('readImageResized', () => {
  const dir = tempDir();

  it('keeps 16-bit units: a constant field stays at its value', async () => {
    const file = path.join(dir, 'const.tif');
    await writeGrey16(file, new Uint16Array(64 * 48).fill(40000), 64, 48, (s) => s.tiff({ compression: 'none' }));
    const r = await readImageResized(file, 16, 16);
    assert.deepEqual([r.width, r.height, r.srcWidth, r.srcHeight, r.bitDepth], [16, 16, 64, 48, 16]);
    assert.ok(r.data instanceof Float32Array);
    for (const v of r.data) assert.equal(v, 40000);
  });

  it('squashes the whole field (aspect not kept) and averages areas', async () => {
    // left half 1000, right half 50000: every output pixel is one of them, except near the edge
    const [w, h] = [80, 20];
    const src = new Uint16Array(w * h).map((_, i) => (i % w < w / 2 ? 1000 : 50000));
    const file = path.join(dir, 'halves.tif');
    await writeGrey16(file, src, w, h, (s) => s.tiff({ compression: 'deflate' }));
    const r = await readImageResized(file, 8, 10);
    assert.equal(r.data.length, 80);
    for (let y = 0; y < 10; y++) {
      assert.equal(r.data[y * 8], 1000);
      assert.equal(r.data[y * 8 + 7], 50000);
    }
    const mean = r.data.reduce((a, b) => a + b, 0) / r.data.length;
    assert.ok(Math.abs(mean - 25500) < 255, `mean ${mean}`);
  });

  it('areaResize: each output pixel is the mean of the source area it covers', () => {
    // 2x2 blocks
    assert.deepEqual(Array.from(areaResize([1, 2, 3, 4, 5, 6, 7, 8], 4, 2, 2, 1)), [3.5, 5.5]);
    // 3 -> 2: output 0 covers source [0, 1.5), output 1 covers [1.5, 3)
    const r = areaResize([1, 2, 3], 3, 1, 2, 1);
    assert.ok(Math.abs(r[0]! - (1 + 0.5 * 2) / 1.5) < 1e-6 && Math.abs(r[1]! - (0.5 * 2 + 3) / 1.5) < 1e-6, String(r));
    // upsampling repeats values
    assert.deepEqual(Array.from(areaResize([10, 20], 2, 1, 4, 2)), [10, 10, 20, 20, 10, 10, 20, 20]);
  });

  it('rejects a non-integer size', async () => {
    await assert.rejects(readImageResized(path.join(dir, 'const.tif'), 0, 10), (e: unknown) => e instanceof MorphoprofError && e.code === 'BAD_ARGUMENT');
  });
});

describe('real TIFFs', () => {
  it('BBBC021 fields: size, bit depth, compression and min/max/mean match images/INDEX.csv', async (t) => {
    const root = sharedData('bbbc021', 'images');
    if (!root) return t.skip(skipMessage('bbbc021/images'));
    const index = parse(readFileSync(path.join(root, 'INDEX.csv')), { columns: true }) as Record<string, string>[];
    assert.ok(index.length > 0);
    for (const row of index) {
      const file = path.join(root, '..', row['path']!);
      const info = await inspectImage(file);
      assert.deepEqual([info.width, info.height], [Number(row['width']), Number(row['height'])], file);
      assert.equal(info.bitDepth, row['dtype'] === 'uint16' ? 16 : 8, file);
      assert.equal(info.compression, 'none', file);
      assert.equal(info.min, Number(row['min']), file);
      assert.equal(info.max, Number(row['max']), file);
      assert.ok(Math.abs(info.mean - Number(row['mean'])) <= 0.05, `${file}: mean ${info.mean} vs ${row['mean']}`);
    }
    // the embedding path: downsampled, same units; an area average keeps the image mean
    const first = path.join(root, '..', index[0]!['path']!);
    const r = await readImageResized(first, 224, 224);
    assert.equal(r.data.length, 224 * 224);
    const mean = r.data.reduce((a, b) => a + b, 0) / r.data.length;
    assert.ok(Math.abs(mean - Number(index[0]!['mean'])) <= 0.05, `resized mean ${mean}`);
  });

  it('BBBC022 16-bit big-endian TIFF: same values as utif2 decodes', async (t) => {
    const dir = sharedData('more-tiffs');
    if (!dir) return t.skip(skipMessage('more-tiffs'));
    const file = path.join(dir, 'bbbc022_IXMtest_A09_s1_w1CE70AD49-290D-4312-82E6-CDC717F32637.tif');
    assert.equal(readFileSync(file).subarray(0, 2).toString('latin1'), 'MM');
    const img = await readImage(file);
    const ref = utifPixels(file);
    assert.equal(img.bitDepth, 16);
    assert.deepEqual([img.width, img.height], [ref.width, ref.height]);
    assert.deepEqual(img.data, ref.values);
  });

  it('8-bit fly images and PackBits ExampleHuman images: same values as utif2, compression from tag 259', async (t) => {
    const fly = sharedData('more-tiffs', 'cellprofiler-examplefly');
    const human = sharedData('cellprofiler-examplehuman');
    if (!fly || !human) return t.skip(skipMessage('more-tiffs/cellprofiler-examplefly, cellprofiler-examplehuman'));
    const cases: [string, string][] = [
      [path.join(fly, '01_POS002_D.TIF'), 'none'],
      [path.join(human, 'AS_09125_050116030001_D03f00d0.tif'), 'packbits'],
      [path.join(human, 'AS_09125_050116030001_D03f00d1.tif'), 'packbits'],
      [path.join(human, 'AS_09125_050116030001_D03f00d2.tif'), 'none'],
    ];
    for (const [file, compression] of cases) {
      const info = await inspectImage(file);
      assert.equal(info.bitDepth, 8, file);
      assert.equal(info.compression, compression, file);
      const img = await readImage(file);
      assert.deepEqual(img.data, utifPixels(file).values, file);
    }
  });
});
