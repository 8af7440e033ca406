/**
 * Model stage figures, measured side by side in one run:
 * - TF.js -> ONNX conversion time of ResNet-50;
 * - per network (ResNet-50, Inception-v3 mixed5): fp32 vs int8 (static QDQ) images/s at one batch
 *   size, batches of the two interleaved so that load from other processes hits both alike; also
 *   per CPU second, since this machine is shared; int8 quantization time; operators left in fp32
 *   after onnxruntime's QDQ fusion; cosine of int8 to fp32 embeddings on fields of a synthetic
 *   screen read and scaled the way `src/embed` does (calibrated on other fields);
 * - whether onnxruntime's CPU provider has a bf16 Conv kernel;
 * - ResNet-50 fp32, ours (onnxruntime) against PyTorch (torchvision, random weights) at every batch
 *   size of --sweep, interleaved, medians of --rounds, each tool compared at its best batch size, if
 *   `python3 -c "import torch, torchvision"` works (Debian: python3-torch python3-torchvision).
 *
 *   npx tsc -p . && node dist/bench/models.js [--batch 8] [--batches 6] [--threads N] [--calibration 16]
 *     [--sweep 1,4,8,16,24] [--rounds 3] [--images 48] [--only-sweep]
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';
import { OnnxGraphBuilder } from '../src/models/onnx-builder.js';
import { ensureOnnx } from '../src/models/registry.js';
import { openModel, type ModelSession } from '../src/models/session.js';
import { tempDir } from '../test/helpers.js';
import { fieldBatch, rowCosines, synthImageFiles } from '../test/models/fields.js';

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '8' },
    batches: { type: 'string', default: '6' },
    threads: { type: 'string' },
    calibration: { type: 'string', default: '16' },
    sweep: { type: 'string', default: '1,4,8,16,24' },
    rounds: { type: 'string', default: '3' },
    images: { type: 'string', default: '48' },
    'only-sweep': { type: 'boolean', default: false },
  },
});
const batch = Number(values.batch);
const batches = Number(values.batches);
const threads = Number(values.threads ?? availableParallelism());
const calibrationCount = Number(values.calibration);
const sweep = values.sweep.split(',').map(Number);
const rounds = Number(values.rounds);

const cacheDir = tempDir('morphoprof-bench-');
const seconds = (t0: number) => (performance.now() - t0) / 1000;
let t = performance.now();
await ensureOnnx('resnet50', { cacheDir });
console.log(`resnet50: TF.js -> ONNX conversion (read shards, convert, write) ${seconds(t).toFixed(2)} s`);
console.log(`machine: ${availableParallelism()} cores, ${threads} threads used, load average ${loadavg()[0]!.toFixed(1)} at start (other processes slow every figure alike)`);

// Realistic inputs: one synthetic plate, calibrate on the first fields, compare on later ones.
const files = await synthImageFiles(tempDir('morphoprof-bench-screen-'), { width: 640, height: 512 });
const calibrationFiles = files.slice(0, calibrationCount);
const compareFiles = files.slice(calibrationCount).filter((_, i) => i % 2 === 0).slice(0, 32);

interface Rate {
  wall: number;
  cpu: number;
}

/** Interleaved timing of several sessions on the same batch: images/s by wall clock and per CPU second x threads. */
async function rates(models: ModelSession[], input: Float32Array): Promise<Rate[]> {
  for (const m of models) await m.embed(input, batch); // warm-up
  const wall = models.map(() => 0);
  const cpu = models.map(() => 0);
  for (let b = 0; b < batches; b++) {
    for (const [i, m] of models.entries()) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      await m.embed(input, batch);
      wall[i]! += seconds(t0);
      const c = process.cpuUsage(c0);
      cpu[i]! += (c.user + c.system) / 1e6;
    }
  }
  return models.map((_, i) => ({ wall: (batch * batches) / wall[i]!, cpu: (threads * batch * batches) / cpu[i]! }));
}

/** Operator counts of the graph onnxruntime actually runs (after its optimizations and QDQ fusion). */
async function optimizedOps(onnxPath: string): Promise<Map<string, number>> {
  const out = path.join(cacheDir, `${path.basename(onnxPath, '.onnx')}.optimized.onnx`);
  const s = await ort.InferenceSession.create(onnxPath, { graphOptimizationLevel: 'all', optimizedModelFilePath: out, logSeverityLevel: 3 });
  await s.release();
  const ops = new Map<string, number>();
  for (const n of onnxProto.onnx.ModelProto.decode(readFileSync(out)).graph!.node!) ops.set(n.opType!, (ops.get(n.opType!) ?? 0) + 1);
  return ops;
}

