/**
 * Evaluation at scale: NSC, NSCB and same-MOA mAP of 50,000 synthetic treatment profiles x 2,048
 * float32 features through the library's own blocked path (`evaluateNsc`: onnxruntime Gemm blocks
 * of query rows, top-1 per row with the exclusions, AP per row; never an n x n matrix).
 *   npx tsc -p . && node dist/bench/evaluate.js [--n 50000] [--features 2048] [--block 0]
 */
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { evaluateNsc } from '../src/evaluate/nsc.js';
import { normalTable, Rng } from '../src/synth/random.js';
import type { ProfileTable } from '../src/table/types.js';

const { values } = parseArgs({ options: { n: { type: 'string', default: '50000' }, features: { type: 'string', default: '2048' }, block: { type: 'string', default: '0' } } });
const n = Number(values.n);
const p = Number(values.features);
const MOAS = 20;
const CONCENTRATIONS = 5;
const BATCHES = 10;

/** Treatment = MOA centroid + compound effect + treatment noise; a compound's doses share a batch. */
function synthetic(): ProfileTable {
  const rng = new Rng(7);
  const normals = normalTable(rng, 1 << 20);
  const mask = normals.length - 1;
  const centroids = Float32Array.from({ length: MOAS * p }, () => rng.normal());
  const data = new Float32Array(n * p); // one buffer, rows are views: no per-row allocation
  const metadata: ProfileTable['metadata'] = [];
  const features: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const compound = Math.floor(i / CONCENTRATIONS);
    const moa = compound % MOAS;
    const row = data.subarray(i * p, (i + 1) * p);
    const c = Math.imul(compound, 0x9e3779b1);
    const t = Math.imul(i, 0x85ebca6b);
    for (let j = 0; j < p; j++) row[j] = 0.12 * centroids[moa * p + j]! + 0.8 * normals[(c + j * 7919) & mask]! + 0.8 * normals[(t + j * 104729) & mask]!;
    metadata.push({ Metadata_Compound: `cpd${compound}`, Metadata_Concentration: i % CONCENTRATIONS, Metadata_MOA: `moa${moa}`, Metadata_Batch: `Week${Math.floor(compound / MOAS) % BATCHES}` });
    features.push(row);
  }
  return { metadataColumns: ['Metadata_Compound', 'Metadata_Concentration', 'Metadata_MOA', 'Metadata_Batch'], metadata, featureColumns: Array.from({ length: p }, (_, j) => `f${j}`), features };
}

let t = performance.now();
const table = synthetic();
console.log(`evaluate bench: ${n} treatments x ${p} features (float32, ${((n * p * 4) / 2 ** 20).toFixed(0)} MB) synthesized in ${((performance.now() - t) / 1000).toFixed(1)} s`);
t = performance.now();
const cpu0 = process.cpuUsage();
const r = await evaluateNsc(table, { blockRows: Number(values.block) || undefined });
const seconds = (performance.now() - t) / 1000;
const cpu = process.cpuUsage(cpu0);
console.log(`evaluate bench: NSC ${r.nsc.accuracy.toFixed(3)}, NSCB ${r.nscb!.accuracy.toFixed(3)} (eligible ${r.nscb!.eligible.total}), mAP ${r.map.meanAveragePrecision?.toFixed(3)} over ${r.map.queries} queries`);
if (r.map.note) console.log(`evaluate bench: ${r.map.note}`);
console.log(`evaluate bench: ${seconds.toFixed(1)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU (${availableParallelism()} cores, load average ${loadavg()[0]!.toFixed(1)}), peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
