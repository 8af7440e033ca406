/**
 * Screens as instruments and archives write them: one file per field with every stain (multi-page
 * TIFF with Frame_<Channel> pages, OME-TIFF with channels matched by name) and OME-Zarr HCS plates
 * (Zarr v2 and v3) with a platemap. The same pixels written each way give bitwise-equal features
 * to the one-file-per-stain path (through the whole embedding, with a tiny network); broken files
 * are skipped with a reason naming the file, well or field, and the run goes on.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import sharp from 'sharp';
import { embedScreen, type EmbedResult } from '../../src/embed/embed.js';
import { computeIllumination } from '../../src/illum/compute.js';
import { functionStem } from '../../src/illum/manifest.js';
import { readImage, readImageResized } from '../../src/image/index.js';
import { loadScreen } from '../../src/screen/index.js';
import type { Screen } from '../../src/screen/types.js';
import { readProfiles } from '../../src/table/index.js';
import { sharedData, skipMessage, tempDir } from '../helpers.js';
import { fieldPixels, multiPageTiff, omeXml, tinyModel, writeZarrPlateV2, writeZarrPlateV3 } from './fixtures.js';

const W = 64;
const H = 48;
const STAINS = ['DNA', 'Tubulin', 'Actin'];
const PLATES = ['P1', 'P2'];
/** row letter, column number, compound, concentration */
const WELLS: Array<[string, string, string, number]> = [
  ['A', '1', 'DMSO', 0],
  ['B', '2', 'taxol', 1],
];
const SITES = [0, 1];

interface FieldPx {
  plate: string;
  row: string;
  column: string;
  site: number;
  compound: string;
  concentration: number;
  /** by stain */
  px: Record<string, Uint16Array>;
}

const dir = tempDir('morphoprof-instruments-');
const fields: FieldPx[] = [];
let seed = 1;
for (const plate of PLATES)
  for (const [row, column, compound, concentration] of WELLS)
    for (const site of SITES) fields.push({ plate, row, column, site, compound, concentration, px: Object.fromEntries(STAINS.map((s) => [s, fieldPixels(W, H, seed++)])) });

const well = (f: FieldPx) => `${f.row}0${f.column}`;
const stem = (f: FieldPx) => `${f.plate}_${well(f)}_s${f.site}`;

function csv(file: string, header: string[], rows: Array<Array<string | number>>): string {
  writeFileSync(file, [header.join(','), ...rows.map((r) => r.join(','))].join('\n') + '\n');
  return file;
}

async function grey16(file: string, px: Uint16Array): Promise<void> {
  await sharp(px, { raw: { width: W, height: H, channels: 1 } }).toColourspace('grey16').tiff({ compression: 'none' }).toFile(file);
}

const model = tinyModel(path.join(dir, 'tiny.onnx'), 16);

async function embed(screen: Screen, out: string): Promise<EmbedResult> {
  return embedScreen({ screen, out: path.join(dir, out), model, inputSize: 16, preprocess: 'caffe', output: 'features', batchSize: 3, progress: false });
}

/** Features by field key, as the feature store holds them. */
async function featuresOf(out: string): Promise<Map<string, Float32Array>> {
  const t = await readProfiles(path.join(dir, out, 'features'));
  return new Map(t.metadata.map((m, i) => [`${m.Metadata_Plate}/${m.Metadata_Well}/${m.Metadata_Site}`, Float32Array.from(t.features[i]!)]));
}

function assertBitwiseEqual(a: Map<string, Float32Array>, b: Map<string, Float32Array>, what: string): void {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort(), `${what}: the same fields`);
  for (const [k, v] of a) assert.ok(Buffer.from(v.buffer).equals(Buffer.from(b.get(k)!.buffer)), `${what}: features of ${k} bitwise equal`);
}

function errorsCsv(out: string): Array<Record<string, string>> {
  return parse(readFileSync(path.join(dir, out, 'errors.csv')), { columns: true }) as Array<Record<string, string>>;
}

