import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { readPlanes, type PlanePool } from '../../src/cells/read.js';

/** A 16-bit TIFF of a ramp (pixel i = (i * step) mod 65536), for reading back. */
async function ramp(file: string, width: number, height: number, step: number): Promise<void> {
  const px = new Uint16Array(width * height);
  for (let i = 0; i < px.length; i++) px[i] = (i * step) % 65536;
  await sharp(px, { raw: { width, height, channels: 1 } }).toColourspace('grey16').tiff({ compression: 'none' }).toFile(file);
}

test('readPlanes with a pool: the same planes as fresh ones, in buffers reused field after field', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'morphoprof-read-'));
  try {
    const files = { a: path.join(dir, 'a.tif'), b: path.join(dir, 'b.tif'), c: path.join(dir, 'c.tif'), small: path.join(dir, 'small.tif') };
    await ramp(files.a, 40, 30, 97);
    await ramp(files.b, 40, 30, 331);
    await ramp(files.c, 40, 30, 7);
    await ramp(files.small, 20, 10, 13);
    const pool: PlanePool = new Map();
    const first = await readPlanes({ plate: 'P1', images: { DAPI: files.a, Actin: files.b } }, ['DAPI', 'Actin'], null, pool);
    const dapi = first.DAPI!.data;
    assert.equal(dapi[5], Math.fround(5 * 97 * (1 / 65535)), 'scaled 0..1 by the bit depth');
    // the second field overwrites every pixel of the first field's buffers
    const second = await readPlanes({ plate: 'P1', images: { DAPI: files.c, Actin: files.a } }, ['DAPI', 'Actin'], null, pool);
    assert.equal(second.DAPI!.data, dapi, 'the DAPI plane is the pooled buffer');
    const fresh = await readPlanes({ plate: 'P1', images: { DAPI: files.c, Actin: files.a } }, ['DAPI', 'Actin'], null);
    assert.notEqual(fresh.DAPI!.data, dapi);
    assert.deepEqual(second.DAPI!.data, fresh.DAPI!.data);
    assert.deepEqual(second.Actin!.data, fresh.Actin!.data);
    // a field of another size gets new buffers of its size
    const small = await readPlanes({ plate: 'P1', images: { DAPI: files.small } }, ['DAPI'], null, pool);
    assert.equal(small.DAPI!.data.length, 200);
    assert.deepEqual(small.DAPI!.data, (await readPlanes({ plate: 'P1', images: { DAPI: files.small } }, ['DAPI'], null)).DAPI!.data);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
