import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { MorphoprofError } from '../../src/errors.js';
import { loadScreen, normalizeWell, summarizeScreen } from '../../src/screen/index.js';
import { sharedData, skipMessage, tempDir } from '../helpers.js';

function write(dir: string, name: string, lines: string[]): string {
  const file = path.join(dir, name);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

const LOADDATA_HEADER =
  'Metadata_Plate,Metadata_Well,Metadata_Site,FileName_DNA,PathName_DNA,FileName_Actin,PathName_Actin,Metadata_Compound,Metadata_Concentration,Metadata_MOA';

describe('loadScreen, LoadData layout', () => {
  const dir = tempDir();
  const abs = path.join(dir, 'elsewhere');
  mkdirSync(path.join(dir, 'imgs', 'P1'), { recursive: true });
  mkdirSync(abs);
  const metadata = write(dir, 'loaddata.csv', [
    LOADDATA_HEADER,
    'P1,A1,1,a1_s1_dna.tif,P1,a1_s1_actin.tif,P1,DMSO,0,',
    'P1,A01,2,a1_s2_dna.tif,P1,a1_s2_actin.tif,P1,DMSO,0.0,',
    `P1,b3,1,b3_s1_dna.tif,${abs},b3_s1_actin.tif,${abs},taxol,3,Microtubule stabilizers`,
    'P1,B04,1,b4_dna.tif,P1,b4_actin.tif,P1,taxol,3.0,',
    ',C01,1,c1_dna.tif,P1,c1_actin.tif,P1,taxol,3,',
    'P1,C02,1,c2_dna.tif,P1,c2_actin.tif,P1,taxol,abc,',
    'P1,C03,1,c3_dna.tif,P1,c3_actin.tif,P1,nocodazole,1,',
    'P1,Z99x,1,z_dna.tif,P1,z_actin.tif,P1,taxol,3,',
    'P1,A01,1,dup_dna.tif,P1,dup_actin.tif,P1,DMSO,0,',
  ]);
  const moa = write(dir, 'moa.csv', ['compound,concentration,moa', 'taxol,3.000000,Microtubule stabilizers', 'nocodazole,1,Microtubule destabilizers', 'DMSO,0,DMSO']);

  it('reads fields, normalises wells, resolves relative and absolute paths', async () => {
    const { screen } = await loadScreen({ metadata, images: path.join(dir, 'imgs') });
    assert.deepEqual(screen.channels, ['DNA', 'Actin']);
    assert.equal(screen.controlCompound, 'DMSO');
    assert.deepEqual(
      screen.fields.map((f) => `${f.plate}/${f.well}/${f.site}`),
      ['P1/A01/1', 'P1/A01/2', 'P1/B03/1', 'P1/B04/1', 'P1/C03/1', 'P1/Z99x/1'],
    );
    const [a1, , b3] = screen.fields;
    assert.equal(a1!.images['DNA'], path.join(dir, 'imgs', 'P1', 'a1_s1_dna.tif'));
    assert.equal(b3!.images['Actin'], path.join(abs, 'b3_s1_actin.tif'));
    assert.equal(b3!.row, 3);
    assert.equal(a1!.batch, null);
  });

  it('drops bad rows with a problem naming the row, column and file', async () => {
    const { problems } = await loadScreen({ metadata, images: path.join(dir, 'imgs') });
    const byRow = new Map(problems.filter((p) => p.row !== undefined).map((p) => [p.row, p]));
    assert.equal(byRow.get(5)?.column, 'Metadata_Plate');
    assert.match(byRow.get(5)!.message, /row 5: empty plate/);
    assert.equal(byRow.get(6)?.column, 'Metadata_Concentration');
    assert.match(byRow.get(6)!.message, /concentration 'abc' is not a number/);
    // a well name that is no plate position is kept as given, with one warning for the table
    assert.equal(byRow.get(8), undefined);
    const opaque = problems.filter((p) => /not plate positions/.test(p.message));
    assert.equal(opaque.length, 1);
    assert.match(opaque[0]!.message, /'Z99x' \(row 8\); kept as given \(no row dropped\)/);
    assert.match(byRow.get(9)!.message, /P1\/A01\/s1 is already on row 1/);
    for (const p of byRow.values()) {
      assert.equal(p.file, metadata);
      assert.ok(p.message.includes(metadata), p.message);
    }
    assert.equal(byRow.size, 3);
  });

  it('MOA: Metadata_MOA, complemented by --moa joined on numeric concentration; controls get the table MOA', async () => {
    const without = await loadScreen({ metadata, images: dir });
    const moaOf = (s: typeof without.screen, well: string) => s.fields.find((f) => f.well === well)!.moa;
    assert.equal(moaOf(without.screen, 'B03'), 'Microtubule stabilizers');
    assert.equal(moaOf(without.screen, 'B04'), null);
    assert.equal(moaOf(without.screen, 'A01'), null);
    const withMoa = await loadScreen({ metadata, images: dir, moa });
    assert.equal(moaOf(withMoa.screen, 'B04'), 'Microtubule stabilizers'); // 3.0 = 3.000000
    assert.equal(moaOf(withMoa.screen, 'C03'), 'Microtubule destabilizers');
    assert.equal(moaOf(withMoa.screen, 'A01'), 'DMSO');
  });

  it('warns when the control compound is absent and when MOA rows match nothing', async () => {
    const extraMoa = write(dir, 'moa-extra.csv', ['compound,concentration,moa', 'taxol,30,Microtubule stabilizers']);
    const { problems } = await loadScreen({ metadata, images: dir, moa: extraMoa, controlCompound: 'PBS' });
    assert.ok(problems.some((p) => /control compound 'PBS'/.test(p.message) && /--controls/.test(p.message)));
    assert.ok(problems.some((p) => p.file === extraMoa && /1 treatment\(s\) match no field/.test(p.message)));
  });

  it('a missing column is an error naming it and listing the columns the file has', async () => {
    const bad = write(dir, 'nowell.csv', [LOADDATA_HEADER.replace('Metadata_Well,', '').replace('Metadata_Site,', ''), 'P1,a.tif,P1,b.tif,P1,DMSO,0,']);
    await assert.rejects(loadScreen({ metadata: bad, images: dir }), (e: unknown) => {
      assert.ok(e instanceof MorphoprofError);
      assert.equal(e.code, 'MISSING_COLUMN');
      assert.ok(e.message.includes(bad));
      assert.match(e.message, /'Metadata_Well'/);
      assert.match(e.message, /'Metadata_Site'/);
      assert.match(e.message, /its columns are: Metadata_Plate, FileName_DNA/);
      return true;
    });
    const noPath = write(dir, 'nopath.csv', ['Metadata_Plate,Metadata_Well,Metadata_Site,FileName_DNA,Metadata_Compound,Metadata_Concentration', 'P1,A01,1,a.tif,DMSO,0']);
    await assert.rejects(loadScreen({ metadata: noPath, images: dir }), /no column 'PathName_DNA'/);
    const noImages = write(dir, 'noimages.csv', ['plate,well', 'P1,A01']);
    await assert.rejects(loadScreen({ metadata: noImages, images: dir }), /no FileName_<Channel>.*its columns are: plate, well/);
    await assert.rejects(loadScreen({ metadata: path.join(dir, 'absent.csv'), images: dir }), (e: unknown) => e instanceof MorphoprofError && e.code === 'FILE_NOT_FOUND');
  });
});

describe('loadScreen, BBBC021 layout (tiny table)', () => {
  it('site from the file name, batch from the week folder, channels from Image_FileName_<X>', async () => {
    const dir = tempDir();
    const metadata = write(dir, 'image.csv', [
      'TableNumber,ImageNumber,"Image_FileName_DAPI","Image_PathName_DAPI","Image_FileName_Tubulin","Image_PathName_Tubulin","Image_Metadata_Plate_DAPI","Image_Metadata_Well_DAPI",Replicate,"Image_Metadata_Compound",Image_Metadata_Concentration',
      '4,1,"G10_s3_w1AB.tif","Week4/Week4_27481","G10_s3_w2CD.tif","Week4/Week4_27481","Week4_27481","G10",1,"taxol",0.300000',
      '4,2,"G10_w1AB.tif","Week4/Week4_27481","G10_w2CD.tif","Week4/Week4_27481","Week4_27481","G10",1,"taxol",0.300000',
    ]);
    const moa = write(dir, 'moa.csv', ['"compound",concentration,"moa"', '"taxol",0.3,"Microtubule stabilizers"']);
    const { screen, problems } = await loadScreen({ metadata, images: dir, moa });
    assert.deepEqual(screen.channels, ['DAPI', 'Tubulin']);
    assert.equal(screen.fields.length, 1);
    const [f] = screen.fields;
    assert.deepEqual([f!.plate, f!.well, f!.site, f!.batch, f!.moa, f!.concentration], ['Week4_27481', 'G10', 3, 'Week4', 'Microtubule stabilizers', 0.3]);
    assert.equal(f!.images['Tubulin'], path.join(dir, 'Week4', 'Week4_27481', 'G10_s3_w2CD.tif'));
    const siteProblem = problems.find((p) => p.row === 2);
    assert.match(siteProblem!.message, /no site \(_s<N>_\) in the file name 'G10_w1AB.tif'/);
  });

  it('normalizeWell accepts A1 and A01 and refuses others', () => {
    assert.equal(normalizeWell('A1'), 'A01');
    assert.equal(normalizeWell('h12'), 'H12');
    assert.equal(normalizeWell('AB003'), 'AB03');
    assert.equal(normalizeWell('A0'), null);
    assert.equal(normalizeWell('12'), null);
  });
});

describe('summarizeScreen', () => {
  it('counts and checks files on a tiny screen', async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'P1'));
    for (const f of ['a_s1_dna.tif', 'a_s1_act.tif', 'a_s2_dna.tif', 'b_s1_dna.tif', 'b_s1_act.tif']) writeFileSync(path.join(dir, 'P1', f), '');
    const metadata = write(dir, 'ld.csv', [
      'Metadata_Plate,Metadata_Well,Metadata_Site,FileName_DNA,PathName_DNA,FileName_Act,PathName_Act,Metadata_Compound,Metadata_Concentration,Metadata_Batch,Metadata_MOA',
      'P1,A01,1,a_s1_dna.tif,P1,a_s1_act.tif,P1,DMSO,0,b1,',
      'P1,A01,2,a_s2_dna.tif,P1,a_s2_act.tif,P1,DMSO,0,b1,',
      'P1,B01,1,b_s1_dna.tif,P1,b_s1_act.tif,P1,taxol,1,b1,Microtubule stabilizers',
      'P2,A01,1,x.tif,P2,y.tif,P2,DMSO,0,b2,',
    ]);
    const { screen } = await loadScreen({ metadata, images: dir });
    const s = await summarizeScreen(screen, { checkFiles: true });
    assert.equal(s.fields, 4);
    assert.deepEqual(s.plates, { count: 2, names: ['P1', 'P2'] });
    assert.deepEqual(s.batches.names, ['b1', 'b2']);
    assert.equal(s.wells.count, 3);
    assert.deepEqual(s.sites.perWell, { '1': 2, '2': 1 });
    assert.deepEqual(s.controls.perPlate, { P1: 1, P2: 1 });
    assert.equal(s.moaTreatments, 1);
    assert.deepEqual(s.moas, [{ moa: 'Microtubule stabilizers', treatments: 1, compounds: 1 }]);
    assert.deepEqual(
      s.treatments.map((t) => [t.compound, t.concentration, t.wells, t.fields, t.control]),
      [['DMSO', 0, 2, 3, true], ['taxol', 1, 1, 1, false]],
    );
    assert.equal(s.files!.files, 8);
    assert.equal(s.files!.present, 5);
    assert.deepEqual(s.files!.missingFiles, [path.join(dir, 'P1', 'a_s2_act.tif'), path.join(dir, 'P2', 'x.tif'), path.join(dir, 'P2', 'y.tif')]);
    assert.equal(s.files!.fieldsComplete, 2);
    assert.equal((await summarizeScreen(screen, { checkFiles: false })).files, undefined);
  });
});

