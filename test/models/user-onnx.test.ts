/**
 * Your own .onnx file: tiny models built here with the project's ONNX builder (fixed and
 * dynamic input sizes, two outputs), and a file that is not a model. Every refusal is a
 * MorphoprofError that lists the model's inputs and outputs with their shapes.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { MorphoprofError } from '../../src/errors.js';
import { OnnxGraphBuilder, type OnnxDims } from '../../src/models/onnx-builder.js';
import { openModel } from '../../src/models/session.js';
import { tempDir } from '../helpers.js';
import { randomArray } from './support.js';

const dir = tempDir('morphoprof-user-onnx-');

/** input [N, C, size, size] -> Conv 3x3 (8 filters) -> Relu -> {features: GAP [N, 8], map: [N, 8, H, W]}. */
function tinyModel(file: string, opts: { channels?: number; size?: number | null } = {}): string {
  const c = opts.channels ?? 3;
  const size = opts.size === undefined ? 8 : opts.size;
  const g = new OnnxGraphBuilder();
  const w = g.float('w', [8, c, 3, 3], randomArray(8 * c * 9, -0.5, 0.5, 3));
  const b = g.float('b', [8], randomArray(8, -0.1, 0.1, 4));
  g.node('Conv', ['image', w, b], 'conv', { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
  g.node('Relu', ['conv'], 'map');
  g.node('GlobalAveragePool', ['map'], 'pooled');
  g.node('Flatten', ['pooled'], 'features', { axis: 1 });
  const input: OnnxDims = [null, c, size, size];
  writeFileSync(file, g.toBytes({ name: 'tiny', inputs: [{ name: 'image', dims: input }], outputs: [{ name: 'map', dims: [null, 8, size, size] }, { name: 'features', dims: [null, 8] }] }));
  return file;
}

/** A MorphoprofError BAD_MODEL whose message matches `what` and lists inputs and outputs with shapes. */
const listsIO = (what: RegExp) => (e: unknown) =>
  e instanceof MorphoprofError && e.code === 'BAD_MODEL' && what.test(e.message) && /inputs: image: float32 \[N, \d, (8|S|\w+), /.test(e.message) && /outputs: map: float32 \[N, 8, .*features: float32 \[N, 8\]/.test(e.message);

test('a fixed-size model opens with its named embedding output and preprocessing', async () => {
  const file = tinyModel(path.join(dir, 'fixed.onnx'));
  const m = await openModel(file, { embeddingOutput: 'features', preprocessing: 'caffe' });
  try {
    assert.deepEqual([m.inputSize, m.embeddingOutput, m.embeddingDim, m.preprocess, m.precision], [8, 'features', 8, 'caffe', 'fp32']);
    const e = await m.embed(randomArray(2 * 3 * 64, -1, 1, 5), 2);
    assert.equal(e.length, 16);
    assert.ok(e.every((v) => v >= 0), 'Relu then average: non-negative');
  } finally {
    await m.dispose();
  }
});

test('a dynamic-size model needs inputSize, then uses it', async () => {
  const file = tinyModel(path.join(dir, 'dynamic.onnx'), { size: null });
  await assert.rejects(openModel(file, { embeddingOutput: 'features' }), listsIO(/no fixed square size/));
  const m = await openModel(file, { embeddingOutput: 'features', inputSize: 16 });
  assert.deepEqual([m.inputSize, m.embeddingDim, m.preprocess], [16, 8, 'torch']);
  assert.equal((await m.embed(randomArray(3 * 256, 0, 1, 6), 1)).length, 8);
  await m.dispose();
});

test('a missing output, another input size or a 1-channel input is refused, listing inputs and outputs', async () => {
  const file = tinyModel(path.join(dir, 'fixed2.onnx'));
  await assert.rejects(openModel(file, { embeddingOutput: 'logits' }), listsIO(/no output "logits"/));
  await assert.rejects(openModel(file, { embeddingOutput: 'features', inputSize: 224 }), listsIO(/is \[N, 3, 8, 8\].*\[N, 3, 224, 224\]/));
  const grey = tinyModel(path.join(dir, 'grey.onnx'), { channels: 1 });
  await assert.rejects(openModel(grey, { embeddingOutput: 'features' }), listsIO(/is \[N, 1, 8, 8\]/));
  await assert.rejects(openModel(file, { layer: 'conv' }), (e: unknown) => e instanceof MorphoprofError && e.code === 'BAD_ARGUMENT' && /--output|embeddingOutput/.test(e.hint ?? ''));
});

test('a file that is not an ONNX model is refused clearly', async () => {
  const garbage = path.join(dir, 'garbage.onnx');
  writeFileSync(garbage, 'this is not a protobuf, just text pretending to be a model\n'.repeat(20));
  await assert.rejects(openModel(garbage), (e: unknown) => e instanceof MorphoprofError && e.code === 'BAD_MODEL' && /not a valid ONNX model/.test(e.message) && e.message.includes(garbage));
  const empty = path.join(dir, 'empty.onnx');
  writeFileSync(empty, '');
  await assert.rejects(openModel(empty), (e: unknown) => e instanceof MorphoprofError && e.code === 'BAD_MODEL');
});

test('on its own thread: same features as in this thread from a shared or a transferred batch, and the same refusals', async () => {
  const { openModelInThread } = await import('../../src/models/thread-session.js');
  const file = tinyModel(path.join(dir, 'thread.onnx'));
  const batch = randomArray(3 * 3 * 64, -1, 1, 9);
  const here = await openModel(file, { embeddingOutput: 'features' });
  const there = await openModelInThread(file, { embeddingOutput: 'features' });
  try {
    assert.deepEqual([there.inputSize, there.embeddingDim, there.embeddingOutput, [...there.outputNames]], [8, 8, 'features', ['map', 'features']]);
    const expected = await here.embed(batch, 3);
    const shared = new Float32Array(new SharedArrayBuffer(batch.byteLength));
    shared.set(batch);
    assert.deepEqual(await there.embed(shared, 3), expected);
    assert.deepEqual(Array.from(shared), Array.from(batch), 'a shared batch is left as it was, to be refilled');
    const moved = batch.slice();
    assert.deepEqual(await there.embed(moved, 3), expected);
    assert.equal(moved.length, 0, 'a plain batch is moved to the thread');
    const all = await there.run(shared, 2);
    assert.deepEqual(Object.keys(all).sort(), ['features', 'map']);
    assert.equal(all['map']!.length, 2 * 8 * 64);
  } finally {
    await here.dispose();
    await there.dispose();
  }
  await assert.rejects(openModelInThread(file, { embeddingOutput: 'nope' }), listsIO(/has no output "nope"/));
  const junk = path.join(dir, 'junk-thread.onnx');
  writeFileSync(junk, 'not a model');
  await assert.rejects(openModelInThread(junk), (e: unknown) => e instanceof MorphoprofError && e.code === 'BAD_MODEL' && e.message.includes(junk));
});

test('on its own thread: requests sent together from different shared batches each get their own features', async () => {
  const { openModelInThread } = await import('../../src/models/thread-session.js');
  const file = tinyModel(path.join(dir, 'together.onnx'));
  const here = await openModel(file, { embeddingOutput: 'features' });
  const there = await openModelInThread(file, { embeddingOutput: 'features' });
  try {
    const batches = [11, 12, 13, 14].map((seed) => {
      const b = randomArray(4 * 3 * 64, -1, 1, seed);
      const shared = new Float32Array(new SharedArrayBuffer(b.byteLength));
      shared.set(b);
      return shared;
    });
    const expected = await Promise.all(batches.map((b) => here.embed(b.slice(), 4)));
    // all four in flight at once, as two queue jobs sharing one network would send them
    const got = await Promise.all(batches.map((b) => there.embed(b, 4)));
    got.forEach((g, i) => assert.deepEqual(g, expected[i], `batch ${i}`));
  } finally {
    await here.dispose();
    await there.dispose();
  }
});

test('a thread session nobody disposed does not hold the process open', async () => {
  const { spawnSync } = await import('node:child_process');
  const { fileURLToPath, pathToFileURL } = await import('node:url');
  const file = tinyModel(path.join(dir, 'undisposed.onnx'));
  const module = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), '../../src/models/thread-session.js')).href;
  const script = `const { openModelInThread } = await import(${JSON.stringify(module)});
const m = await openModelInThread(${JSON.stringify(file)}, { embeddingOutput: 'features' });
console.log((await m.embed(new Float32Array(3 * 64), 1)).length);`;
  const entry = path.join(dir, 'undisposed.mjs');
  writeFileSync(entry, script);
  const r = spawnSync(process.execPath, [entry], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.signal, null, 'exited by itself, not killed by the timeout');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), '8');
});
