/**
 * Report benchmark: a synthetic evaluated run of N treatments x D features (default 1,000 x 2,048,
 * 12 MOAs; MORPHOPROF_BENCH_REPORT_TREATMENTS / _FEATURES to change), then `writeReport` with PCA
 * and with UMAP. Prints wall and CPU time of each (the machine may be shared), the PCA alone, the
 * page size and peak RSS.
 *
 * Then the pictures of the cells, for each count of MORPHOPROF_BENCH_REPORT_PICTURES (default
 * 100,1000) treatments of 2 real-size (1280x1024, 3 stains) synthetic fields each: time, size of
 * report.html and of the pictures, and whether they fit the page's budget or went to gallery.html.
 * The fields' images come from a pool of 16 synthetic fields (each treatment points at two), so the
 * pictures compress as real-size ones would without writing thousands of files.
 */
import { rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { evaluateNsc, writeEvaluation } from '../src/evaluate/index.js';
import { treatmentProfiles } from '../src/profiles/index.js';
import { DEFAULT_PICTURE_BUDGET, pca2, writeReport } from '../src/report/index.js';
import { loadScreen } from '../src/screen/index.js';
import { synthesizeScreen } from '../src/synth/index.js';
import { writeProfiles, type ProfileTable } from '../src/table/index.js';
import { writeCsvRecords } from '../src/util/csv.js';
import { tempDir } from '../test/helpers.js';

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

const dir = tempDir('morphoprof-bench-report-');
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
  await pictures(dir);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

async function pictures(dir: string): Promise<void> {
  const counts = (process.env.MORPHOPROF_BENCH_REPORT_PICTURES ?? '100,1000').split(',').map(Number);
  const synth = await synthesizeScreen({ out: path.join(dir, 'pool'), plates: 1, width: 1280, height: 1024, sites: 1, doses: 1, controls: 2, seed: 5 });
  const pool = (await loadScreen({ metadata: synth.imageTable, images: synth.imagesRoot })).screen.fields;
  const channels = Object.keys(pool[0]!.images);
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;
  console.log(`pictures: budget for report.html ${mb(DEFAULT_PICTURE_BUDGET)} of pictures; fields from a pool of ${pool.length} synthetic 1280x1024 fields x ${channels.length} stains`);
  for (const n of counts) {
    const run = path.join(dir, `pictures-${n}`);
    const rows: Array<Record<string, unknown>> = [];
    const metadata: ProfileTable['metadata'] = [];
    const features: Float32Array[] = [];
    for (let t = 0; t < n; t++) {
      const centre = Float32Array.from({ length: 32 }, random);
      for (let site = 1; site <= 2; site++) {
        const source = pool[(t + site) % pool.length]!;
        const plate = `P${Math.floor(t / 96) + 1}`;
        const well = `${'ABCDEFGH'[Math.floor((t % 96) / 12)]}${String((t % 12) + 1).padStart(2, '0')}`;
        const row = { Metadata_Plate: plate, Metadata_Well: well, Metadata_Site: site, Metadata_Compound: t === 0 ? 'DMSO' : `cmpd-${Math.floor(t / 2)}`, Metadata_Concentration: t === 0 ? 0 : (t % 2) + 1, Metadata_MOA: t === 0 ? 'DMSO' : `MOA ${t % moas}` };
        rows.push({ ...row, ...Object.fromEntries(channels.flatMap((c) => [[`FileName_${c}`, path.basename(source.images[c]!)], [`PathName_${c}`, path.dirname(source.images[c]!)]])) });
        metadata.push(row);
        features.push(Float32Array.from(centre, (v) => v + 0.3 * random()));
      }
    }
    const table: ProfileTable = { metadataColumns: Object.keys(metadata[0]!), metadata, featureColumns: Array.from({ length: 32 }, (_, j) => `f${j}`), features };
    const csv = path.join(run, 'screen.csv');
    await writeProfiles(path.join(run, 'features', 'fields.parquet'), table);
    await writeCsvRecords(csv, Object.keys(rows[0]!), rows);
    const treatments = treatmentProfiles(table);
    await writeEvaluation(run, await evaluateNsc(treatments), treatments);
    writeFileSync(path.join(run, 'run.json'), JSON.stringify({ morphoprof: '0.1.0', settings: { metadata: csv, images: '/', model: 'bench' }, counts: {}, timings: {} }));
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const files = await writeReport(run);
    const used = process.cpuUsage(c0);
    const p = files.pictures;
    const where = 'reason' in p
      ? `none: ${p.reason}`
      : p.placement === 'report'
        ? `all in the page (${mb(p.reportBytes)} of pictures, ${((p.reportBytes / n) / 1e3).toFixed(1)} kB per treatment)`
        : `over the budget: gallery.html ${mb(statSync(files.gallery!).size)} (${mb(p.galleryBytes)} of pictures); the page keeps ${p.reportBytes ? `small thumbnails (${mb(p.reportBytes)})` : 'no pictures'}`;
    console.log(`pictures, ${n} treatments: writeReport ${((performance.now() - t0) / 1000).toFixed(1)} s, ${((used.user + used.system) / 1e6).toFixed(1)} s CPU; report.html ${mb(statSync(files.html).size)}; ${where}`);
  }
}
