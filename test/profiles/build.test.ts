import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Command } from 'commander';
import { register as registerEvaluate } from '../../src/cli/evaluate.js';
import { register as registerProfile } from '../../src/cli/profile.js';
import { MorphoprofError } from '../../src/errors.js';
import { evaluate } from '../../src/evaluate/index.js';
import { buildProfiles, buildProfilesWithSummary } from '../../src/profiles/index.js';
import { readProfiles } from '../../src/table/index.js';
import { sharedData, skipMessage, tempDir } from '../helpers.js';

/** Two plates; per plate 2 DMSO wells and 2 treated wells, 2 fields each; feature c has a NaN. */
function fieldsCsv(dir: string, { duplicateWells = false } = {}): string {
  const lines = ['Metadata_Plate,Metadata_Well,' + (duplicateWells ? '' : 'Metadata_Site,') + 'Metadata_Compound,Metadata_Concentration,a,b,c'];
  const wells = [
    ['B02', 'DMSO', 0, 1, 2],
    ['B03', 'DMSO', 0, 3, 4],
    ['B04', 'taxol', 0.3, 9, 1],
    ['B05', 'colchicine', 0.1, 2, 8],
  ] as const;
  for (const [plate, shift] of [['P1', 0], ['P2', 100]] as const) {
    for (const [well, compound, conc, a, b] of wells) {
      for (const site of [1, 2]) {
        const c = plate === 'P2' && well === 'B04' && site === 2 ? 'NaN' : String(a * site);
        lines.push(`${plate},${well},${duplicateWells ? '' : `${site},`}${compound},${conc},${a + shift + site * 0.5},${b + shift * 2 + site * 0.25},${c}`);
      }
    }
  }
  const file = path.join(dir, 'fields.csv');
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

test('buildProfiles: fields -> wells in DuckDB, per-plate standardization on DMSO, treatments', async () => {
  const dir = tempDir();
  const warnings: string[] = [];
  const { table, summary } = await buildProfilesWithSummary(fieldsCsv(dir), { normalize: 'standardize', warn: (m) => warnings.push(m) });
  assert.equal(summary.wells, 8);
  assert.deepEqual(table.featureColumns, ['a', 'b', 'c']);
  // plate shifts of 100 and 200 vanish: each plate's DMSO wells are -1 and +1, treated wells alike on both plates
  const byPlateWell = Object.fromEntries(table.metadata.map((m, i) => [`${m.Metadata_Plate}/${m.Metadata_Well}`, [...table.features[i]!]]));
  assert.deepEqual(byPlateWell['P1/B02']!.slice(0, 2), [-1, -1]);
  assert.deepEqual(byPlateWell['P1/B04']!.slice(0, 2), byPlateWell['P2/B04']!.slice(0, 2));
  assert.deepEqual(byPlateWell['P1/B04']!.slice(0, 2), [7, -2]);
  assert.deepEqual(warnings.filter((w) => /feature/.test(w)), [], 'the NaN in c is averaged away at the well level (NaN ignored)');

  const treatments = await buildProfiles(fieldsCsv(dir), { normalize: 'standardize', level: 'treatment' });
  assert.deepEqual(treatments.metadata.map((m) => m.Metadata_Compound).sort(), ['DMSO', 'colchicine', 'taxol']);
});

test('buildProfiles names what it drops: NaN feature columns, repeated wells, two treatments in a well', async () => {
  const dir = tempDir();
  const file = fieldsCsv(dir, { duplicateWells: true });
  const text = readFileSync(file, 'utf8').replace(/,NaN$/m, ',').replace(/^(P2,B04,taxol,0.3,[^,]+,[^,]+),2$/m, '$1,');
  writeFileSync(file, text);
  const warnings: string[] = [];
  const fields = await readProfiles(file);
  // a whole well without c: the well-level c is NaN -> column dropped
  fields.features.forEach((f, i) => fields.metadata[i]!.Metadata_Well === 'B04' && fields.metadata[i]!.Metadata_Plate === 'P2' && (f[2] = Number.NaN));
  const { table, summary } = await buildProfilesWithSummary(fields, { warn: (m) => warnings.push(m) });
  assert.deepEqual(table.featureColumns, ['a', 'b']);
  assert.deepEqual(summary.droppedFeatures.missing, ['c']);
  assert.ok(warnings.some((w) => /1 feature\(s\) have missing .*dropped: c$/.test(w)), warnings.join('\n'));
  const fromFile: string[] = [];
  await buildProfiles(file, { warn: (m) => fromFile.push(m) });
  assert.ok(fromFile.some((w) => /8 well\(s\) appear on more than one row and were averaged \(e\.g\. P1\/B02 x 2\)/.test(w)), fromFile.join('\n'));
  writeFileSync(file, text.replace('P1,B02,DMSO', 'P1,B02,taxol'));
  await assert.rejects(buildProfiles(file), (e: unknown) => e instanceof MorphoprofError && /Metadata_Plate=P1, Metadata_Well=B02 has more than one Metadata_Compound/.test(e.message));
});

function realData(): { profiles: string; image: string; moa: string; mad: string } | null {
  const profiles = sharedData('bbbc021', 'profiles', 'ljosa_jbiomolscreen_2013_per_well_mean.csv.gz');
  const mad = sharedData('bbbc021', 'profiles', 'BBBC021_feature_selected_mad_robustize.csv');
  const image = sharedData('bbbc021', 'metadata', 'BBBC021_v1_image.csv');
  const moa = sharedData('bbbc021', 'metadata', 'BBBC021_v1_moa.csv');
  return profiles && image && moa && mad ? { profiles, image, moa, mad } : null;
}

/**
 * Independently measured (../shared/data/SOURCES.md): cosine NSC 1-NN on BBBC021's per-well
 * CellProfiler means, treatments = mean of wells, DMSO excluded: raw 51/103; per-plate z-score
 * against the plate's 6 DMSO wells 84/103.
 */
test('real BBBC021 baseline via the library: raw means 51/103, per-plate DMSO standardization 84/103 NSC', async (t) => {
  const data = realData();
  if (!data) return t.skip(skipMessage('bbbc021/profiles and bbbc021/metadata'));
  const warnings: string[] = [];
  const common = { metadata: data.image, moa: data.moa, warn: (m: string) => warnings.push(m) };
  const raw = await buildProfiles(data.profiles, common);
  assert.equal(raw.features.length, 632);
  assert.equal((await evaluate({ profiles: raw, out: tempDir(), permutations: 0 })).metrics.nsc.correct, 51);
  const standardized = await buildProfiles(data.profiles, { ...common, normalize: 'standardize', by: 'plate', fit: 'controls' });
  const r = await evaluate({ profiles: standardized, out: tempDir(), permutations: 0 });
  assert.deepEqual([r.metrics.nsc.correct, r.metrics.nsc.total], [84, 103]);
  // the three Children_Count features are constant in some plates' DMSO wells: named and dropped
  assert.ok(warnings.some((w) => /3 feature\(s\) have zero spread/.test(w) && w.includes('Nuclei_Children_Cells_Count')), warnings.join('\n'));
});

test('real BBBC021 baseline via the CLI: profile then evaluate gives 84/103 NSC and NSCB over 92 eligible', async (t) => {
  const data = realData();
  if (!data) return t.skip(skipMessage('bbbc021/profiles and bbbc021/metadata'));
  const out = tempDir();
  const lines: string[] = [];
  const log = t.mock.method(console, 'log', (line: string) => lines.push(line));
  const program = new Command().exitOverride();
  registerProfile(program);
  registerEvaluate(program);
  await program.parseAsync(['profile', '--profiles', data.profiles, '--metadata', data.image, '--moa', data.moa, '--normalize', 'standardize', '--controls', 'DMSO', '--out', out], { from: 'user' });
  await program.parseAsync(['evaluate', '--profiles', path.join(out, 'profiles.parquet'), '--out', path.join(out, 'eval'), '--permutations', '0'], { from: 'user' });
  log.mock.restore();
  assert.ok(lines.includes('NSC accuracy: 0.816 (84/103)'), lines.join('\n'));
  const metrics = JSON.parse(readFileSync(path.join(out, 'eval', 'metrics.json'), 'utf8'));
  assert.equal(metrics.nscb.total, 103);
  assert.equal(metrics.nscb.eligible.total, 92, 'FIELD.md: kinase inhibitors (Week7) and statins (Week9) have no eligible same-MOA neighbour');
});

/**
 * The tvn preset (docs/baseline.md, "standardize on the screen's DMSO wells, then sphere"): the best
 * of the lambda sweep there, 96/103 NSC and 70 of the 92 eligible NSCB.
 */
test('real BBBC021 baseline via the CLI: --normalize tvn gives 96/103 NSC and 70/92 eligible NSCB', async (t) => {
  const data = realData();
  if (!data) return t.skip(skipMessage('bbbc021/profiles and bbbc021/metadata'));
  const out = tempDir();
  const lines: string[] = [];
  const log = t.mock.method(console, 'log', (line: string) => lines.push(line));
  const program = new Command().exitOverride();
  registerProfile(program);
  registerEvaluate(program);
  await program.parseAsync(['profile', '--profiles', data.profiles, '--metadata', data.image, '--moa', data.moa, '--normalize', 'tvn', '--out', out], { from: 'user' });
  await program.parseAsync(['evaluate', '--profiles', path.join(out, 'profiles.parquet'), '--out', path.join(out, 'eval'), '--permutations', '0'], { from: 'user' });
  log.mock.restore();
  assert.ok(lines.includes('NSC accuracy: 0.932 (96/103)'), lines.join('\n'));
  const metrics = JSON.parse(readFileSync(path.join(out, 'eval', 'metrics.json'), 'utf8'));
  assert.deepEqual([metrics.nscb.eligible.correct, metrics.nscb.eligible.total], [70, 92]);
});

test('real BBBC021 pycytominer mad_robustize table (lower-case Metadata_moa) evaluates as it is', async (t) => {
  const data = realData();
  if (!data) return t.skip(skipMessage('bbbc021/profiles'));
  const r = await evaluate({ profiles: data.mad, out: tempDir(), permutations: 0 });
  assert.equal(r.metrics.nsc.total, 103);
  assert.equal(r.metrics.nscb, null, 'no batch column: no NSCB');
  const withBatch = await evaluate({ profiles: data.mad, metadata: data.image, out: tempDir(), permutations: 0 });
  assert.equal(withBatch.metrics.nsc.correct, r.metrics.nsc.correct, 'the platemap only adds the batch');
  assert.equal(withBatch.metrics.nscb?.eligible.total, 92);
});
