/**
 * Report benchmark: a synthetic evaluated run of N treatments x D features (default 1,000 x 2,048,
 * 12 MOAs; MORPHOPROF_BENCH_REPORT_TREATMENTS / _FEATURES to change), then `writeReport` with PCA
 * and with UMAP. Prints wall and CPU time of each (the machine may be shared), the PCA alone, the
 * page size and peak RSS.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { evaluateNsc, writeEvaluation } from '../src/evaluate/index.js';
import { pca2, writeReport } from '../src/report/index.js';
import { writeProfiles, type ProfileTable } from '../src/table/index.js';

const treatments = Number(process.env.MORPHOPROF_BENCH_REPORT_TREATMENTS ?? 1000);
const features = Number(process.env.MORPHOPROF_BENCH_REPORT_FEATURES ?? 2048);
const moas = 12;

let state = 12345;
const random = (): number => {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) / 2 ** 32 - 0.5;
};
const centres = Array.from({ length: moas }, () => Float32Array.from({ length: features }, random));
const table: ProfileTable = {
  metadataColumns: ['Metadata_Compound', 'Metadata_Concentration', 'Metadata_MOA'],
  metadata: Array.from({ length: treatments }, (_, i) => ({ Metadata_Compound: `cmpd-${Math.floor(i / 4)}`, Metadata_Concentration: (i % 4) + 1, Metadata_MOA: `MOA ${Math.floor(i / 4) % moas}` })),
  featureColumns: Array.from({ length: features }, (_, j) => `f${j}`),
  features: Array.from({ length: treatments }, (_, i) => Float32Array.from(centres[Math.floor(i / 4) % moas]!, (c) => c + 1.5 * random())),
};

const dir = mkdtempSync(path.join(tmpdir(), 'morphoprof-bench-report-'));
try {
  await writeProfiles(path.join(dir, 'treatment_profiles.parquet'), table);
  await writeEvaluation(dir, await evaluateNsc(table));
  writeFileSync(path.join(dir, 'run.json'), JSON.stringify({ morphoprof: '0.1.0', settings: { model: 'bench' }, counts: {}, timings: {} }));
  console.log(`report of ${treatments} treatments x ${features} features, ${moas} MOAs`);

  const cpu = (since: NodeJS.CpuUsage): string => {
    const used = process.cpuUsage(since);
    return `${((used.user + used.system) / 1e6).toFixed(2)} s CPU`;
  };
  let t = performance.now();
  let c = process.cpuUsage();
  const { explained } = pca2(table.features);
  console.log(`pca2 alone:          ${((performance.now() - t) / 1000).toFixed(2)} s, ${cpu(c)} (PC1 ${(100 * explained[0]).toFixed(1)}%, PC2 ${(100 * explained[1]).toFixed(1)}%)`);
  t = performance.now();
  c = process.cpuUsage();
  const { html } = await writeReport(dir);
  console.log(`writeReport (PCA):   ${((performance.now() - t) / 1000).toFixed(2)} s, ${cpu(c)}, page ${(statSync(html).size / 1e6).toFixed(2)} MB`);
  t = performance.now();
  c = process.cpuUsage();
  await writeReport(dir, { umap: true });
  console.log(`writeReport (+UMAP): ${((performance.now() - t) / 1000).toFixed(2)} s, ${cpu(c)}`);
  console.log(`peak RSS:            ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