const fmt = (r: Rate) => `${r.wall.toFixed(1)} images/s (${r.cpu.toFixed(1)} per CPU-second x ${threads})`;
for (const name of values['only-sweep'] ? [] : ['resnet50', 'inception-v3-mixed5']) {
  const fp32 = await openModel(name, { cacheDir, intraOpNumThreads: threads });
  const S = fp32.inputSize;
  const calibration = await fieldBatch(calibrationFiles, S, fp32.preprocess);
  t = performance.now();
  const int8 = await openModel(name, { cacheDir, intraOpNumThreads: threads, precision: 'int8', calibration, calibrationCount: calibrationFiles.length });
  console.log(`${name}: int8 quantization (calibration on ${calibrationFiles.length} fields, min-max) ${seconds(t).toFixed(1)} s`);

  const compare = await fieldBatch(compareFiles, S, fp32.preprocess);
  const a: Float32Array[] = [];
  const b: Float32Array[] = [];
  for (let i = 0; i < compareFiles.length; i += batch) {
    const n = Math.min(batch, compareFiles.length - i);
    const x = compare.subarray(i * 3 * S * S, (i + n) * 3 * S * S);
    a.push(await fp32.embed(x, n));
    b.push(await int8.embed(x, n));
  }
  const cos = rowCosines(Float32Array.from(a.flatMap((x) => [...x])), Float32Array.from(b.flatMap((x) => [...x])), fp32.embeddingDim);
  const mean = cos.reduce((s, c) => s + c, 0) / cos.length;
  console.log(`${name}: int8 vs fp32 embeddings on ${cos.length} other fields: mean cosine ${mean.toFixed(4)}, min ${Math.min(...cos).toFixed(4)}`);

  const input = compare.subarray(0, batch * 3 * S * S).length === batch * 3 * S * S ? compare.subarray(0, batch * 3 * S * S) : calibration.subarray(0, batch * 3 * S * S);
  const [r32, r8] = (await rates([fp32, int8], input)) as [Rate, Rate];
  console.log(`${name}: fp32 ${fmt(r32)}; int8 ${fmt(r8)}; int8/fp32 ${(r8.wall / r32.wall).toFixed(2)}x wall, ${(r8.cpu / r32.cpu).toFixed(2)}x per CPU-second (batch ${batch}, ${batches} batches each, interleaved)`);

  const ops = await optimizedOps(int8.onnxPath);
  const fp32Heavy = ['Conv', 'FusedConv', 'Add', 'Concat', 'AveragePool', 'MaxPool'].filter((o) => ops.has(o)).map((o) => `${o} x${ops.get(o)}`);
  const integer = [...ops].filter(([o]) => o.startsWith('QLinear') || o.startsWith('Nhwc')).map(([o, n]) => `${o} x${n}`);
  console.log(`${name}: int8 graph as run: ${integer.join(', ')}; still fp32: ${fp32Heavy.join(', ') || 'none'}`);
  await fp32.dispose();
  await int8.dispose();
}

// bf16: try one Conv on bfloat16 tensors.
if (!values['only-sweep']) {
  const g = new OnnxGraphBuilder();
  const w = g.float('w', [4, 3, 3, 3], new Float32Array(108).fill(0.1));
  g.node('Cast', ['x'], 'xb', { to: 16 });
  g.node('Cast', [w], 'wb', { to: 16 });
  g.node('Conv', ['xb', 'wb'], 'yb', { kernel_shape: [3, 3] });
  g.node('Cast', ['yb'], 'y', { to: 1 });
  const bytes = g.toBytes({ name: 'bf16_conv', inputs: [{ name: 'x', dims: [1, 3, 8, 8] }], outputs: [{ name: 'y', dims: [1, 4, 6, 6] }] });
  try {
    const s = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
    await s.run({ x: new ort.Tensor('float32', new Float32Array(192), [1, 3, 8, 8]) });
    await s.release();
    console.log('bf16: onnxruntime CPU ran a bfloat16 Conv (worth measuring)');
  } catch (err) {
    console.log(`bf16: onnxruntime-node ${ort.env.versions?.common ?? ''} CPU has no bfloat16 Conv kernel (${(err as Error).message.split('\n')[0]!.slice(0, 160)}); int8 is the low-precision route`);
  }
}

// ResNet-50 fp32, onnxruntime against PyTorch (torchvision, random weights: speed only), each at every
// batch size of --sweep, measurements interleaved (round by round, tool by tool) so that load from
// other processes hits both alike; medians over --rounds. Each tool is then compared at its best.
const PYTORCH = `
import sys, time, torch, torchvision
torch.set_num_threads(int(sys.argv[1]))
model = torchvision.models.resnet50().eval()
print(torch.__version__, flush=True)
for line in sys.stdin:
    batch, batches = map(int, line.split())
    x = torch.randn(batch, 3, 224, 224)
    with torch.inference_mode():
        model(x)
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(batches):
            model(x)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(batch * batches / wall, int(sys.argv[1]) * batch * batches / cpu, flush=True)
`;

