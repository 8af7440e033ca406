/**
 * OME-Zarr (OME-NGFF) images, local folders only: the metadata of an HCS plate, its wells and
 * fields (read as JSON, Zarr v2 `.zattrs` or v3 `zarr.json`, NGFF 0.4 or 0.5), and one channel of
 * a field at full resolution (read by zarrita: v2 and v3 arrays, its codecs). A chunk that is not
 * there is an error naming the well and field, not the fill value zarrita would give.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import FileSystemStore from '@zarrita/storage/fs';
import * as zarr from 'zarrita';
import { MorphoprofError } from '../errors.js';
import type { BitDepth, GreyImage } from './read.js';

type Json = Record<string, unknown>;

/** A group's attributes (v3 `zarr.json` attributes, else v2 `.zattrs`), NGFF 0.5's `ome` key unwrapped; null when there is no group. */
export async function readZarrAttrs(dir: string): Promise<Json | null> {
  const v3 = await readJson(path.join(dir, 'zarr.json'));
  let attrs: Json | null = null;
  if (v3) attrs = (v3.attributes as Json | undefined) ?? {};
  else {
    const v2 = await readJson(path.join(dir, '.zattrs'));
    if (v2) attrs = v2;
    else if (await readJson(path.join(dir, '.zgroup'))) attrs = {};
  }
  if (attrs && typeof attrs.ome === 'object' && attrs.ome !== null) return { ...attrs, ...(attrs.ome as Json) };
  return attrs;
}

async function readJson(file: string): Promise<Json | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return null;
  }
  try {
    return JSON.parse(text) as Json;
  } catch (err) {
    throw new MorphoprofError('BAD_IMAGE', `Cannot parse ${file} as JSON: ${(err as Error).message}`, 'The Zarr metadata file is corrupt: re-export or re-download the plate');
  }
}

export interface ZarrPlate {
  dir: string;
  /** `plate.name`, or the folder name without `.zarr` */
  name: string;
  /** wells as `<row>/<column>` paths, e.g. `B/3` */
  wells: Array<{ path: string; row: string; column: string }>;
}

/** An OME-NGFF HCS plate's layout, or an error naming the folder. */
export async function readZarrPlate(dir: string): Promise<ZarrPlate> {
  const attrs = await readZarrAttrs(dir);
  const plate = attrs?.plate as Json | undefined;
  if (!attrs || !plate || !Array.isArray(plate.wells)) {
    throw new MorphoprofError(
      'BAD_TABLE',
      `${dir} is not an OME-Zarr plate: ${attrs ? 'its attributes have no plate.wells' : 'no zarr.json, .zattrs or .zgroup'}`,
      'Give --images the .zarr folder of an OME-NGFF HCS plate (plate / row / column / field)',
    );
  }
  const rows = Array.isArray(plate.rows) ? (plate.rows as Json[]).map((r) => String(r.name)) : [];
  const columns = Array.isArray(plate.columns) ? (plate.columns as Json[]).map((c) => String(c.name)) : [];
  const wells = (plate.wells as Json[]).map((w) => {
    const p = String(w.path);
    const [r, c] = p.split('/');
    const row = typeof w.rowIndex === 'number' ? (rows[w.rowIndex] ?? r!) : r!;
    const column = typeof w.columnIndex === 'number' ? (columns[w.columnIndex] ?? c!) : c!;
    return { path: p, row, column };
  });
  const name = typeof plate.name === 'string' && plate.name !== '' ? plate.name : path.basename(dir).replace(/\.(ome\.)?zarr$/i, '');
  return { dir, name, wells };
}

/** The field (image) paths a well lists, e.g. `['0', '1']`; an error naming the well when it has no metadata. */
export async function readZarrWell(plateDir: string, wellPath: string): Promise<string[]> {
  const attrs = await readZarrAttrs(path.join(plateDir, wellPath));
  const well = attrs?.well as Json | undefined;
  if (!well || !Array.isArray(well.images)) {
    throw new MorphoprofError('BAD_IMAGE', `OME-Zarr plate ${plateDir}, well ${wellPath}: no well metadata (well.images)`, 'The well group is missing or incomplete: re-export the plate');
  }
  return (well.images as Json[]).map((i) => String(i.path));
}

interface FieldMeta {
  /** path of the full-resolution array, relative to the field */
  array: string;
  axes: string[];
  channels: string[];
}

