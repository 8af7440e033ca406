/**
 * The quantizer folds zero Pads (Keras 'same' padding converted to explicit Pad nodes) into the
 * Conv or MaxPool that reads them: same outputs in fp32, fewer nodes; and it leaves alone the Pads
 * where folding would change the result (a non-zero pad value, a MaxPool reading negative values,
 * a Pad read twice). With `outputs`, the quantized file keeps only those outputs and what they need.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';
import { OnnxGraphBuilder } from '../../src/models/onnx-builder.js';
import { MorphoprofError } from '../../src/errors.js';
import { foldPadsOnnx } from '../../src/models/quantize.js';
import { quantizeOnnx } from '../../src/models/quantize-node.js';
import { randomArray } from './support.js';

const S = 12;

/** input -> Pad -> Conv 3x3 s2 -> Relu -> Pad -> MaxPool 3x3 s2 (plus, optionally, the awkward cases). */
function model(opts: { padValue?: number; poolReadsConv?: boolean; padReadTwice?: boolean } = {}): Uint8Array {
  const g = new OnnxGraphBuilder();
  const pads1 = g.int64('pad1/pads', [0, 0, 2, 1, 0, 0, 1, 2]);
  const value = opts.padValue === undefined ? [] : [g.float('pad1/value', [], Float32Array.of(opts.padValue))];
  g.node('Pad', ['input', pads1, ...value], 'padded', { mode: 'constant' });
  const w = g.float('conv/w', [4, 3, 3, 3], randomArray(4 * 27, -1, 1, 3));
  const b = g.float('conv/b', [4], Float32Array.of(0.5, -0.3, 0.1, -2));
  g.node('Conv', ['padded', w, b], 'conv', { kernel_shape: [3, 3], strides: [2, 2], pads: [0, 0, 0, 0] });
  g.node('Relu', ['conv'], 'relu');
  const pads2 = g.int64('pad2/pads', [0, 0, 1, 1, 0, 0, 1, 1]);
  g.node('Pad', [opts.poolReadsConv ? 'conv' : 'relu', pads2], 'padded2', { mode: 'constant' });
  g.node('MaxPool', ['padded2'], 'pool', { kernel_shape: [3, 3], strides: [2, 2] });
  const outputs = [{ name: 'pool', dims: [null, 4, 4, 4] }];
  if (opts.padReadTwice) {
    g.node('Relu', ['padded'], 'padded_relu');
    outputs.push({ name: 'padded_relu', dims: [null, 3, S + 3, S + 3] });
  }
  return g.toBytes({ name: 'pads', inputs: [{ name: 'input', dims: [null, 3, S, S] }], outputs });
}

const ops = (bytes: Uint8Array) => onnxProto.onnx.ModelProto.decode(bytes).graph!.node!.map((n) => n.opType);

async function run(bytes: Uint8Array, x: Float32Array, n: number): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, graphOptimizationLevel: 'disabled' });
  const out = (await s.run({ input: new ort.Tensor('float32', x, [n, 3, S, S]) }, ['pool'])).pool!.data as Float32Array;
  await s.release();
  return out;
}

test('zero Pads before a Conv and before a MaxPool that reads a Relu fold into their pads: same outputs', async () => {
  const bytes = model();
  const { bytes: folded, folded: count } = foldPadsOnnx(bytes);
  assert.equal(count, 2);
  assert.deepEqual(ops(folded), ['Conv', 'Relu', 'MaxPool']);
  const nodes = onnxProto.onnx.ModelProto.decode(folded).graph!.node!;
  const pads = (i: number) => nodes[i]!.attribute!.find((a) => a.name === 'pads')!.ints!.map(Number);
  assert.deepEqual(pads(0), [2, 1, 1, 2]);
  assert.deepEqual(pads(2), [1, 1, 1, 1]);
  // the conv bias -2 makes whole windows of the Relu zero: the max over real pixels and padding still agrees
  const x = randomArray(2 * 3 * S * S, -3, 3, 11);
  assert.deepEqual(await run(folded, x, 2), await run(bytes, x, 2));
});

test('Pads that folding would change are left: a non-zero value, a MaxPool over values that can be negative, a Pad read twice', () => {
  assert.deepEqual(ops(foldPadsOnnx(model({ padValue: 1 })).bytes), ['Pad', 'Conv', 'Relu', 'MaxPool'], 'the MaxPool Pad still folds');
  assert.equal(foldPadsOnnx(model({ padValue: 0 })).folded, 2, 'an explicit zero value folds');
  assert.deepEqual(ops(foldPadsOnnx(model({ poolReadsConv: true })).bytes), ['Conv', 'Relu', 'Pad', 'MaxPool']);
  assert.equal(foldPadsOnnx(model({ padReadTwice: true })).folded, 1);
});

test('the int8 quantizer folds them too, and says so; without folding the graph keeps its Pads', async () => {
  const calibration = randomArray(4 * 3 * S * S, -3, 3, 5);
  const opts = { calibration, calibrationCount: 4, inputSize: S, intraOpNumThreads: 1 };
  const q = await quantizeOnnx(model(), opts);
  assert.deepEqual([q.report.convs, q.report.padsFolded], [1, 2]);
  assert.ok(!ops(q.bytes).includes('Pad'));
  const unfolded = await quantizeOnnx(model(), { ...opts, foldPads: false });
  assert.deepEqual([unfolded.report.padsFolded, ops(unfolded.bytes).filter((o) => o === 'Pad').length], [0, 2]);
  // same int8 arithmetic either way: the padding is the zero point, inside the integer kernels or not
  const x = randomArray(3 * 3 * S * S, -3, 3, 8);
  const [a, b] = [await run(q.bytes, x, 3), await run(unfolded.bytes, x, 3)];
  let far = 0;
  for (let i = 0; i < a.length; i++) far = Math.max(far, Math.abs(a[i]! - b[i]!));
  assert.ok(far < 1e-5, `max difference ${far}`);
});

test('int8 with outputs: only the kept outputs and the nodes they need remain, with the same values', async () => {
  const calibration = randomArray(4 * 3 * S * S, -3, 3, 5);
  const opts = { calibration, calibrationCount: 4, inputSize: S, intraOpNumThreads: 1 };
  const both = await quantizeOnnx(model({ padReadTwice: true }), opts);
  const one = await quantizeOnnx(model({ padReadTwice: true }), { ...opts, outputs: ['pool'] });
  const outs = (b: Uint8Array) => onnxProto.onnx.ModelProto.decode(b).graph!.output!.map((o) => o.name);
  assert.deepEqual(outs(both.bytes), ['pool', 'padded_relu']);
  assert.deepEqual(outs(one.bytes), ['pool']);
  assert.equal(ops(both.bytes).filter((o) => o === 'Relu').length, 2);
  assert.equal(ops(one.bytes).filter((o) => o === 'Relu').length, 1, 'the Relu only padded_relu needed is gone');
  const x = randomArray(2 * 3 * S * S, -3, 3, 9);
  assert.deepEqual(await run(one.bytes, x, 2), await run(both.bytes, x, 2));
  await assert.rejects(quantizeOnnx(model(), { ...opts, outputs: ['fc1000'] }), (e: unknown) => e instanceof MorphoprofError && e.code === 'BAD_ARGUMENT' && /no output "fc1000".*its outputs: pool/.test(e.message));
});
