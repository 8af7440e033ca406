/**
 * Writers of the files instruments and archives produce, for the tests: multi-page TIFF and
 * OME-TIFF (byte by byte, uncompressed or deflate), OME-Zarr HCS plates in Zarr v2 (JSON and raw
 * chunk files by hand) and v3 (groups by hand, arrays by zarrita), and a tiny ONNX network.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import FileSystemStore from '@zarrita/storage/fs';
import * as zarr from 'zarrita';
import { OnnxGraphBuilder } from '../../src/models/onnx-builder.js';

/**
 * A little-endian TIFF of 16-bit greyscale pages, one strip each, chained IFDs; the first page
 * carries `description` (ImageDescription, where OME-TIFF keeps its OME-XML).
 */
export function multiPageTiff(pages: Uint16Array[], width: number, height: number, opts: { description?: string; deflate?: boolean } = {}): Buffer {
  const chunks: Buffer[] = [Buffer.alloc(8)];
  let offset = 8;
  const put = (b: Buffer): number => {
    const at = offset + (offset % 2); // word-aligned
    if (at !== offset) chunks.push(Buffer.alloc(1));
    chunks.push(b);
    offset = at + b.length;
    return at;
  };
  const desc = opts.description !== undefined ? Buffer.from(`${opts.description}\0`, 'utf8') : null;
  const descAt = desc ? put(desc) : 0;
  const ifdOffsets: number[] = [];
  const patches: Array<{ at: number; next: number }> = [];
  pages.forEach((px, p) => {
    const raw = Buffer.from(px.buffer, px.byteOffset, px.byteLength);
    const data = opts.deflate ? deflateSync(raw) : Buffer.from(raw);
    const dataAt = put(data);
    const tags: Array<[number, number, number, number]> = [
      [256, 3, 1, width],
      [257, 3, 1, height],
      [258, 3, 1, 16],
      [259, 3, 1, opts.deflate ? 8 : 1],
      [262, 3, 1, 1],
      ...(p === 0 && desc ? ([[270, 2, desc.length, descAt]] as Array<[number, number, number, number]>) : []),
      [273, 4, 1, dataAt],
      [277, 3, 1, 1],
      [278, 3, 1, height],
      [279, 4, 1, data.length],
    ];
    const ifd = Buffer.alloc(2 + tags.length * 12 + 4);
    ifd.writeUInt16LE(tags.length, 0);
    tags.forEach(([tag, type, count, value], i) => {
      ifd.writeUInt16LE(tag, 2 + i * 12);
      ifd.writeUInt16LE(type, 4 + i * 12);
      ifd.writeUInt32LE(count, 6 + i * 12);
      if (type === 3) ifd.writeUInt16LE(value, 10 + i * 12);
      else ifd.writeUInt32LE(value, 10 + i * 12);
    });
    const at = put(ifd);
    ifdOffsets.push(at);
    patches.push({ at: at + 2 + tags.length * 12, next: 0 });
  });
  const out = Buffer.concat(chunks);
  out.write('II', 0, 'latin1');
  out.writeUInt16LE(42, 2);
  out.writeUInt32LE(ifdOffsets[0]!, 4);
  patches.forEach((pt, p) => out.writeUInt32LE(ifdOffsets[p + 1] ?? 0, pt.at));
  return out;
}

/** OME-XML naming the channels, planes in XYCZT order (one page per channel). */
export function omeXml(channels: string[], width: number, height: number, order = 'XYCZT', sizeZ = 1): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><Image ID="Image:0" Name="field">' +
    `<Pixels ID="Pixels:0" DimensionOrder="${order}" Type="uint16" SizeX="${width}" SizeY="${height}" SizeC="${channels.length}" SizeZ="${sizeZ}" SizeT="1">` +
    channels.map((c, i) => `<Channel ID="Channel:0:${i}" Name="${c}" SamplesPerPixel="1"/>`).join('') +
    '</Pixels></Image></OME>'
  );
}

export interface ZarrField {
  row: string;
  column: string;
  /** one plane per channel, height x width row-major */
  planes: Uint16Array[];
}

export interface ZarrPlateSpec {
  dir: string;
  name: string;
  channels: string[];
  width: number;
  height: number;
  /** wells' fields, in order: field k of a well is path `k` */
  wells: Array<{ row: string; column: string; fields: Uint16Array[][] }>;
  /** chunk rows (the planes are cut into chunks of this many rows) */
  chunkRows: number;
}

function json(file: string, value: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(value));
}

function plateAttrs(spec: ZarrPlateSpec, version: string) {
  const rows = [...new Set(spec.wells.map((w) => w.row))].sort();
  const columns = [...new Set(spec.wells.map((w) => w.column))].sort((a, b) => Number(a) - Number(b));
  return {
    plate: {
      version,
      name: spec.name,
      rows: rows.map((name) => ({ name })),
      columns: columns.map((name) => ({ name })),
      wells: spec.wells.map((w) => ({ path: `${w.row}/${w.column}`, rowIndex: rows.indexOf(w.row), columnIndex: columns.indexOf(w.column) })),
      field_count: Math.max(...spec.wells.map((w) => w.fields.length)),
    },
  };
}

function imageAttrs(spec: ZarrPlateSpec, version: string, axes: string[]) {
  const type = (a: string) => (a === 'c' ? 'channel' : a === 't' ? 'time' : 'space');
  return {
    multiscales: [{ version, axes: axes.map((name) => ({ name, type: type(name) })), datasets: [{ path: '0', coordinateTransformations: [{ type: 'scale', scale: axes.map(() => 1) }] }] }],
    omero: { channels: spec.channels.map((label) => ({ label, active: true, window: { start: 0, end: 65535, min: 0, max: 65535 } })) },
  };
}

