/**
 * A screen from OME-Zarr HCS plates (OME-NGFF: plate / row / column / field, channels named in
 * `omero`) and a platemap table (plate, well, compound, concentration): each platemap row stands
 * for every field of its well. Stains are the plates' channel labels; each field's stain image
 * is an image reference to a channel of the field's array (read by src/image/zarr.ts).
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage, MorphoprofError } from '../errors.js';
import { formatImageRef } from '../image/source.js';
import { readZarrAttrs, readZarrField, readZarrPlate, readZarrWell, type ZarrPlate } from '../image/zarr.js';
import type { Problem } from './load.js';
import type { Field } from './types.js';
import { wellFromRowColumn } from './wells.js';

/** A platemap row, shaped as a field without images or site. */
export type PlateRow = Field;

const isZarrName = (p: string): boolean => /\.zarr\/?$/i.test(p);

async function isDir(p: string): Promise<boolean> {
  return (await stat(p).catch(() => null))?.isDirectory() ?? false;
}

/**
 * The OME-Zarr plate folders `images` names (`a.zarr`, `a.zarr,b.zarr`, or a folder holding
 * `*.zarr`), or null when it names none (then it is an ordinary images folder).
 */
export async function findZarrPlates(images: string): Promise<string[] | null> {
  const parts = images.split(',').map((p) => p.trim()).filter(Boolean).map((p) => path.resolve(p));
  const plates: string[] = [];
  for (const p of parts) {
    if (isZarrName(p) || (await readZarrAttrs(p).catch(() => null))?.plate) {
      plates.push(p.replace(/\/$/, ''));
      continue;
    }
    if (!(await isDir(p))) return null;
    const inside = (await readdir(p, { withFileTypes: true })).filter((e) => e.isDirectory() && isZarrName(e.name)).map((e) => path.join(p, e.name)).sort();
    if (inside.length === 0) return null;
    plates.push(...inside);
  }
  return plates.length ? plates : null;
}

/**
 * `--images` made absolute: a folder, or each of a comma-separated list of OME-Zarr plates
 * (`path.resolve` of the whole list would resolve only its first plate). For records that another
 * process (a queue worker) reads back.
 */
export function resolveImages(images: string): string {
  return images.includes(',') ? images.split(',').map((p) => p.trim()).filter(Boolean).map((p) => path.resolve(p)).join(',') : path.resolve(images);
}

/** Fields of the platemap rows, from the plates' wells; rows without a well in a plate are reported and dropped. */
export async function zarrFields(
  plateDirs: string[],
  rows: PlateRow[],
  metadataPath: string,
  problems: Problem[],
): Promise<{ fields: Field[]; channels: string[] }> {
  const plates = new Map<string, ZarrPlate>();
  for (const dir of plateDirs) {
    const plate = await readZarrPlate(dir);
    for (const name of new Set([plate.name, path.basename(dir).replace(/\.(ome\.)?zarr$/i, '')])) {
      const other = plates.get(name);
      if (other && other !== plate) throw new MorphoprofError('BAD_ARGUMENT', `Two OME-Zarr plates are named ${name}: ${other.dir} and ${dir}`, 'Give each plate once, with a distinct plate name');
      plates.set(name, plate);
    }
  }
  const channels = await channelNames([...new Set(plates.values())]);
  const wells = new Map<ZarrPlate, Map<string, string>>();
  // a Zarr well `B/3` by the name the platemap's wells are normalised to: B03
  const wellName = (row: string, column: string) => wellFromRowColumn(row, column) ?? `${row}${column}`;
  for (const plate of new Set(plates.values())) wells.set(plate, new Map(plate.wells.map((w) => [wellName(w.row, w.column), w.path])));
  const used = new Map<ZarrPlate, Set<string>>();
  const fields: Field[] = [];
  for (const r of rows) {
    const dropped = (why: string) => problems.push({ row: r.row, file: metadataPath, message: `Platemap ${metadataPath}, row ${r.row}: ${why}; row dropped` });
    const plate = plates.get(r.plate);
    if (!plate) {
      dropped(`plate ${r.plate} is none of the OME-Zarr plates (${[...plates.keys()].join(', ')})`);
      continue;
    }
    const wellPath = wells.get(plate)!.get(r.well);
    if (wellPath === undefined) {
      dropped(`well ${r.well} is not in OME-Zarr plate ${plate.dir}`);
      continue;
    }
    let fieldPaths: string[];
    try {
      fieldPaths = await readZarrWell(plate.dir, wellPath);
    } catch (err) {
      dropped(errorMessage(err).split('\n')[0]!);
      continue;
    }
    (used.get(plate) ?? used.set(plate, new Set()).get(plate)!).add(wellPath);
    if (fieldPaths.length === 0) dropped(`well ${wellPath} of OME-Zarr plate ${plate.dir} lists no field`);
    fieldPaths.forEach((fp, k) => {
      const dir = path.join(plate.dir, wellPath, fp);
      const images = Object.fromEntries(channels.map((ch) => [ch, formatImageRef({ file: dir, select: { kind: 'zarr', channel: ch } })]));
      fields.push({ ...r, site: /^\d+$/.test(fp) ? Number(fp) : k, images });
    });
  }
  for (const plate of new Set(plates.values())) {
    const unused = plate.wells.filter((w) => !used.get(plate)?.has(w.path));
    if (unused.length > 0) {
      problems.push({ file: plate.dir, message: `OME-Zarr plate ${plate.dir}: ${unused.length} of its ${plate.wells.length} wells have no row in the platemap ${metadataPath} (e.g. ${unused.slice(0, 3).map((w) => w.path).join(', ')}); not used` });
    }
  }
  return { fields, channels };
}

/** The stains: the omero channel labels of the first field that has them (up to 20 tried). */
async function channelNames(plates: ZarrPlate[]): Promise<string[]> {
  const tried: string[] = [];
  for (const plate of plates) {
    for (const well of plate.wells) {
      if (tried.length >= 20) break;
      try {
        const [fp] = await readZarrWell(plate.dir, well.path);
        if (fp === undefined) continue;
        const meta = await readZarrField(path.join(plate.dir, well.path, fp));
        if (meta.channels.length > 0) return meta.channels;
        tried.push(`${plate.dir} ${well.path}/${fp}: no omero channel labels`);
      } catch (err) {
        tried.push(errorMessage(err).split('\n')[0]!);
      }
    }
  }
  throw new MorphoprofError(
    'BAD_IMAGE',
    `Cannot learn the stains of the OME-Zarr plates (${plates.map((p) => p.dir).join(', ')}): ${tried.slice(0, 5).join('; ') || 'no wells'}`,
    'Each field needs omero metadata naming its channels (omero.channels[].label)',
  );
}