const SCREEN_COLUMNS = ['Metadata_Plate', 'Metadata_Site', 'Metadata_Compound', 'Metadata_Concentration'];
const screenCells = (f: FieldPx) => [f.plate, f.site, f.compound, f.concentration];

describe('multi-channel files and OME-Zarr plates give the features of one file per stain', () => {
  let reference: Map<string, Float32Array>;
  const tables: Record<string, { metadata: string; images: string }> = {};

  before(async () => {
    // one 16-bit file per stain, as BBBC021 (sharp writes them, as the synthetic screens do)
    mkdirSync(path.join(dir, 'single'));
    for (const f of fields) for (const s of STAINS) await grey16(path.join(dir, 'single', `${stem(f)}_${s}.tif`), f.px[s]!);
    tables.single = {
      metadata: csv(path.join(dir, 'single.csv'), ['Metadata_Well', ...SCREEN_COLUMNS, ...STAINS.flatMap((s) => [`FileName_${s}`, `PathName_${s}`])],
        fields.map((f) => [well(f), ...screenCells(f), ...STAINS.flatMap((s) => [`${stem(f)}_${s}.tif`, 'single'])])),
      images: dir,
    };
    // multi-page TIFF, pages in another order than the table's columns, Frame_/Metadata_ChannelIndex_ columns; wells as row + column
    const pageOrder = ['Actin', 'DNA', 'Tubulin'];
    mkdirSync(path.join(dir, 'multi'));
    for (const f of fields) writeFileSync(path.join(dir, 'multi', `${stem(f)}.tif`), multiPageTiff(pageOrder.map((s) => f.px[s]!), W, H));
    const frameColumn = (s: string) => (s === 'Tubulin' ? `Metadata_ChannelIndex_${s}` : `Frame_${s}`);
    tables.multi = {
      metadata: csv(path.join(dir, 'multi.csv'), ['Metadata_Row', 'Metadata_Col', ...SCREEN_COLUMNS, ...STAINS.flatMap((s) => [`FileName_${s}`, `PathName_${s}`, frameColumn(s)])],
        fields.map((f) => [f.row, f.column, ...screenCells(f), ...STAINS.flatMap((s) => [`${stem(f)}.tif`, 'multi', pageOrder.indexOf(s)])])),
      images: dir,
    };
    // OME-TIFF, deflate-compressed (decoded by libvips, page by page), channels named in the OME-XML; wells as Harmony names them
    const omeOrder = ['Tubulin', 'Actin', 'DNA'];
    mkdirSync(path.join(dir, 'ome'));
    for (const f of fields) writeFileSync(path.join(dir, 'ome', `${stem(f)}.ome.tif`), multiPageTiff(omeOrder.map((s) => f.px[s]!), W, H, { description: omeXml(omeOrder, W, H), deflate: true }));
    tables.ome = {
      metadata: csv(path.join(dir, 'ome.csv'), ['Metadata_Well', ...SCREEN_COLUMNS, ...STAINS.flatMap((s) => [`FileName_${s}`, `PathName_${s}`])],
        fields.map((f) => [`r0${f.row.charCodeAt(0) - 64}c0${f.column}`, ...screenCells(f), ...STAINS.flatMap(() => [`${stem(f)}.ome.tif`, 'ome'])])),
      images: dir,
    };
    // OME-Zarr plates, v2 and v3, with a platemap (wells as B2 and A01)
    for (const [v, write] of [['zarr2', writeZarrPlateV2], ['zarr3', writeZarrPlateV3]] as const) {
      for (const plate of PLATES) {
        await write({
          dir: path.join(dir, v, `${plate}.zarr`), name: plate, channels: STAINS, width: W, height: H, chunkRows: 20,
          wells: WELLS.map(([row, column]) => ({ row, column, fields: SITES.map((site) => STAINS.map((s) => fields.find((f) => f.plate === plate && f.row === row && f.column === column && f.site === site)!.px[s]!)) })),
        });
      }
    }
    const platemap = csv(path.join(dir, 'platemap.csv'), ['Metadata_Plate', 'Metadata_Well', 'Metadata_Compound', 'Metadata_Concentration'],
      PLATES.flatMap((p) => WELLS.map(([row, column, compound, conc]) => [p, row === 'A' ? `${row}0${column}` : `${row}${column}`, compound, conc])));
    tables.zarr2 = { metadata: platemap, images: PLATES.map((p) => path.join(dir, 'zarr2', `${p}.zarr`)).join(',') };
    tables.zarr3 = { metadata: platemap, images: path.join(dir, 'zarr3') }; // a folder of plates

    const { screen } = await loadScreen(tables.single);
    const r = await embed(screen, 'out-single');
    assert.equal(r.fieldsEmbedded, fields.length);
    reference = await featuresOf('out-single');
  });

  for (const kind of ['multi', 'ome', 'zarr2', 'zarr3']) {
    it(`${kind}: the same fields, stains and pixels, bitwise-equal features`, async () => {
      const { screen, problems } = await loadScreen(tables[kind]!);
      assert.deepEqual(problems, []);
      assert.deepEqual(screen.channels, kind.startsWith('zarr') ? STAINS : STAINS);
      for (const f of screen.fields.slice(0, 2)) {
        const px = fields.find((g) => g.plate === f.plate && well(g) === f.well && g.site === f.site)!.px;
        for (const s of STAINS) assert.deepEqual((await readImage(f.images[s]!)).data, px[s], `${kind} ${f.plate}/${f.well}/${f.site} ${s}: the pixels`);
      }
      const r = await embed(screen, `out-${kind}`);
      assert.equal(r.fieldsEmbedded, fields.length);
      assert.equal(r.errors.length, 0);
      assertBitwiseEqual(await featuresOf(`out-${kind}`), reference, kind);
    });
  }

  it('illumination functions read through the same sources: equal, file for file, to those of one file per stain', async () => {
    const npys = async (kind: string) => {
      const { screen } = await loadScreen(tables[kind]!);
      const out = path.join(dir, `illum-${kind}`);
      await computeIllumination({ screen, out, warn: () => {} });
      return PLATES.flatMap((p) => STAINS.map((s) => readFileSync(path.join(out, `${functionStem(p, s)}.npy`))));
    };
    const want = await npys('single');
    for (const kind of ['multi', 'ome', 'zarr3']) {
      const got = await npys(kind);
      got.forEach((g, i) => assert.ok(g.equals(want[i]!), `${kind}: function ${i} equal`));
    }
  });

  it('bad multi-channel files: too few pages, an OME-TIFF without the stain: those fields skipped with a reason naming the file, the run goes on', async () => {
    const [short, unnamed] = [fields[0]!, fields[5]!];
    const shortFile = path.join(dir, 'multi', `${stem(short)}.tif`);
    writeFileSync(shortFile, multiPageTiff([short.px.Actin!, short.px.DNA!], W, H)); // no page 2 (Tubulin)
    const omeFile = path.join(dir, 'ome', `${stem(unnamed)}.ome.tif`);
    writeFileSync(omeFile, multiPageTiff(['Tubulin', 'Actin', 'DNA'].map((s) => unnamed.px[s]!), W, H, { description: omeXml(['Tubulin', 'Actin', 'DAPI'], W, H), deflate: true }));
    for (const [kind, file, reason] of [
      ['multi', shortFile, /has 2 pages; page 2 \(0-based\) was asked for/],
      ['ome', omeFile, /has no channel named 'DNA' \(its channels: Tubulin, Actin, DAPI\)/],
    ] as const) {
      const { screen } = await loadScreen(tables[kind]!);
      const r = await embed(screen, `out-bad-${kind}`);
      assert.equal(r.fieldsEmbedded, fields.length - 1, `${kind}: every other field embedded`);
      const errs = errorsCsv(`out-bad-${kind}`);
      assert.equal(errs.length, 1);
      assert.ok(errs[0]!.File!.startsWith(file), errs[0]!.File);
      assert.ok(errs[0]!.Reason!.includes(file), errs[0]!.Reason);
      assert.match(errs[0]!.Reason!, reason);
      assert.equal(errs[0]!.Stage, 'read');
    }
  });

  it('a Zarr plate with a missing chunk and a missing field: those fields skipped with a reason naming well and field, the run goes on', async () => {
    const plate = path.join(dir, 'zarr2', 'P2.zarr');
    rmSync(path.join(plate, 'B', '2', '1', '0', '1', '2', '0')); // field 1 of B2: channel Tubulin, last chunk rows
    rmSync(path.join(plate, 'A', '1', '0'), { recursive: true }); // field 0 of A1 is listed but gone
    const { screen } = await loadScreen(tables.zarr2!);
    const r = await embed(screen, 'out-bad-zarr');
    assert.equal(r.fieldsEmbedded, fields.length - 2);
    const errs = errorsCsv('out-bad-zarr');
    const reasons = errs.map((e) => e.Reason!).sort();
    assert.equal(errs.length, 2, reasons.join('\n'));
    const gone = errs.find((e) => e.Metadata_Well === 'A01')!;
    assert.equal(gone.Stage, 'files'); // its folder is not there: found before reading
    assert.ok(gone.Reason!.includes(path.join('P2.zarr', 'A', '1', '0')), gone.Reason);
    const chunk = errs.find((e) => e.Metadata_Well === 'B02')!;
    assert.equal(chunk.Channel, 'Tubulin');
    assert.match(chunk.Reason!, /OME-Zarr plate .*P2\.zarr, well B\/2, field 1, channel Tubulin: chunk .*P2\.zarr\/B\/2\/1\/0\/1\/2\/0 is missing/);
  });
});