/** An NGFF 0.4 plate in Zarr v2: axes c, y, x; raw (uncompressed) `/`-separated chunks. */
export function writeZarrPlateV2(spec: ZarrPlateSpec): void {
  const { dir, width, height, chunkRows } = spec;
  json(path.join(dir, '.zgroup'), { zarr_format: 2 });
  json(path.join(dir, '.zattrs'), plateAttrs(spec, '0.4'));
  for (const w of spec.wells) {
    json(path.join(dir, w.row, '.zgroup'), { zarr_format: 2 });
    const well = path.join(dir, w.row, w.column);
    json(path.join(well, '.zgroup'), { zarr_format: 2 });
    json(path.join(well, '.zattrs'), { well: { version: '0.4', images: w.fields.map((_, k) => ({ path: String(k) })) } });
    w.fields.forEach((planes, k) => {
      const field = path.join(well, String(k));
      json(path.join(field, '.zgroup'), { zarr_format: 2 });
      json(path.join(field, '.zattrs'), imageAttrs(spec, '0.4', ['c', 'y', 'x']));
      const arr = path.join(field, '0');
      json(path.join(arr, '.zarray'), {
        zarr_format: 2, shape: [planes.length, height, width], chunks: [1, chunkRows, width], dtype: '<u2',
        compressor: null, fill_value: 0, order: 'C', filters: null, dimension_separator: '/',
      });
      planes.forEach((plane, c) => {
        for (let y0 = 0, cy = 0; y0 < height; y0 += chunkRows, cy++) {
          // a chunk is always full size: the edge chunk is padded
          const chunk = new Uint16Array(chunkRows * width);
          chunk.set(plane.subarray(y0 * width, Math.min(height, y0 + chunkRows) * width));
          const file = path.join(arr, String(c), String(cy), '0');
          mkdirSync(path.dirname(file), { recursive: true });
          writeFileSync(file, Buffer.from(chunk.buffer));
        }
      });
    });
  }
}

/** An NGFF 0.5 plate in Zarr v3: axes t, c, z, y, x; arrays written by zarrita (its default codecs). */
export async function writeZarrPlateV3(spec: ZarrPlateSpec): Promise<void> {
  const { dir, width, height, chunkRows } = spec;
  const group = (p: string, attributes: object = {}) => json(path.join(p, 'zarr.json'), { zarr_format: 3, node_type: 'group', attributes });
  group(dir, { ome: { version: '0.5', ...plateAttrs(spec, '0.5') } });
  const store = new FileSystemStore(dir);
  for (const w of spec.wells) {
    group(path.join(dir, w.row));
    group(path.join(dir, w.row, w.column), { ome: { version: '0.5', well: { images: w.fields.map((_, k) => ({ path: String(k) })) } } });
    for (const [k, planes] of w.fields.entries()) {
      const fieldPath = `${w.row}/${w.column}/${k}`;
      group(path.join(dir, fieldPath), { ome: { version: '0.5', ...imageAttrs(spec, '0.5', ['t', 'c', 'z', 'y', 'x']) } });
      const arr = await zarr.create(zarr.root(store).resolve(`${fieldPath}/0`), {
        shape: [1, planes.length, 1, height, width], chunkShape: [1, 1, 1, chunkRows, width], dtype: 'uint16', dimensionNames: ['t', 'c', 'z', 'y', 'x'],
      });
      const data = new Uint16Array(planes.length * height * width);
      planes.forEach((p, c) => data.set(p, c * height * width));
      await zarr.set(arr, null, { data, shape: [1, planes.length, 1, height, width], stride: [planes.length * height * width, height * width, height * width, width, 1] });
    }
  }
}

/** input [N, 3, size, size] -> Conv 3x3 (8 filters) -> Relu -> GAP -> features [N, 8]: a network that costs nothing. */
export function tinyModel(file: string, size: number): string {
  const g = new OnnxGraphBuilder();
  let s = 7;
  const rand = (n: number, lo: number, hi: number) =>
    Float32Array.from({ length: n }, () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return lo + ((hi - lo) * s) / 2 ** 32;
    });
  const w = g.float('w', [8, 3, 3, 3], rand(8 * 27, -0.5, 0.5));
  const b = g.float('b', [8], rand(8, -0.1, 0.1));
  g.node('Conv', ['image', w, b], 'conv', { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
  g.node('Relu', ['conv'], 'map');
  g.node('GlobalAveragePool', ['map'], 'pooled');
  g.node('Flatten', ['pooled'], 'features', { axis: 1 });
  writeFileSync(file, g.toBytes({ name: 'tiny', inputs: [{ name: 'image', dims: [null, 3, size, size] }], outputs: [{ name: 'features', dims: [null, 8] }] }));
  return file;
}

/** A field's stain as pixels with structure (blobs on a gradient), different per field and stain. */
export function fieldPixels(width: number, height: number, seed: number): Uint16Array {
  const out = new Uint16Array(width * height);
  let s = seed * 2654435761 >>> 0;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const blobs = Array.from({ length: 6 }, () => ({ x: rnd() * width, y: rnd() * height, r: 3 + rnd() * 8, v: 2000 + rnd() * 30000 }));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let v = 300 + 20 * x + 10 * y + rnd() * 200;
      for (const b of blobs) if ((x - b.x) ** 2 + (y - b.y) ** 2 < b.r ** 2) v += b.v;
      out[y * width + x] = Math.min(65535, Math.round(v));
    }
  }
  return out;
}
