import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { MorphoprofError } from '../../src/errors.js';
import { readImage, readImageResized } from '../../src/image/index.js';
import { decodeImage } from '../../src/image/read.js';
import { rawTiffPixels } from '../../src/image/tiff.js';
import { sharedData, skipMessage, tempDir } from '../helpers.js';

/**
 * An uncompressed 16-bit TIFF written byte by byte, with its strips stored in reverse order and in
 * either byte order: the layouts sharp never writes but other software does.
 */
function stripTiff(width: number, height: number, values: Uint16Array, bigEndian: boolean, rowsPerStrip: number): Buffer {
  const strips = Math.ceil(height / rowsPerStrip);
  const tags: [number, number, number[]][] = [
    [256, 3, [width]],
    [257, 3, [height]],
    [258, 3, [16]],
    [259, 3, [1]],
    [262, 3, [1]],
    [273, 4, new Array<number>(strips).fill(0)],
    [277, 3, [1]],
    [278, 3, [rowsPerStrip]],
    [279, 4, Array.from({ length: strips }, (_, s) => Math.min(rowsPerStrip, height - s * rowsPerStrip) * width * 2)],
  ];
  const ifdSize = 2 + tags.length * 12 + 4;
  const arrays = tags.filter(([, , v]) => v.length > 1).reduce((n, [, , v]) => n + v.length * 4, 0);
  const dataStart = 8 + ifdSize + arrays;
  const buf = Buffer.alloc(dataStart + width * height * 2 + 1); // +1: pixel data at an odd offset
  const u16 = (v: number, o: number) => (bigEndian ? buf.writeUInt16BE(v, o) : buf.writeUInt16LE(v, o));
  const u32 = (v: number, o: number) => (bigEndian ? buf.writeUInt32BE(v, o) : buf.writeUInt32LE(v, o));
  buf.write(bigEndian ? 'MM' : 'II', 0, 'latin1');
  u16(42, 2);
  u32(8, 4);
  u16(tags.length, 8);
  // strips written last-first, starting one byte into the data area
  const offsets = Array.from({ length: strips }, (_, s) => dataStart + 1 + (height * width * 2 - (s + 1) * rowsPerStrip * width * 2 + Math.max(0, (s + 1) * rowsPerStrip - height) * width * 2));
  let extra = 8 + ifdSize;
  tags.forEach(([tag, type, v], i) => {
    const o = 10 + i * 12;
    const values = tag === 273 ? offsets : v;
    u16(tag, o);
    u16(type, o + 2);
    u32(values.length, o + 4);
    if (values.length === 1) {
      if (type === 3) u16(values[0]!, o + 8);
      else u32(values[0]!, o + 8);
    } else {
      u32(extra, o + 8);
      values.forEach((x, k) => u32(x, extra + 4 * k));
      extra += values.length * 4;
    }
  });
  for (let s = 0; s < strips; s++) {
    for (let r = s * rowsPerStrip; r < Math.min(height, (s + 1) * rowsPerStrip); r++) {
      for (let x = 0; x < width; x++) u16(values[r * width + x]!, offsets[s]! + ((r - s * rowsPerStrip) * width + x) * 2);
    }
  }
  return buf;
}

function pattern(width: number, height: number): Uint16Array {
  return Uint16Array.from({ length: width * height }, (_, i) => (i * 40503 + 17) % 65536);
}

describe('uncompressed TIFFs read straight from the file', () => {
  const dir = tempDir();

  it('reverse-ordered strips at an odd offset, either byte order: same pixels as libvips', async () => {
    const [w, h] = [29, 19];
    const values = pattern(w, h);
    for (const bigEndian of [false, true]) {
      const buf = stripTiff(w, h, values, bigEndian, 4);
      const raw = rawTiffPixels(buf);
      assert.ok(raw, 'a plain strip TIFF takes the fast path');
      assert.deepEqual(Array.from(raw.data), Array.from(values));
      const file = path.join(dir, `strips-${bigEndian ? 'be' : 'le'}.tif`);
      writeFileSync(file, buf);
      const vips = await decodeImage(file, file);
      assert.deepEqual(Array.from(vips.data), Array.from(values), 'libvips agrees with the file written here');
      const resized = await readImageResized(file, 5, 3);
      assert.equal(resized.srcWidth, w);
    }
  });

  it('compressed, multi-sample and truncated files are left to libvips (a truncated one is an error naming it)', async () => {
    const [w, h] = [40, 30];
    const values = pattern(w, h);
    const plain = path.join(dir, 'plain.tif');
    const lzw = path.join(dir, 'lzw.tif');
    const rgb = path.join(dir, 'rgb.tif');
    await sharp(values, { raw: { width: w, height: h, channels: 1 } }).toColourspace('grey16').tiff({ compression: 'none' }).toFile(plain);
    await sharp(values, { raw: { width: w, height: h, channels: 1 } }).toColourspace('grey16').tiff({ compression: 'lzw' }).toFile(lzw);
    await sharp(Buffer.alloc(w * h * 3, 7), { raw: { width: w, height: h, channels: 3 } }).tiff({ compression: 'none' }).toFile(rgb);
    assert.ok(rawTiffPixels(readFileSync(plain)));
    assert.equal(rawTiffPixels(readFileSync(lzw)), null);
    assert.equal(rawTiffPixels(readFileSync(rgb)), null);
    assert.deepEqual(Array.from((await readImage(lzw)).data), Array.from(values));
    const cut = path.join(dir, 'cut.tif');
    const bytes = readFileSync(plain);
    writeFileSync(cut, bytes.subarray(0, bytes.length - 100));
    assert.equal(rawTiffPixels(readFileSync(cut)), null);
    for (const read of [() => readImage(cut), () => readImageResized(cut, 4, 4)]) {
      await assert.rejects(read(), (err: unknown) => err instanceof MorphoprofError && err.code === 'BAD_IMAGE' && err.message.includes(cut));
    }
  });

  it('every real TIFF in ../shared/data: the fast path gives what libvips decodes', async (t) => {
    const root = sharedData();
    if (!root) return t.skip(skipMessage(''));
    const files: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d)) {
        const p = path.join(d, e);
        if (statSync(p).isDirectory()) walk(p);
        else if (/\.tiff?$/i.test(e)) files.push(p);
      }
    };
    walk(root);
    let fast = 0;
    for (const file of files) {
      const raw = rawTiffPixels(readFileSync(file));
      if (!raw) continue;
      fast++;
      const vips = await decodeImage(file, file);
      assert.equal(raw.width, vips.width, file);
      assert.equal(raw.bitDepth, vips.bitDepth, file);
      assert.ok(Buffer.from(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength).equals(Buffer.from(vips.data.buffer, vips.data.byteOffset, vips.data.byteLength)), file);
    }
    assert.ok(fast >= 6, `the BBBC021 fields are plain strip TIFFs (${fast} of ${files.length} took the fast path)`);
  });
});
