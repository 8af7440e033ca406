/** `morphoprof illum` on a screen where no image can be read: exits non-zero and says why. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { cliPath, tempDir } from '../helpers.js';

function illum(metadata: string, images: string, out: string) {
  return spawnSync(process.execPath, [cliPath, 'illum', '--metadata', metadata, '--images', images, '--out', out], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
}

test('illum with no readable image: exit code 2, the reason on stderr, no "next:" hint', () => {
  const dir = tempDir('morphoprof-illum-cli-');
  mkdirSync(path.join(dir, 'img'));
  const rows = ['Metadata_Plate,Metadata_Well,Metadata_Site,FileName_DNA,PathName_DNA,FileName_Actin,PathName_Actin,Metadata_Compound,Metadata_Concentration'];
  for (const plate of ['P1', 'P2', 'P3']) {
    for (const s of ['DNA', 'Actin']) writeFileSync(path.join(dir, 'img', `${plate}_${s}.tif`), 'not a TIFF at all');
    rows.push(`${plate},A01,1,${plate}_DNA.tif,img,${plate}_Actin.tif,img,DMSO,0`);
  }
  const metadata = path.join(dir, 'screen.csv');
  writeFileSync(metadata, `${rows.join('\n')}\n`);

  const corrupt = illum(metadata, dir, path.join(dir, 'illum'));
  assert.equal(corrupt.status, 2, corrupt.stderr);
  assert.match(corrupt.stderr, /No illumination function computed in .*illum: none of the images of 3 plate\(s\) x 2 stain\(s\) could be read \(plate P1, stain DNA: 1 of 1 images unreadable, skipped \(first: Cannot decode image .*P1_DNA\.tif/);
  assert.doesNotMatch(corrupt.stdout, /next:|0x0/);

  const missing = illum(metadata, path.join(dir, 'no-such-folder'), path.join(dir, 'illum2'));
  assert.equal(missing.status, 2, missing.stderr);
  assert.match(missing.stderr, /No illumination function computed .*could be read \(plate P1, stain DNA: 1 of 1 images unreadable, skipped \(first: Image file not found/);
  assert.ok(existsSync(path.join(dir, 'illum', 'illum.json')), 'the records of what was tried are kept');
});
