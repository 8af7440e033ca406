import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  atStrength, compoundPhenotype, DMSO_PHENOTYPE, FieldRenderer, MOA_TABLE, normalTable, Rng, type Phenotype,
} from '../../src/synth/index.js';

const W = 320;
const H = 256;
const flat = () => [0, 1, 2].map(() => ({ gain: 1, illumination: new Float32Array(W * H).fill(1) }));

/** Per stain: mean counts, and the fraction of DNA pixels well above background (nuclear area). */
function measure(p: Phenotype, fields = 4): { dna: number; tubulin: number; actin: number; dnaArea: number; brightDna: number } {
  const renderer = new FieldRenderer(W, H, normalTable(new Rng(1)));
  const optics = flat();
  let dna = 0, tubulin = 0, actin = 0, dnaArea = 0, brightDna = 0;
  for (let f = 0; f < fields; f++) {
    const [d, t, a] = renderer.render(Rng.from(11, 'field', f), p, optics) as [Uint16Array, Uint16Array, Uint16Array];
    for (let i = 0; i < d.length; i++) {
      dna += d[i] as number;
      tubulin += t[i] as number;
      actin += a[i] as number;
      if ((d[i] as number) > 1200) dnaArea++;
      if ((d[i] as number) > 6000) brightDna++;
    }
  }
  const n = fields * W * H;
  return { dna: dna / n, tubulin: tubulin / n, actin: actin / n, dnaArea: dnaArea / n, brightDna: brightDna / n };
}

const moa = (name: string) => {
  const def = MOA_TABLE.find((m) => m.moa === name);
  assert.ok(def, name);
  return compoundPhenotype(1, def, def.compounds[0]?.name as string);
};

const dmso = measure({ ...DMSO_PHENOTYPE });

test('DMSO fields have BBBC021-like intensities', () => {
  assert.ok(dmso.dna > 600 && dmso.dna < 1000, `DNA mean ${dmso.dna}`);
  assert.ok(dmso.tubulin > 1600 && dmso.tubulin < 3200, `tubulin mean ${dmso.tubulin}`);
  assert.ok(dmso.actin > 2800 && dmso.actin < 5500, `actin mean ${dmso.actin}`);
  assert.ok(dmso.dnaArea > 0.05 && dmso.dnaArea < 0.3, `nuclear area fraction ${dmso.dnaArea}`);
});

test('microtubule stabilizers raise the field\'s tubulin mean well above DMSO', (t) => {
  const m = measure(moa('Microtubule stabilizers'));
  t.diagnostic(`tubulin mean ${m.tubulin.toFixed(0)} vs DMSO ${dmso.tubulin.toFixed(0)}`);
  assert.ok(m.tubulin > 1.3 * dmso.tubulin, `tubulin ${m.tubulin} vs DMSO ${dmso.tubulin}`);
});

test('cytostatic MOAs leave fewer nuclei (lower DNA-area fraction) than DMSO; kinase inhibitors more', () => {
  for (const name of ['Protein synthesis', 'Microtubule stabilizers', 'Aurora kinase inhibitors']) {
    const m = measure(moa(name));
    assert.ok(m.dnaArea < 0.85 * dmso.dnaArea || name === 'Aurora kinase inhibitors', `${name}: DNA area ${m.dnaArea} vs DMSO ${dmso.dnaArea}`);
    if (name === 'Aurora kinase inhibitors') assert.ok(m.dna > 1.15 * dmso.dna, `Aurora: fewer but larger, brighter nuclei: DNA mean ${m.dna} vs ${dmso.dna}`);
  }
  const k = measure(moa('Kinase inhibitors'));
  assert.ok(k.dnaArea > 1.15 * dmso.dnaArea, `kinase inhibitors: DNA area ${k.dnaArea} vs DMSO ${dmso.dnaArea}`);
});

test('mitotic arrest shows as condensed, very bright chromatin', () => {
  const m = measure(moa('Microtubule destabilizers'));
  assert.ok(m.brightDna > 3 * Math.max(dmso.brightDna, 1e-4), `bright DNA fraction ${m.brightDna} vs DMSO ${dmso.brightDna}`);
});

test('actin disruptors and protein-synthesis inhibitors shift actin; doses are graded', () => {
  const full = moa('Protein synthesis');
  const low = atStrength(full, 0.6);
  assert.ok(low.actin > DMSO_PHENOTYPE.actin && low.actin < full.actin, 'lower dose: part of the effect');
  assert.ok(low.density < DMSO_PHENOTYPE.density && low.density > full.density);
  assert.deepEqual(atStrength(full, 0), { ...DMSO_PHENOTYPE });
  const ps = measure(full);
  const psLow = measure(low);
  assert.ok(ps.dnaArea < psLow.dnaArea && psLow.dnaArea < dmso.dnaArea, `dose response of nuclear area: ${ps.dnaArea} < ${psLow.dnaArea} < ${dmso.dnaArea}`);
});

test('compounds of one MOA differ a little, MOAs differ a lot', () => {
  const def = MOA_TABLE.find((m) => m.moa === 'Actin disruptors');
  assert.ok(def && def.compounds.length >= 2);
  const [a, b] = def.compounds.map((c) => compoundPhenotype(1, def, c.name)) as [Phenotype, Phenotype];
  assert.notDeepEqual(a, b);
  for (const key of Object.keys(def.effects) as Array<keyof Phenotype>) {
    const dA = a[key] - DMSO_PHENOTYPE[key];
    const dB = b[key] - DMSO_PHENOTYPE[key];
    assert.ok(Math.sign(dA) === Math.sign(dB), `${key}: same direction for both compounds`);
  }
});
