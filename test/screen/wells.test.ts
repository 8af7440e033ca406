/**
 * Wells as instruments name them: A01/A1, 1536-well AF48, Harmony/Opera Phenix r02c05, a row and a
 * column in two columns; any other name kept as an opaque key with one warning; collisions after
 * normalisation named. And OME-Zarr plates as a screen: their layout and the platemap's problems.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadScreen, normalizeWell, resolveImages, summarizeScreen } from '../../src/screen/index.js';
import { rowLetters, wellFromRowColumn } from '../../src/screen/load.js';
import { writeZarrPlateV2 } from '../image/fixtures.js';
import { tempDir } from '../helpers.js';

function write(dir: string, name: string, lines: string[]): string {
  const file = path.join(dir, name);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

describe('well names', () => {
  it('plate positions in every form map to one canonical name', () => {
    assert.equal(normalizeWell('r02c05'), 'B05');
    assert.equal(normalizeWell('R2C5'), 'B05');
    assert.equal(normalizeWell('r16c24'), 'P24');
    assert.equal(normalizeWell('r32c48'), 'AF48'); // 1536-well: 32 rows A..Z, AA..AF
    assert.equal(normalizeWell('af48'), 'AF48');
    assert.equal(normalizeWell('AF048'), 'AF48');
    assert.equal(normalizeWell('r00c01'), null);
    assert.equal(normalizeWell('well-7'), null);
    assert.deepEqual([1, 26, 27, 32, 52, 53].map(rowLetters), ['A', 'Z', 'AA', 'AF', 'AZ', 'BA']);
    assert.equal(wellFromRowColumn('2', '5'), 'B05');
    assert.equal(wellFromRowColumn('b', '05'), 'B05');
    assert.equal(wellFromRowColumn('27', '1'), 'AA01');
    assert.equal(wellFromRowColumn('B', 'x'), null);
    assert.equal(wellFromRowColumn('0', '3'), null);
  });

  const header = 'Metadata_Plate,Metadata_Well,Metadata_Site,FileName_DNA,PathName_DNA,Metadata_Compound,Metadata_Concentration';

  it('a table mixing forms: every row kept, canonical names where they are positions, one warning for the others', async () => {
    const dir = tempDir();
    const metadata = write(dir, 'wells.csv', [
      header,
      'P1,r02c05,1,a.tif,.,DMSO,0',
      'P1,AF48,1,b.tif,.,DMSO,0',
      'P1,a3,1,c.tif,.,taxol,1',
      'P1,ctrl-left,1,d.tif,.,taxol,1',
      'P1,ctrl-right,1,e.tif,.,taxol,1',
      'P1,Z99x,1,f.tif,.,taxol,1',
    ]);
    const { screen, problems } = await loadScreen({ metadata, images: dir });
    assert.deepEqual(screen.fields.map((f) => f.well), ['B05', 'AF48', 'A03', 'ctrl-left', 'ctrl-right', 'Z99x']);
    assert.equal(problems.length, 1, problems.map((p) => p.message).join('\n'));
    assert.equal(problems[0]!.row, undefined, 'a warning about the table, not a dropped row');
    assert.match(problems[0]!.message, /3 row\(s\) name wells that are not plate positions .* e\.g\. 'ctrl-left' \(row 4\), 'ctrl-right' \(row 5\), 'Z99x' \(row 6\); kept as given \(no row dropped\)/);
  });

  it('Metadata_Row and Metadata_Col instead of Metadata_Well (numbers or a row letter)', async () => {
    const dir = tempDir();
    const metadata = write(dir, 'rowcol.csv', [
      'Metadata_Plate,Metadata_Row,Metadata_Col,Metadata_Site,FileName_DNA,PathName_DNA,Metadata_Compound,Metadata_Concentration',
      'P1,2,5,1,a.tif,.,DMSO,0',
      'P1,C,7,1,b.tif,.,DMSO,0',
      'P1,27,1,1,c.tif,.,DMSO,0',
    ]);
    const { screen, problems } = await loadScreen({ metadata, images: dir });
    assert.deepEqual(problems.filter((p) => p.row !== undefined), []);
    assert.deepEqual(screen.fields.map((f) => f.well), ['B05', 'C07', 'AA01']);
    // neither a well nor a row and column: the message says which columns would do
    const none = write(dir, 'none.csv', ['Metadata_Plate,Metadata_Row,Metadata_Site,FileName_DNA,PathName_DNA,Metadata_Compound,Metadata_Concentration', 'P1,2,1,a.tif,.,DMSO,0']);
    await assert.rejects(loadScreen({ metadata: none, images: dir }), /no column 'Metadata_Well' or 'Metadata_Row' and 'Metadata_Col'; its columns are/);
  });

  it('two names of one plate position on one site: the later row dropped, naming both rows and both names', async () => {
    const dir = tempDir();
    const metadata = write(dir, 'collide.csv', [header, 'P1,B5,1,a.tif,.,DMSO,0', 'P1,B05,2,b.tif,.,DMSO,0', 'P1,r02c05,1,c.tif,.,DMSO,0']);
    const { screen, problems } = await loadScreen({ metadata, images: dir });
    assert.deepEqual(screen.fields.map((f) => `${f.well}/${f.site}`), ['B05/1', 'B05/2']);
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.row, 3);
    assert.match(problems[0]!.message, /row 3: P1\/B05\/s1 is already on row 1 \(well 'B5' there, 'r02c05' here: the same plate position B05\); row dropped/);
  });
});

describe('OME-Zarr plates as a screen', () => {
  const W = 8;
  const H = 6;
  const plane = (v: number) => new Uint16Array(W * H).fill(v);
  function plate(dir: string, name: string): string {
    const p = path.join(dir, `${name}.zarr`);
    writeZarrPlateV2({
      dir: p, name, channels: ['DNA', 'Actin'], width: W, height: H, chunkRows: H,
      wells: [
        { row: 'A', column: '1', fields: [[plane(1), plane(2)], [plane(3), plane(4)]] },
        { row: 'B', column: '12', fields: [[plane(5), plane(6)]] },
        { row: 'C', column: '3', fields: [[plane(7), plane(8)]] },
      ],
    });
    return p;
  }

  it('fields from the plates, treatments from the platemap; platemap rows without a well, wells without a row: reported', async () => {
    const dir = tempDir();
    const p1 = plate(dir, 'P1');
    mkdirSync(path.join(dir, 'more'));
    plate(path.join(dir, 'more'), 'P2');
    const platemap = write(dir, 'platemap.csv', [
      'Metadata_Plate,Metadata_Well,Metadata_Compound,Metadata_Concentration,Metadata_MOA',
      'P1,A01,DMSO,0,',
      'P1,r02c12,taxol,1,Microtubule stabilizers',
      'P1,D04,taxol,3,Microtubule stabilizers',
      'P2,A1,DMSO,0,',
      'P3,A1,DMSO,0,',
    ]);
    const { screen, problems } = await loadScreen({ metadata: platemap, images: `${p1},${path.join(dir, 'more')}` });
    assert.deepEqual(screen.channels, ['DNA', 'Actin']);
    assert.deepEqual(screen.fields.map((f) => `${f.plate}/${f.well}/${f.site} ${f.compound}`), ['P1/A01/0 DMSO', 'P1/A01/1 DMSO', 'P1/B12/0 taxol', 'P2/A01/0 DMSO', 'P2/A01/1 DMSO']);
    assert.equal(screen.fields[2]!.moa, 'Microtubule stabilizers');
    assert.equal(screen.fields[1]!.images.Actin, `${path.join(p1, 'A', '1', '1')}#zarr=Actin`);
    const messages = problems.map((p) => p.message);
    assert.ok(messages.some((m) => /row 3: well D04 is not in OME-Zarr plate .*P1\.zarr; row dropped/.test(m)), messages.join('\n'));
    assert.ok(messages.some((m) => /row 5: plate P3 is none of the OME-Zarr plates \(P1, P2\)/.test(m)), messages.join('\n'));
    assert.ok(messages.some((m) => /P1\.zarr: 1 of its 3 wells have no row in the platemap .* \(e\.g\. C\/3\); not used/.test(m)), messages.join('\n'));
    assert.ok(messages.some((m) => /P2\.zarr: 2 of its 3 wells have no row/.test(m)), messages.join('\n'));
    const summary = await summarizeScreen(screen, { checkFiles: true });
    assert.deepEqual([summary.files!.files, summary.files!.present, summary.files!.fieldsComplete], [5, 5, 5]);
  });

  it('resolveImages makes every plate of a list absolute', () => {
    assert.equal(resolveImages('a.zarr, b.zarr'), `${path.resolve('a.zarr')},${path.resolve('b.zarr')}`);
    assert.equal(resolveImages('imgs'), path.resolve('imgs'));
  });

  it('a folder that is not a plate, and a table without file columns and without plates, are refused clearly', async () => {
    const dir = tempDir();
    const platemap = write(dir, 'platemap.csv', ['Metadata_Plate,Metadata_Well,Metadata_Compound,Metadata_Concentration', 'P1,A01,DMSO,0']);
    mkdirSync(path.join(dir, 'empty.zarr'));
    await assert.rejects(loadScreen({ metadata: platemap, images: path.join(dir, 'empty.zarr') }), /empty\.zarr is not an OME-Zarr plate: no zarr\.json, \.zattrs or \.zgroup/);
    await assert.rejects(loadScreen({ metadata: platemap, images: path.join(dir, 'nothing-here') }), /no FileName_<Channel>.*columns/);
  });
});
