/** Pages of multi-page TIFFs read in place, and OME-XML channel names mapped to pages. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { MorphoprofError } from '../../src/errors.js';
import { readImage } from '../../src/image/index.js';
import { parseOmeXml } from '../../src/image/ome.js';
import { formatImageRef, parseImageRef } from '../../src/image/source.js';
import { rawTiffPixels, tiffDescription, tiffPageCount } from '../../src/image/tiff.js';
import { tempDir } from '../helpers.js';
import { fieldPixels, multiPageTiff, omeXml } from './fixtures.js';

describe('multi-page TIFF pages', () => {
  const pages = [1, 2, 3].map((s) => fieldPixels(20, 10, s));
  const buf = multiPageTiff(pages, 20, 10, { description: 'hello' });

  it('the fast path reads page N in place; the page count and description are read from the IFDs', () => {
    assert.equal(tiffPageCount(buf), 3);
    assert.equal(tiffDescription(buf), 'hello');
    for (let p = 0; p < 3; p++) assert.deepEqual(rawTiffPixels(buf, p)!.data, pages[p]);
    assert.equal(rawTiffPixels(buf, 3), null);
    assert.equal(tiffPageCount(Buffer.from('not a tiff')), null);
  });

  it('a page of a multi-page TIFF without OME-XML cannot be found by a stain name: the message says to add Frame_<Channel>', async () => {
    const file = path.join(tempDir(), 'plain.tif');
    writeFileSync(file, buf);
    await assert.rejects(readImage(formatImageRef({ file, select: { kind: 'ome-channel', channel: 'DNA' } })), (e: unknown) => e instanceof MorphoprofError && /plain\.tif has no OME-XML channel names/.test(e.message) && /add a Frame_DNA column/.test(e.hint ?? ''));
    assert.deepEqual((await readImage(`${file}#page=1`)).data, pages[1]);
  });
});

describe('image references', () => {
  it('round-trip, and a file name holding a # is still a file', () => {
    for (const select of [{ kind: 'file' }, { kind: 'page', page: 4 }, { kind: 'ome-channel', channel: 'Mito Tracker#2' }, { kind: 'zarr', channel: 'DNA' }] as const) {
      const ref = { file: '/d/p1.zarr/A/1/0', select };
      assert.deepEqual(parseImageRef(formatImageRef(ref)), ref);
    }
    assert.deepEqual(parseImageRef('/d/plate#3/A01.tif'), { file: '/d/plate#3/A01.tif', select: { kind: 'file' } });
    assert.deepEqual(parseImageRef('/d/A01.tif#page=x'), { file: '/d/A01.tif#page=x', select: { kind: 'file' } });
  });
});

describe('OME-XML channels', () => {
  it('names in order; pages by DimensionOrder; TiffData wins', () => {
    const xyczt = parseOmeXml(omeXml(['DNA', 'ER', 'Mito'], 4, 4))!;
    assert.deepEqual(xyczt.names, ['DNA', 'ER', 'Mito']);
    assert.deepEqual([0, 1, 2].map(xyczt.pageOf), [0, 1, 2]);
    // Z before C, two planes each: channel c's first plane is page 2c
    const xyzct = parseOmeXml(omeXml(['DNA', 'ER'], 4, 4, 'XYZCT', 2))!;
    assert.deepEqual([0, 1].map(xyzct.pageOf), [0, 2]);
    const tiffData = parseOmeXml(
      '<ome:OME xmlns:ome="x"><ome:Image><ome:Pixels DimensionOrder="XYCZT" SizeC="2" SizeZ="1" SizeT="1"><ome:Channel Name="A&amp;B"/><ome:Channel Name="C"/>' +
        '<ome:TiffData IFD="5" FirstC="0" PlaneCount="1"/><ome:TiffData IFD="3" FirstC="1" PlaneCount="1"/></ome:Pixels></ome:Image></ome:OME>',
    )!;
    assert.deepEqual(tiffData.names, ['A&B', 'C']);
    assert.deepEqual([0, 1].map(tiffData.pageOf), [5, 3]);
    assert.equal(parseOmeXml('ImageJ=1.53t\nimages=3'), null);
  });
});