describe('real BBBC021 images as the pages of one file and the channels of an OME-Zarr field', () => {
  const root = sharedData('bbbc021', 'images');
  it('every source reads the original pixels, bitwise, and downsamples them alike', { skip: root ? false : skipMessage('bbbc021/images') }, async () => {
    const index = parse(readFileSync(path.join(root!, 'INDEX.csv')), { columns: true }) as Array<Record<string, string>>;
    const originals = index.slice(0, 3).map((r) => path.join(root!, '..', r.path!));
    const images = await Promise.all(originals.map((f) => readImage(f)));
    const [w, h] = [images[0]!.width, images[0]!.height];
    const pages = images.map((i) => i.data as Uint16Array);
    const real = tempDir('morphoprof-real-sources-');
    const names = ['DNA', 'Actin', 'Tubulin'];
    writeFileSync(path.join(real, 'field.ome.tif'), multiPageTiff(pages, w, h, { description: omeXml(names, w, h) }));
    writeZarrPlateV2({ dir: path.join(real, 'p.zarr'), name: 'p', channels: names, width: w, height: h, chunkRows: 256, wells: [{ row: 'A', column: '1', fields: [pages] }] });
    for (const [k, original] of originals.entries()) {
      const refs = [`${path.join(real, 'field.ome.tif')}#page=${k}`, `${path.join(real, 'field.ome.tif')}#channel=${names[k]}`, `${path.join(real, 'p.zarr', 'A', '1', '0')}#zarr=${names[k]}`];
      const want = await readImageResized(original, 224, 224);
      for (const ref of refs) {
        assert.deepEqual((await readImage(ref)).data, images[k]!.data, `${ref}: the pixels of ${original}`);
        const got = await readImageResized(ref, 224, 224);
        assert.ok(Buffer.from(got.data.buffer).equals(Buffer.from(want.data.buffer)), `${ref}: downsampled bitwise alike`);
      }
    }
  });
});