describe('real BBBC021 tables', () => {
  it('55 plates, 3,300 wells, 13,200 fields, 3 channels, 103 MOA treatments, 12 MOAs, 6 DMSO wells per plate; present files match images/INDEX.csv', async (t) => {
    const meta = sharedData('bbbc021', 'metadata');
    const images = sharedData('bbbc021', 'images');
    if (!meta || !images) return t.skip(skipMessage('bbbc021/metadata, bbbc021/images'));
    const { screen, problems } = await loadScreen({
      metadata: path.join(meta, 'BBBC021_v1_image.csv'),
      images,
      moa: path.join(meta, 'BBBC021_v1_moa.csv'),
    });
    assert.deepEqual(problems, []);
    const s = await summarizeScreen(screen, { checkFiles: true });
    assert.equal(s.plates.count, 55);
    assert.equal(s.batches.count, 10);
    assert.equal(s.wells.count, 3300);
    assert.equal(s.fields, 13200);
    assert.deepEqual(s.sites.perWell, { '4': 3300 });
    assert.deepEqual(s.channels, ['DAPI', 'Tubulin', 'Actin']);
    assert.equal(s.moaTreatments, 103);
    assert.equal(s.treatments.find((x) => x.control)?.moa, 'DMSO');
    assert.equal(s.moas.length, 12);
    assert.deepEqual([s.controls.minPerPlate, s.controls.maxPerPlate], [6, 6]);

    const index = parse(readFileSync(path.join(images, 'INDEX.csv')), { columns: true }) as Record<string, string>[];
    const present = new Set(index.map((r) => path.join(images, '..', r['path']!)));
    assert.equal(s.files!.files, 13200 * 3);
    assert.equal(s.files!.present, present.size);
    assert.equal(s.files!.missing, 13200 * 3 - present.size);
    assert.equal(s.files!.fieldsComplete, 0);
    const missing = new Set(s.files!.missingFiles);
    for (const p of present) assert.ok(!missing.has(p), p);
    // the INDEX's plate, well, site and MOA agree with the table's field for each present file
    for (const r of index) {
      const file = path.join(images, '..', r['path']!);
      const field = screen.fields.find((f) => Object.values(f.images).includes(file));
      assert.ok(field, file);
      assert.deepEqual([field.plate, field.well, field.site], [r['plate'], r['well'], Number(r['site'])]);
      assert.equal(field.moa, r['moa'] === '' ? null : r['moa']);
    }
  });
});