const metaCache = new Map<string, FieldMeta>();
const META_CACHE = 256;

/** Where a field sits, for messages: `plate p1.zarr, well B/3, field 0`. */
function where(fieldDir: string): string {
  const parts = fieldDir.split(path.sep);
  const n = parts.length;
  return n >= 4 ? `OME-Zarr plate ${parts.slice(0, n - 3).join(path.sep)}, well ${parts[n - 3]}/${parts[n - 2]}, field ${parts[n - 1]}` : `OME-Zarr field ${fieldDir}`;
}

/** Multiscales and channel names of a field (cached). */
export async function readZarrField(fieldDir: string): Promise<FieldMeta> {
  const cached = metaCache.get(fieldDir);
  if (cached) return cached;
  const attrs = await readZarrAttrs(fieldDir);
  if (!attrs) {
    throw new MorphoprofError('FILE_NOT_FOUND', `${where(fieldDir)}: the field is missing (no zarr.json or .zattrs in ${fieldDir})`, 'The well lists a field the plate does not hold: re-export the plate');
  }
  const ms = (attrs.multiscales as Json[] | undefined)?.[0];
  const dataset = (ms?.datasets as Json[] | undefined)?.[0];
  if (!ms || !dataset) throw new MorphoprofError('BAD_IMAGE', `${where(fieldDir)}: no multiscales metadata`, 'The field is not an OME-NGFF image: re-export the plate');
  const axes = Array.isArray(ms.axes) ? (ms.axes as unknown[]).map((a) => String(typeof a === 'string' ? a : (a as Json).name).toLowerCase()) : ['t', 'c', 'z', 'y', 'x'];
  const omero = attrs.omero as Json | undefined;
  const channels = Array.isArray(omero?.channels) ? (omero.channels as Json[]).map((c, i) => (typeof c.label === 'string' && c.label !== '' ? c.label : `C${i}`)) : [];
  const meta = { array: String(dataset.path), axes, channels };
  if (metaCache.size >= META_CACHE) metaCache.delete(metaCache.keys().next().value as string);
  metaCache.set(fieldDir, meta);
  return meta;
}

/** A chunk the array's metadata implies but the store does not hold. */
class MissingChunk extends Error {
  constructor(readonly key: string) {
    super(`chunk ${key} missing`);
  }
}

/** A local store that refuses absent chunks (zarrita would give the fill value for them). */
function strictStore(root: string) {
  const fs = new FileSystemStore(root);
  const isMeta = (key: string) => /(^|\/)(zarr\.json|\.zarray|\.zattrs|\.zgroup|\.zmetadata)$/.test(key);
  return {
    async get(key: `/${string}`, opts?: Parameters<FileSystemStore['get']>[1]) {
      const v = await fs.get(key, opts);
      if (v === undefined && !isMeta(key)) throw new MissingChunk(key);
      return v;
    },
    async getRange(key: `/${string}`, range: Parameters<FileSystemStore['getRange']>[1], opts?: Parameters<FileSystemStore['getRange']>[2]) {
      const v = await fs.getRange(key, range, opts);
      if (v === undefined) throw new MissingChunk(key);
      return v;
    },
  };
}

type ZarrArray = zarr.Array<zarr.DataType, ReturnType<typeof strictStore>>;
/** Opened arrays (their metadata parsed once), by folder. */
const arrays = new Map<string, Promise<ZarrArray>>();
const ARRAY_CACHE = 64;

function openArray(dir: string): Promise<ZarrArray> {
  let arr = arrays.get(dir);
  if (!arr) {
    arr = zarr.open(strictStore(dir), { kind: 'array' });
    arr.catch(() => arrays.delete(dir));
    if (arrays.size >= ARRAY_CACHE) arrays.delete(arrays.keys().next().value as string);
    arrays.set(dir, arr);
  }
  return arr;
}

/**
 * One channel (by name) of a field at full resolution: the first time point and Z-plane, copied
 * chunk by chunk (rows at a time) into one plane.
 */
