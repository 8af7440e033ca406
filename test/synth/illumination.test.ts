import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import sharp from 'sharp';
import { synthesizeScreen } from '../../src/synth/index.js';
import { tempDir } from '../helpers.js';

test('uneven illumination: the DMSO DNA images of a plate (median per pixel) are brighter at its illumination centre than at the far corner', async (t) => {
  const W = 256;
  const H = 208;
  const r = await synthesizeScreen({ out: tempDir('synth-illum-'), seed: 5, plates: 2, width: W, height: H, sites: 3, controls: 6, doses: 1 });
  const rows = parse(readFileSync(r.imageTable), { columns: true }) as Array<Record<string, string>>;
  const manifest = JSON.parse(readFileSync(r.manifest, 'utf8'));
  for (const plate of manifest.plates) {
    const dmso = rows.filter((row) => row.Image_Metadata_Plate_DAPI === plate.plate && row.Image_Metadata_Compound === 'DMSO');
    assert.equal(dmso.length, 18);
    // per-pixel median over the plate's DMSO fields: the illuminated background, nuclei removed
    const stack: Uint16Array[] = [];
    for (const row of dmso) {
      const file = path.join(r.imagesRoot, row.Image_PathName_DAPI as string, row.Image_FileName_DAPI as string);
      const { data } = await sharp(file).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
      stack.push(new Uint16Array(data.buffer, data.byteOffset, data.length / 2));
    }
    const mean = new Float64Array(W * H);
    const values = new Float64Array(stack.length);
    for (let i = 0; i < mean.length; i++) {
      for (let k = 0; k < stack.length; k++) values[k] = (stack[k] as Uint16Array)[i] as number;
      values.sort();
      mean[i] = ((values[(stack.length - 1) >> 1] as number) + (values[stack.length >> 1] as number)) / 2;
    }
    const [cx, cy] = plate.optics.DAPI.centre as [number, number];
    const fx = cx < W / 2 ? W - 1 : 0;
    const fy = cy < H / 2 ? H - 1 : 0;
    const region = (x: number, y: number): number => {
      const half = 24;
      let s = 0;
      let n = 0;
      for (let yy = Math.max(0, Math.round(y) - half); yy < Math.min(H, Math.round(y) + half); yy++) {
        for (let xx = Math.max(0, Math.round(x) - half); xx < Math.min(W, Math.round(x) + half); xx++) {
          s += mean[yy * W + xx] as number;
          n++;
        }
      }
      return s / n;
    };
    const centre = region(cx, cy);
    const corner = region(fx, fy);
    t.diagnostic(`${plate.plate}: centre ${centre.toFixed(0)}, far corner ${corner.toFixed(0)}`);
    assert.ok(centre > 1.1 * corner, `${plate.plate}: centre ${centre.toFixed(0)} vs far corner ${corner.toFixed(0)}`);
  }
});
