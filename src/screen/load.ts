import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { MorphoprofError } from '../errors.js';
import { type Field, type Screen, fieldKey, treatmentKey } from './types.js';

/** A non-fatal issue found while reading a screen; the row it names was dropped. */
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

/** `A1`, `a01`, `A001` -> `A01`; null when it is not a well. */
export function normalizeWell(raw: string): string | null {
  const m = /^([A-Za-z]{1,2})0*(\d{1,3})$/.exec(raw.trim());
  if (!m || Number(m[2]) < 1) return null;
  return `${m[1]!.toUpperCase()}${m[2]!.padStart(2, '0')}`;
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
}

function channelColumns(table: Table, spec: LayoutSpec): ChannelColumns[] {
  const channels: ChannelColumns[] = [];
  const missing: string[] = [];
  table.header.forEach((h, i) => {
    if (!h.toLowerCase().startsWith(spec.fileName.toLowerCase())) return;
    const name = h.slice(spec.fileName.length);
    const p = findColumn(table.header, [`${spec.pathName}${name}`]);
    if (p < 0) missing.push(`${spec.pathName}${name}`);
    channels.push({ name, file: i, path: p });
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
 */
export async function loadScreen(opts: LoadScreenOptions): Promise<{ screen: Screen; problems: Problem[] }> {
  const controlCompound = opts.controlCompound ?? 'DMSO';
  const metadataPath = path.resolve(opts.metadata);
  const imagesRoot = path.resolve(opts.images);
  const problems: Problem[] = [];
  const table = await readTable(metadataPath, 'image table');
  const layoutName = detectLayout(table.header);
  if (layoutName === null) {
    throw new MorphoprofError(
      'MISSING_COLUMN',
      `The image table ${metadataPath} has no FileName_<Channel> (LoadData) or Image_FileName_<Channel> (BBBC021) columns; its columns are: ${table.header.join(', ')}`,
      'Name one column per stain FileName_<Channel> with a matching PathName_<Channel>',
    );
  }
  const spec = LAYOUTS[layoutName];
  const channels = channelColumns(table, spec);
  const col = requireColumns(
    table,
    {
      plate: spec.plate,
      well: spec.well,
      compound: spec.compound,
      concentration: spec.concentration,
      ...(spec.site ? { site: spec.site } : {}),
    } as Record<'plate' | 'well' | 'compound' | 'concentration' | 'site', string[]>,
    'image table',
  );
  const moaCol = spec.moa ? findColumn(table.header, spec.moa) : -1;
  const batchCol = spec.batch ? findColumn(table.header, spec.batch) : -1;
  const moaTable = opts.moa ? await readMoaTable(path.resolve(opts.moa), problems) : new Map<string, string>();

  const fields: Field[] = [];
  const seen = new Map<string, number>();
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
    const well = normalizeWell(cell(col.well));
    if (well === null) return bad(name(col.well), `well '${cell(col.well)}' is not like A01 or A1`);
    const compound = cell(col.compound);
    if (compound === '') return bad(name(col.compound), 'empty compound');
    const concentration = parseConcentration(cell(col.concentration));
    if (concentration === null) return bad(name(col.concentration), `concentration '${cell(col.concentration)}' is not a number`);

    const images: Record<string, string> = {};
    for (const ch of channels) {
      const fileName = cell(ch.file);
      if (fileName === '') return bad(name(ch.file), `no file for channel ${ch.name}`);
      images[ch.name] = path.resolve(imagesRoot, cell(ch.path), fileName);
    }
    const firstFile = cell(channels[0]!.file);
    const site = spec.site ? Number(cell(col.site)) : siteFromFileName(firstFile);
    if (site === null || !Number.isInteger(site) || site < 0 || (spec.site && cell(col.site) === '')) {
      return spec.site
        ? bad(name(col.site), `site '${cell(col.site)}' is not a whole number`)
        : bad(name(channels[0]!.file), `no site (_s<N>_) in the file name '${firstFile}'`);
    }
    const batch = batchCol >= 0 ? cell(batchCol) || null : batchFromPath(cell(channels[0]!.path), plate);
    const key = treatmentKey(compound, concentration);
    const moa = moaTable.get(key) ?? (cell(moaCol) || null);

    const field: Field = { plate, well, site, compound, concentration, moa, batch, images, row };
    const id = fieldKey(field);
    const earlier = seen.get(id);
    if (earlier !== undefined) return bad(undefined, `${id} is already on row ${earlier}`);
    seen.set(id, row);
    fields.push(field);
  });

  await checkScreenLevel(fields, { metadataPath, imagesRoot, controlCompound, moaPath: opts.moa, moaTable }, problems);
  const screen: Screen = { metadataPath, imagesRoot, channels: channels.map((c) => c.name), controlCompound, fields };
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