/** A Python process that times torchvision's ResNet-50 on request (one line per measurement). */
async function openPytorch(python: string): Promise<{ version: string; rate: (b: number, n: number) => Promise<Rate>; close: () => void }> {
  const child = spawn(python, ['-c', PYTORCH, String(threads)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const { value, done } = await lines.next();
    if (done) throw new Error('the PyTorch process ended early');
    return value as string;
  };
  const version = await next();
  return {
    version,
    rate: async (b, n) => {
      child.stdin!.write(`${b} ${n}\n`);
      const [wall, cpu] = (await next()).split(/\s+/).map(Number);
      return { wall: wall!, cpu: cpu! };
    },
    close: () => child.stdin!.end(),
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const python = ['python3', '/usr/bin/python3'].find((p) => spawnSync(p, ['-c', 'import torch, torchvision'], { stdio: 'ignore' }).status === 0);
if (!python) {
  console.log('pytorch: skipped (python3 -c "import torch, torchvision" fails; Debian: apt-get install python3-torch python3-torchvision)');
} else {
  const ours = await openModel('resnet50', { cacheDir, intraOpNumThreads: threads });
  const S = ours.inputSize;
  const largest = Math.max(...sweep);
  const fields = await fieldBatch(Array.from({ length: largest }, (_, i) => compareFiles[i % compareFiles.length]!), S, ours.preprocess);
  const pytorch = await openPytorch(python);
  // Enough batches for ~--images images per measurement (at least 2 batches).
  const batchesOf = (b: number): number => Math.max(2, Math.ceil(Number(values.images) / b));
  const measured = new Map<string, Rate[]>();
  const record = (key: string, r: Rate) => measured.set(key, [...(measured.get(key) ?? []), r]);
  for (const b of sweep) {
    await ours.embed(fields.subarray(0, b * 3 * S * S), b); // warm-up at every size
    await pytorch.rate(b, 1);
  }
  for (let round = 0; round < rounds; round++) {
    for (const b of sweep) {
      const x = fields.subarray(0, b * 3 * S * S);
      const n = batchesOf(b);
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      for (let k = 0; k < n; k++) await ours.embed(x, b);
      const c = process.cpuUsage(c0);
      record(`ort ${b}`, { wall: (b * n) / seconds(t0), cpu: (threads * b * n) / ((c.user + c.system) / 1e6) });
      record(`pytorch ${b}`, await pytorch.rate(b, n));
    }
  }
  pytorch.close();
  await ours.dispose();
  const medianRate = (key: string): Rate => ({ wall: median(measured.get(key)!.map((r) => r.wall)), cpu: median(measured.get(key)!.map((r) => r.cpu)) });
  console.log(`resnet50 fp32 by batch size, medians of ${rounds} interleaved rounds (images/s wall; per CPU-second x ${threads}); pytorch ${pytorch.version} (${python}), random weights`);
  console.log('batch | onnxruntime (ours) | pytorch');
  for (const b of sweep) {
    const o = medianRate(`ort ${b}`);
    const p = medianRate(`pytorch ${b}`);
    console.log(`${String(b).padStart(5)} | ${o.wall.toFixed(1)} (${o.cpu.toFixed(1)}) | ${p.wall.toFixed(1)} (${p.cpu.toFixed(1)})  [all rounds: ours ${measured.get(`ort ${b}`)!.map((r) => r.wall.toFixed(1)).join(', ')}; pytorch ${measured.get(`pytorch ${b}`)!.map((r) => r.wall.toFixed(1)).join(', ')}]`);
  }
  const best = (tool: string): [number, Rate] => sweep.map((b) => [b, medianRate(`${tool} ${b}`)] as [number, Rate]).reduce((a, c) => (c[1].wall > a[1].wall ? c : a));
  const [bo, ro] = best('ort');
  const [bp, rp] = best('pytorch');
  console.log(`each at its best batch size: ours ${ro.wall.toFixed(1)} images/s at batch ${bo}, pytorch ${rp.wall.toFixed(1)} at batch ${bp}: ours ${(ro.wall / rp.wall).toFixed(2)}x wall, ${(ro.cpu / rp.cpu).toFixed(2)}x per CPU-second`);
  // On a busy machine, the ratio of two measurements taken back to back is steadier than either.
  const paired = (b1: number, b2: number): number => median(measured.get(`ort ${b1}`)!.map((r, i) => r.wall / measured.get(`pytorch ${b2}`)![i]!.wall));
  console.log(`paired (back-to-back) ratios, median over rounds: ours/pytorch at each batch ${sweep.map((b) => `${b}: ${paired(b, b).toFixed(2)}x`).join(', ')}; ours at ${bo} / pytorch at ${bp}: ${paired(bo, bp).toFixed(2)}x`);
  console.log(`load average at the end: ${loadavg()[0]!.toFixed(1)} (${availableParallelism()} cores)`);
}
