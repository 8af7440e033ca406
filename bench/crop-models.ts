/**
 * Raw inference of the crop network (ResNet-50 at the 96-px box size by default) on ready tensors,
 * the variants that decide single-cell speed, measured side by side in one run:
 * - session layout: one session with one onnxruntime thread per core, vs single-threaded sessions,
 *   one per core, each on its own thread and fed batches in turn (the product's default);
 * - crop batch size;
 * - int8 as the product makes it for crops (Pads folded, only the embedding output kept) vs with
 *   the classifier kept, and vs Pads not folded (quantizer v1's graph).
 * Variants are measured in interleaved rounds (so load from other processes hits all alike) and
 * reported as images per wall second and per CPU-second of the process (all threads) x cores: on a
 * shared machine the wall figure measures the load, the CPU figure what an unloaded machine would
 * do if the work scaled to every core. Plus: whether features depend on the layout or batch size
 * (bitwise), and the int8 models' cosine to fp32 on textured test crops.
 *
 *   node dist/bench/crop-models.js [--size 96] [--batches 16,32,64,128] [--seconds 4] [--rounds 2]
 *     [--precisions int8,fp32] [--layouts shared,split]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { cropSessionLayout } from '../src/cells/deep.js';
import { quantizeOnnx } from '../src/models/quantize-node.js';
import { ensureOnnx } from '../src/models/registry.js';
import type { ModelSession } from '../src/models/session.js';
import { openModelInThread } from '../src/models/thread-session.js';
import { tempDir } from '../test/helpers.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '96' },
    batches: { type: 'string', default: '16,32,64,128' },
    seconds: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '2' },
    precisions: { type: 'string', default: 'int8,fp32' },
    layouts: { type: 'string', default: 'shared,split' },
  },
});
const S = Number(values.size);
const cores = os.availableParallelism();
const per = 3 * S * S;
const dir = tempDir('morphoprof-bench-crop-models-');
const load = () => os.loadavg()[0]!.toFixed(1);

/** Textured crops in the caffe range (speed does not depend on content; int8 calibrated on others). */
function crops(n: number, seed: number): Float32Array {
  const a = new Float32Array(n * per);
  for (let i = 0; i < a.length; i++) a[i] = 70 * Math.sin(i * 0.013 + seed) + 25 * Math.cos(i * 0.0007 * (1 + seed)) - 40;
  return a;
}

const fp32Path = await ensureOnnx('resnet50', { inputSize: S === 224 ? undefined : S });
const models: Record<string, string> = { fp32: fp32Path };
if (values.precisions.includes('int8')) {
  const calibration = crops(16, 1);
  // the product's crop file: Pads folded, only the embedding kept; then each of the two undone
  for (const [name, foldPads, outputs] of [
    ['int8', true, ['avg_pool']],
    ['int8 with classifier', true, undefined],
    ['int8 unfolded Pads', false, ['avg_pool']],
  ] as const) {
    const t = performance.now();
    const q = await quantizeOnnx(readFileSync(fp32Path), { calibration, calibrationCount: 16, inputSize: S, foldPads, outputs });
    const file = path.join(dir, `${name.replace(/\W+/g, '-')}.onnx`);
    writeFileSync(file, q.bytes);
    models[name] = file;
    console.log(`${name}: ${q.report.convs} int8 Convs, ${q.report.activations} quantized activations, ${q.report.padsFolded} Pads folded (${((performance.now() - t) / 1000).toFixed(1)} s)`);
  }
}

/** A layout: its sessions (threads) and how batches are fed to them. */
async function open(file: string, layout: 'shared' | 'split'): Promise<ModelSession[]> {
  const { sessions, threads } = layout === 'split' ? cropSessionLayout(undefined, cores) : { sessions: 1, threads: cores };
  const out: ModelSession[] = [];
  for (let k = 0; k < sessions; k++) out.push(await openModelInThread(file, { inputSize: S, preprocessing: 'caffe', embeddingOutput: 'avg_pool', intraOpNumThreads: threads }));
  return out;
}

/** Images per wall second and per CPU-second x cores over `seconds`, batches fed to the sessions in turn. */
async function rate(sessions: ModelSession[], batch: Float32Array, n: number, seconds: number): Promise<{ images: number; wall: number; cpu: number }> {
  const inflight: Array<Promise<unknown> | null> = sessions.map(() => null);
  const c = process.cpuUsage();
  const t = performance.now();
  let images = 0;
  for (let k = 0; performance.now() - t < seconds * 1000; k++) {
    const i = k % sessions.length;
    await inflight[i];
    inflight[i] = sessions[i]!.embed(batch, n);
    images += n;
  }
  await Promise.all(inflight);
  const u = process.cpuUsage(c);
  return { images, wall: (performance.now() - t) / 1000, cpu: (u.user + u.system) / 1e6 };
}

