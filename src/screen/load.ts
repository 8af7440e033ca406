import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { MorphoprofError } from '../errors.js';
import { formatImageRef } from '../image/source.js';
import { type Field, type Screen, fieldKey, treatmentKey } from './types.js';
import { readWell } from './wells.js';
import { findZarrPlates, zarrFields, type PlateRow } from './zarr.js';

export { normalizeWell, rowLetters, wellFromRowColumn } from './wells.js';

/**
 * A non-fatal issue found while reading a screen: the row it names was dropped, or (no row) a
 * warning about the table as a whole.
 */
export interface Problem {
  /** 1-based data row (header excluded) of `file`. */
  row?: number;
  column?: string;
  file?: string;
  /** Self-contained: names the file and row itself, so it reads well alone. */
  message: string;
}

export interface LoadScreenOptions {
  /** Image table: BBBC021_v1_image.csv or a CellProfiler LoadData CSV. */
  metadata: string;
  /** Folder the table's relative PathName values are resolved against. */
  images: string;
  /** MOA table with columns compound, concentration, moa (BBBC021_v1_moa.csv). */
  moa?: string;
  /** Negative-control compound, default `DMSO`. */
  controlCompound?: string;
}

export type ScreenLayout = 'bbbc021' | 'loaddata';

/**
 * The two table layouts, declared once: which header names hold what. Header names are matched
 * case-insensitively; the first candidate present wins. `site: null` means from the file name,
 * `batch: null` from the path (the `WeekN` folder).
 */
interface LayoutSpec {
  fileName: string;
  pathName: string;
  plate: string[];
  well: string[];
  /** row and column of the well, an alternative to `well` (numbers or a row letter) */
  wellRow: string[];
  wellColumn: string[];
  /** 0-based page of a multi-page file holding the stain: `<prefix><Channel>` */
  frame: string[];
  site: string[] | null;
  compound: string[];
  concentration: string[];
  moa: string[] | null;
  batch: string[] | null;
}

const LAYOUTS: Readonly<Record<ScreenLayout, LayoutSpec>> = Object.freeze({
  bbbc021: {
    fileName: 'Image_FileName_',
    pathName: 'Image_PathName_',
    plate: ['Image_Metadata_Plate_DAPI', 'Image_Metadata_Plate'],
    well: ['Image_Metadata_Well_DAPI', 'Image_Metadata_Well'],
    wellRow: [],
    wellColumn: [],
    frame: [],
    site: null,
    compound: ['Image_Metadata_Compound'],
    concentration: ['Image_Metadata_Concentration'],
    moa: null,
    batch: null,
  },
  loaddata: {
    fileName: 'FileName_',
    pathName: 'PathName_',
    plate: ['Metadata_Plate'],
    well: ['Metadata_Well'],
    wellRow: ['Metadata_Row'],
    wellColumn: ['Metadata_Col', 'Metadata_Column'],
    frame: ['Frame_', 'Metadata_ChannelIndex_'],
    site: ['Metadata_Site'],
    compound: ['Metadata_Compound'],
    concentration: ['Metadata_Concentration'],
    moa: ['Metadata_MOA'],
    batch: ['Metadata_Batch'],
  },
});

/** Which layout a header is: BBBC021's `Image_FileName_*` columns, else LoadData's `FileName_*`. */
export function detectLayout(header: readonly string[]): ScreenLayout | null {
  const lower = header.map((h) => h.toLowerCase());
  if (lower.some((h) => h.startsWith('image_filename_'))) return 'bbbc021';
  if (lower.some((h) => h.startsWith('filename_'))) return 'loaddata';
  return null;
}

/** Site from a BBBC021/MetaMorph file name (`..._s3_w1...tif`), or null. */
export function siteFromFileName(name: string): number | null {
  const m = /(?:^|_)s(\d+)(?=_|\.|$)/i.exec(path.basename(name));
  return m ? Number(m[1]) : null;
}

/** Batch (`Week4`) from a BBBC021 path (`Week4/Week4_27481`) or plate name, or null. */
export function batchFromPath(...candidates: string[]): string | null {
  for (const c of candidates) {
    const m = /(?:^|[\\/_])(week\d+)(?=$|[\\/_])/i.exec(c);
    if (m) return m[1]!.charAt(0).toUpperCase() + m[1]!.slice(1).toLowerCase();
  }
  return null;
}

/** Concentration as a number; empty or non-numeric -> null. Compared numerically: `0.3` = `0.300000`. */
export function parseConcentration(raw: string): number | null {
  const t = raw.trim();
  if (t === '') return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}

interface Table {
  file: string;
  header: string[];
  rows: string[][];
}