export async function readZarrPlane(fieldDir: string, channel: string): Promise<GreyImage> {
  const meta = await readZarrField(fieldDir);
  const names = meta.channels;
  let c = names.findIndex((n) => n === channel);
  if (c < 0) c = names.findIndex((n) => n.toLowerCase() === channel.toLowerCase());
  if (c < 0 && names.length === 0 && /^C\d+$/.test(channel)) c = Number(channel.slice(1));
  if (c < 0) {
    throw new MorphoprofError('BAD_IMAGE', `${where(fieldDir)}: no channel named '${channel}' (its channels: ${names.join(', ') || 'none named'})`, 'Channels are matched to stains by their omero label; check the plates were written with the same channel names');
  }
  const arrayDir = path.join(fieldDir, meta.array);
  let arr: ZarrArray;
  try {
    arr = await openArray(arrayDir);
  } catch (err) {
    throw new MorphoprofError('BAD_IMAGE', `${where(fieldDir)}: cannot open its array ${meta.array}: ${(err as Error).message}`, 'The field is incomplete or corrupt: re-export the plate', { cause: err });
  }
  const bitDepth: BitDepth | null = arr.dtype === 'uint16' ? 16 : arr.dtype === 'uint8' ? 8 : null;
  if (bitDepth === null) throw new MorphoprofError('BAD_IMAGE', `${where(fieldDir)}: pixel type ${arr.dtype} (morphoprof reads 8- and 16-bit unsigned images)`, 'Convert the plate to uint16 or uint8');
  const { shape, chunks } = arr;
  const axes = meta.axes.length === shape.length ? meta.axes : ['t', 'c', 'z', 'y', 'x'].slice(5 - shape.length);
  const [yAxis, xAxis, cAxis] = [axes.indexOf('y'), axes.indexOf('x'), axes.indexOf('c')];
  if (yAxis < 0 || xAxis < 0) throw new MorphoprofError('BAD_IMAGE', `${where(fieldDir)}: axes ${axes.join(', ')} have no y and x`, 'The field is not a 2D image per channel: re-export the plate');
  if (cAxis >= 0 ? c >= shape[cAxis]! : c > 0) throw new MorphoprofError('BAD_IMAGE', `${where(fieldDir)}: channel '${channel}' is number ${c} but the array has ${cAxis >= 0 ? shape[cAxis] : 1} channel(s)`, 'The omero metadata and the array disagree: re-export the plate');
  const [height, width] = [shape[yAxis]!, shape[xAxis]!];
  const [ch, cw] = [chunks[yAxis]!, chunks[xAxis]!];
  const out = bitDepth === 16 ? new Uint16Array(width * height) : new Uint8Array(width * height);
  // the chunk holding (t 0, channel c, z 0) and the position inside it
  const coords = axes.map((a, i) => (a === 'c' ? Math.floor(c / chunks[i]!) : 0));
  const inner = axes.map((a, i) => (a === 'c' ? c % chunks[i]! : 0));
  for (let cy = 0; cy * ch < height; cy++) {
    for (let cx = 0; cx * cw < width; cx++) {
      coords[yAxis] = cy;
      coords[xAxis] = cx;
      let chunk: { data: ArrayLike<number> & { subarray(a: number, b: number): ArrayLike<number> }; stride: number[] };
      try {
        chunk = (await arr.getChunk(coords)) as unknown as typeof chunk;
      } catch (err) {
        if (err instanceof MissingChunk) throw new MorphoprofError('BAD_IMAGE', `${where(fieldDir)}, channel ${channel}: chunk ${path.join(arrayDir, err.key)} is missing`, 'The plate is incomplete: re-copy or re-export it');
        throw new MorphoprofError('BAD_IMAGE', `${where(fieldDir)}, channel ${channel}: cannot read its pixels: ${(err as Error).message}`, 'A chunk is corrupt: re-export the plate', { cause: err });
      }
      const { data, stride } = chunk;
      const base = inner.reduce((sum, v, i) => sum + v * stride[i]!, 0);
      const rows = Math.min(ch, height - cy * ch);
      const cols = Math.min(cw, width - cx * cw);
      for (let r = 0; r < rows; r++) {
        const from = base + r * stride[yAxis]!;
        const to = (cy * ch + r) * width + cx * cw;
        if (stride[xAxis] === 1) out.set(data.subarray(from, from + cols) as Uint16Array, to);
        else for (let x = 0; x < cols; x++) out[to + x] = data[from + x * stride[xAxis]!]!;
      }
    }
  }
  return { width, height, bitDepth, data: out };
}