const batches = values.batches.split(',').map(Number);
const maxBatch = Math.max(...batches);
const shared = new Float32Array(new SharedArrayBuffer(maxBatch * per * 4));
shared.set(crops(maxBatch, 2));
const precisions = Object.keys(models).filter((m) => values.precisions.split(',').some((p) => m.startsWith(p)));
const layouts = values.layouts.split(',') as Array<'shared' | 'split'>;
const totals = new Map<string, { images: number; wall: number; cpu: number }>();
const embeddings = new Map<string, Float32Array>();
console.log(`\nResNet-50 at ${S} px, ${cores} cores, load average ${load()} at start; ${values.rounds} interleaved rounds of ${values.seconds} s per variant`);
for (const m of precisions) {
  for (const layout of layouts) {
    const sessions = await open(models[m]!, layout);
    // features: the first 16 crops, by this layout in a batch of 16 and of 8 + 8
    embeddings.set(`${m} ${layout}`, await sessions[0]!.embed(shared.slice(0, 16 * per), 16));
    const halves = [await sessions[sessions.length - 1]!.embed(shared.slice(0, 8 * per), 8), await sessions[0]!.embed(shared.slice(8 * per, 16 * per), 8)];
    embeddings.set(`${m} ${layout} 8+8`, Float32Array.from([...halves[0]!, ...halves[1]!]));
    await Promise.all(sessions.map((s) => s.dispose()));
  }
}
for (let round = 0; round < Number(values.rounds); round++) {
  for (const m of precisions) {
    for (const layout of layouts) {
      const sessions = await open(models[m]!, layout);
      await Promise.all(sessions.map((s) => s.embed(shared, batches[0]!)));
      for (const b of batches) {
        const key = `${m}|${layout}|${b}`;
        const r = await rate(sessions, shared, b, Number(values.seconds));
        const t = totals.get(key) ?? { images: 0, wall: 0, cpu: 0 };
        totals.set(key, { images: t.images + r.images, wall: t.wall + r.wall, cpu: t.cpu + r.cpu });
      }
      await Promise.all(sessions.map((s) => s.dispose()));
    }
  }
}

const layoutName = (l: string) => {
  const { sessions, threads } = cropSessionLayout(undefined, cores);
  return l === 'split' ? `${sessions} sessions x ${threads} thread (fed in turn)` : `1 session x ${cores} threads`;
};
console.log('| model | layout | crop batch | images/s wall | images/s per CPU-s x cores |');
console.log('|---|---|---:|---:|---:|');
for (const [key, t] of totals) {
  const [m, layout, b] = key.split('|');
  console.log(`| ${m} | ${layoutName(layout!)} | ${b} | ${(t.images / t.wall).toFixed(1)} | ${((t.images / t.cpu) * cores).toFixed(1)} |`);
}
console.log(`load average ${load()} at the end`);

const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => v === b[i]);
const cosine = (a: Float32Array, b: Float32Array, dim = 2048) => {
  const out: number[] = [];
  for (let r = 0; r < a.length / dim; r++) {
    let [d, x, y] = [0, 0, 0];
    for (let j = r * dim; j < (r + 1) * dim; j++) [d, x, y] = [d + a[j]! * b[j]!, x + a[j]! ** 2, y + b[j]! ** 2];
    out.push(d / Math.sqrt(x * y));
  }
  return out;
};
for (const m of precisions) {
  const ref = embeddings.get(`${m} ${layouts[0]}`)!;
  const all = layouts.flatMap((l) => [embeddings.get(`${m} ${l}`)!, embeddings.get(`${m} ${l} 8+8`)!]);
  console.log(`${m}: features bitwise equal across layouts and batch splits: ${all.every((e) => same(e, ref))}`);
  if (m !== 'fp32' && embeddings.has(`fp32 ${layouts[0]}`)) {
    const cos = cosine(ref, embeddings.get(`fp32 ${layouts[0]}`)!);
    console.log(`${m}: cosine to fp32 on 16 test crops: mean ${(cos.reduce((a, b) => a + b, 0) / cos.length).toFixed(4)}, min ${Math.min(...cos).toFixed(4)}`);
  }
}
for (const other of ['int8 unfolded Pads', 'int8 with classifier'])
  if (embeddings.has(`int8 ${layouts[0]}`) && embeddings.has(`${other} ${layouts[0]}`))
    console.log(`int8 = ${other}, bitwise: ${same(embeddings.get(`int8 ${layouts[0]}`)!, embeddings.get(`${other} ${layouts[0]}`)!)}`);
