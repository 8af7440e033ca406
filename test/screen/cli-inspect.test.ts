import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { cliPath, sharedData, skipMessage, tempDir } from '../helpers.js';

const run = promisify(execFile);
const cli = (...args: string[]) => run(process.execPath, [cliPath, ...args], { maxBuffer: 64 * 1024 * 1024 });

describe('morphoprof inspect (CLI)', () => {
  it('inspect <image> --json: exactly width, height, bitDepth, compression, min, max, mean', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'tiny.tif');
    const data = Uint16Array.from({ length: 12 }, (_, i) => 1000 * i + 7);
    await sharp(data, { raw: { width: 4, height: 3, channels: 1 } }).toColourspace('grey16').tiff({ compression: 'lzw' }).toFile(file);
    const { stdout } = await cli('inspect', file, '--json');
    const r = JSON.parse(stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(r).sort(), ['bitDepth', 'compression', 'height', 'max', 'mean', 'min', 'width']);
    const mean = data.reduce((a, b) => a + b, 0) / data.length;
    assert.deepEqual(r, { width: 4, height: 3, bitDepth: 16, compression: 'lzw', min: 7, max: 11007, mean });
    const text = await cli('inspect', file);
    assert.match(text.stdout, /compression\s+lzw/);
  });

  it('a missing image file exits 1 with a message naming it', async () => {
    const missing = path.join(tempDir(), 'nope.tif');
    await assert.rejects(cli('inspect', missing), (e: { code?: number; stderr?: string }) => e.code === 1 && !!e.stderr?.includes(missing));
  });

  it('inspect --metadata --images --json on a tiny LoadData table', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'a.tif'), '');
    const metadata = path.join(dir, 'ld.csv');
    writeFileSync(
      metadata,
      'Metadata_Plate,Metadata_Well,Metadata_Site,FileName_DNA,PathName_DNA,Metadata_Compound,Metadata_Concentration\nP1,A1,1,a.tif,.,DMSO,0\nP1,A2,1,b.tif,.,taxol,1\n,A3,1,c.tif,.,taxol,1\n',
    );
    const { stdout } = await cli('inspect', '--metadata', metadata, '--images', dir, '--json');
    const s = JSON.parse(stdout);
    assert.equal(s.fields, 2);
    assert.equal(s.files.present, 1);
    assert.deepEqual(s.files.missingFiles, [path.join(dir, 'b.tif')]);
    assert.equal(s.problems.length, 1);
    assert.equal(s.problems[0].row, 3);
    const text = await cli('inspect', '--metadata', metadata, '--images', dir);
    assert.match(text.stdout, /1 of 2 present, 1 missing/);
    assert.match(text.stdout, /row 3: empty plate/);
  });

  it('inspect on the real BBBC021 tables reports the files of images/INDEX.csv as present', async (t) => {
    const meta = sharedData('bbbc021', 'metadata');
    const images = sharedData('bbbc021', 'images');
    if (!meta || !images) return t.skip(skipMessage('bbbc021/metadata, bbbc021/images'));
    const { stdout } = await cli('inspect', '--metadata', path.join(meta, 'BBBC021_v1_image.csv'), '--images', images, '--moa', path.join(meta, 'BBBC021_v1_moa.csv'), '--json');
    const s = JSON.parse(stdout);
    assert.equal(s.plates.count, 55);
    const indexed = readFileSync(path.join(images, 'INDEX.csv'), 'utf8').trim().split('\n').length - 1;
    assert.equal(s.files.present, indexed);
    assert.equal(s.files.missingFiles.length, 39600 - indexed);
  });
});