async function readTable(file: string, what: string): Promise<Table> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new MorphoprofError(
      code === 'ENOENT' ? 'FILE_NOT_FOUND' : 'BAD_TABLE',
      `Cannot read the ${what} ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
      `Pass the path of the ${what} CSV`,
      { cause: err },
    );
  }
  let records: string[][];
  try {
    records = parse(text, { bom: true, skip_empty_lines: true, relax_column_count: true, trim: true }) as string[][];
  } catch (err) {
    throw new MorphoprofError('BAD_TABLE', `Cannot parse the ${what} ${file} as CSV: ${(err as Error).message}`, 'Check it is a comma-separated file with a header row', {
      cause: err,
    });
  }
  const [header, ...rows] = records;
  if (!header || header.length === 0) {
    throw new MorphoprofError('BAD_TABLE', `The ${what} ${file} is empty`, 'It needs a header row and one row per image');
  }
  return { file, header, rows };
}

/** Index of the first candidate column (case-insensitive), or -1. */
function findColumn(header: readonly string[], candidates: readonly string[]): number {
  const lower = header.map((h) => h.toLowerCase());
  for (const c of candidates) {
    const i = lower.indexOf(c.toLowerCase());
    if (i >= 0) return i;
  }
  return -1;
}

function missingColumns(table: Table, missing: string[], what: string): MorphoprofError {
  return new MorphoprofError(
    'MISSING_COLUMN',
    `The ${what} ${table.file} has no column ${missing.map((m) => `'${m}'`).join(', ')}; its columns are: ${table.header.join(', ')}`,
    `Add or rename the column(s) (names are case-insensitive)`,
  );
}

/** Required columns by role; throws one error listing every missing one. */
function requireColumns<K extends string>(
  table: Table,
  roles: Record<K, readonly string[]>,
  what: string,
): Record<K, number> {
  const out = {} as Record<K, number>;
  const missing: string[] = [];
  for (const [role, candidates] of Object.entries(roles) as [K, readonly string[]][]) {
    out[role] = findColumn(table.header, candidates);
    if (out[role] < 0) missing.push(candidates.join("' or '"));
  }
  if (missing.length) throw missingColumns(table, missing, what);
  return out;
}

interface ChannelColumns {
  name: string;
  file: number;
  path: number;
  /** column of the 0-based page (`Frame_<Channel>`), or -1 */
  frame: number;
}

function channelColumns(table: Table, spec: LayoutSpec): ChannelColumns[] {
  const channels: ChannelColumns[] = [];
  const missing: string[] = [];
  table.header.forEach((h, i) => {
    if (!h.toLowerCase().startsWith(spec.fileName.toLowerCase())) return;
    const name = h.slice(spec.fileName.length);
    const p = findColumn(table.header, [`${spec.pathName}${name}`]);
    if (p < 0) missing.push(`${spec.pathName}${name}`);
    channels.push({ name, file: i, path: p, frame: findColumn(table.header, spec.frame.map((f) => `${f}${name}`)) });
  });
  if (missing.length) throw missingColumns(table, missing, 'image table');
  return channels;
}

/** MOA by treatment key, read from a `compound,concentration,moa` table. */
async function readMoaTable(file: string, problems: Problem[]): Promise<Map<string, string>> {
  const table = await readTable(file, 'MOA table');
  const col = requireColumns(
    table,
    {
      compound: ['compound', 'Metadata_Compound', 'Image_Metadata_Compound'],
      concentration: ['concentration', 'Metadata_Concentration', 'Image_Metadata_Concentration'],
      moa: ['moa', 'Metadata_MOA'],
    },
    'MOA table',
  );
  const moas = new Map<string, string>();
  table.rows.forEach((r, i) => {
    const row = i + 1;
    const compound = r[col.compound] ?? '';
    const concentration = parseConcentration(r[col.concentration] ?? '');
    const moa = r[col.moa] ?? '';
    if (compound === '' || concentration === null || moa === '') {
      const column = compound === '' ? 'compound' : concentration === null ? 'concentration' : 'moa';
      problems.push({ row, column, file, message: `MOA table ${file}, row ${row}: empty or invalid ${column}; row ignored` });
      return;
    }
    const key = treatmentKey(compound, concentration);
    const prior = moas.get(key);
    if (prior !== undefined && prior !== moa) {
      problems.push({ row, file, message: `MOA table ${file}, row ${row}: ${compound} at ${concentration} is '${moa}' but an earlier row says '${prior}'; keeping '${prior}'` });
      return;
    }
    moas.set(key, moa);
  });
  return moas;
}

/**
 * Read a screen's image table (BBBC021 or CellProfiler LoadData layout, detected from the header)
 * and optional MOA table into a Screen. Missing columns throw; bad rows are dropped and reported.
 * When `images` names OME-Zarr plates (`a.zarr,b.zarr`, or a folder of them), the table is a
 * platemap (plate, well, compound, concentration; no file columns) and the fields are the plates'.
 */
export async function loadScreen(opts: LoadScreenOptions): Promise<{ screen: Screen; problems: Problem[] }> {
  const controlCompound = opts.controlCompound ?? 'DMSO';
  const metadataPath = path.resolve(opts.metadata);
  const problems: Problem[] = [];
  const table = await readTable(metadataPath, 'image table');
  const layoutName = detectLayout(table.header);
  const zarrPlates = layoutName === null ? await findZarrPlates(opts.images) : null;
  if (layoutName === null && zarrPlates === null) {
    throw new MorphoprofError(
      'MISSING_COLUMN',
      `The image table ${metadataPath} has no FileName_<Channel> (LoadData) or Image_FileName_<Channel> (BBBC021) columns; its columns are: ${table.header.join(', ')}`,
      'Name one column per stain FileName_<Channel> with a matching PathName_<Channel>; for OME-Zarr plates give --images the .zarr folder(s) and this table as the platemap',
    );
  }
  const imagesRoot = path.resolve(zarrPlates ? (zarrPlates.length === 1 ? zarrPlates[0]! : path.dirname(zarrPlates[0]!)) : opts.images);
  const spec = LAYOUTS[layoutName ?? 'loaddata'];
  const channels = layoutName ? channelColumns(table, spec) : [];
  const wellCol = findColumn(table.header, spec.well);
  const rowCol = findColumn(table.header, spec.wellRow);
  const colCol = findColumn(table.header, spec.wellColumn);
  const byRowColumn = wellCol < 0 && rowCol >= 0 && colCol >= 0;
  const col = requireColumns(
    table,
    {
      plate: spec.plate,
      // when missing, the message names the alternative: 'Metadata_Well' or 'Metadata_Row' and 'Metadata_Col'
      ...(byRowColumn ? {} : { well: spec.wellRow.length ? [...spec.well, `${spec.wellRow[0]}' and '${spec.wellColumn[0]}`] : spec.well }),
      compound: spec.compound,
      concentration: spec.concentration,
      ...(spec.site && !zarrPlates ? { site: spec.site } : {}),
    } as Record<'plate' | 'well' | 'compound' | 'concentration' | 'site', string[]>,
    'image table',
  );
  const moaCol = spec.moa ? findColumn(table.header, spec.moa) : -1;
  const batchCol = spec.batch ? findColumn(table.header, spec.batch) : -1;
  const moaTable = opts.moa ? await readMoaTable(path.resolve(opts.moa), problems) : new Map<string, string>();
  const opaque: Array<{ row: number; name: string }> = [];

  const rows: PlateRow[] = [];
  const seen = new Map<string, { row: number; raw: string }>();
  table.rows.forEach((r, i) => {
    const row = i + 1;
    const bad = (column: string | undefined, why: string): void => {
      problems.push({ row, column, file: metadataPath, message: `Image table ${metadataPath}, row ${row}: ${why}; row dropped` });
    };
    if (r.length !== table.header.length) return bad(undefined, `${r.length} values for ${table.header.length} columns`);
    const cell = (c: number): string => (c >= 0 ? (r[c] ?? '') : '');
    const name = (c: number): string => table.header[c]!;

    const plate = cell(col.plate);
    if (plate === '') return bad(name(col.plate), 'empty plate');
    const { raw: rawWell, well: canonical } = readWell(cell(wellCol), cell(rowCol), cell(colCol));
    if (rawWell === '') return bad(wellCol >= 0 ? name(wellCol) : name(rowCol), 'empty well');
    if (canonical === null) opaque.push({ row, name: rawWell }); // a well name is an identifier: kept as given
    const well = canonical ?? rawWell;
    const compound = cell(col.compound);
    if (compound === '') return bad(name(col.compound), 'empty compound');
    const concentration = parseConcentration(cell(col.concentration));
    if (concentration === null) return bad(name(col.concentration), `concentration '${cell(col.concentration)}' is not a number`);

    const images: Record<string, string> = {};
    const files = channels.map((ch) => path.resolve(imagesRoot, cell(ch.path), cell(ch.file)));
    for (const [k, ch] of channels.entries()) {
      const fileName = cell(ch.file);
      if (fileName === '') return bad(name(ch.file), `no file for channel ${ch.name}`);
      const file = files[k]!;
      const frame = cell(ch.frame);
      if (frame !== '') {
        if (!/^\d+$/.test(frame)) return bad(name(ch.frame), `page '${frame}' of channel ${ch.name} is not a whole number (pages count from 0)`);
        images[ch.name] = formatImageRef({ file, select: { kind: 'page', page: Number(frame) } });
      } else if (files.filter((f) => f === file).length > 1) {
        // several stains in one file, no page given: an OME-TIFF's channels, matched by name
        images[ch.name] = formatImageRef({ file, select: { kind: 'ome-channel', channel: ch.name } });
      } else images[ch.name] = file;
    }
    let site = 0;
    if (!zarrPlates) {
      const firstFile = cell(channels[0]!.file);
      const s = spec.site ? Number(cell(col.site)) : siteFromFileName(firstFile);
      if (s === null || !Number.isInteger(s) || s < 0 || (spec.site && cell(col.site) === '')) {
        return spec.site
          ? bad(name(col.site), `site '${cell(col.site)}' is not a whole number`)
          : bad(name(channels[0]!.file), `no site (_s<N>_) in the file name '${firstFile}'`);
      }
      site = s;
    }
    const batch = batchCol >= 0 ? cell(batchCol) || null : batchFromPath(channels.length ? cell(channels[0]!.path) : '', plate);
    const key = treatmentKey(compound, concentration);
    const moa = moaTable.get(key) ?? (cell(moaCol) || null);

    const field: Field = { plate, well, site, compound, concentration, moa, batch, images, row };
    const id = zarrPlates ? `${plate}/${well}` : fieldKey(field);
    const earlier = seen.get(id);
    if (earlier !== undefined) {
      const same = earlier.raw === rawWell ? '' : ` (well '${earlier.raw}' there, '${rawWell}' here: the same plate position ${well})`;
      return bad(undefined, `${id} is already on row ${earlier.row}${same}`);
    }
    seen.set(id, { row, raw: rawWell });
    rows.push(field);
  });
  if (opaque.length > 0) {
    const eg = opaque.slice(0, 3).map((o) => `'${o.name}' (row ${o.row})`).join(', ');
    problems.push({
      file: metadataPath,
      message: `Image table ${metadataPath}: ${opaque.length} row(s) name wells that are not plate positions (like A01, AF48, r02c05 or a row and column), e.g. ${eg}; kept as given (no row dropped), but these wells have no place on the plate`,
    });
  }

  let fields: Field[] = rows;
  let channelNames = channels.map((c) => c.name);
  if (zarrPlates) ({ fields, channels: channelNames } = await zarrFields(zarrPlates, rows, metadataPath, problems));
  await checkScreenLevel(fields, { metadataPath, imagesRoot, controlCompound, moaPath: opts.moa, moaTable }, problems);
  const screen: Screen = { metadataPath, imagesRoot, channels: channelNames, controlCompound, fields };
  return { screen, problems };
}

/** Problems that concern the screen as a whole rather than a row. */
async function checkScreenLevel(
  fields: readonly Field[],
  ctx: { metadataPath: string; imagesRoot: string; controlCompound: string; moaPath?: string; moaTable: Map<string, string> },
  problems: Problem[],
): Promise<void> {
  if (fields.length === 0) {
    problems.push({ file: ctx.metadataPath, message: `Image table ${ctx.metadataPath}: no valid rows` });
    return;
  }
  if (!fields.some((f) => f.compound === ctx.controlCompound)) {
    const compounds = [...new Set(fields.map((f) => f.compound))].slice(0, 8).join(', ');
    problems.push({
      file: ctx.metadataPath,
      message: `Image table ${ctx.metadataPath}: no field has the control compound '${ctx.controlCompound}' (compounds include ${compounds}); pass --controls <compound>`,
    });
  }
  if (ctx.moaPath) {
    const used = new Set(fields.map((f) => treatmentKey(f.compound, f.concentration)));
    const unmatched = [...ctx.moaTable.keys()].filter((k) => !used.has(k));
    if (unmatched.length) {
      problems.push({
        file: path.resolve(ctx.moaPath),
        message: `MOA table ${path.resolve(ctx.moaPath)}: ${unmatched.length} treatment(s) match no field of the image table (e.g. ${unmatched.slice(0, 3).join(', ')}); check compound names and concentration units`,
      });
    }
  }
  const rootStat = await stat(ctx.imagesRoot).catch(() => null);
  if (!rootStat?.isDirectory()) {
    problems.push({ file: ctx.imagesRoot, message: `Images folder ${ctx.imagesRoot} does not exist; every image file will be missing (check --images)` });
  }
}
