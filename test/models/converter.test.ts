/**
 * The TF.js -> ONNX converter on tiny layer graphs built here with TF.js, compared against TF.js
 * itself: even kernels and strides with "same" padding (asymmetric pads), ZeroPadding2D, pooling,
 * BN folding, Flatten order, Concatenate, quantised weights and dynamic spatial sizes.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import ort from 'onnxruntime-node';
import { MorphoprofError } from '../../src/errors.js';
import { convertTfjsLayersToOnnx, type TfjsLayersArtifacts } from '../../src/models/tfjs-to-onnx.js';
import { artifactsOf, maxAbsDiff, nhwcToNchw, randomArray, randomizeWeights, tf, useCpuBackend } from './support.js';

const TOL = 1e-4;

before(useCpuBackend);

async function runOnnx(bytes: Uint8Array, input: Float32Array, dims: number[]): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    return await session.run({ input: new ort.Tensor('float32', input, dims) });
  } finally {
    await session.release();
  }
}

/** Run a Keras-layout input through TF.js (for the given layers) and through the converted model. */
async function compare(model: tf.LayersModel, artifacts: TfjsLayersArtifacts, layers: string[], n: number, h: number, w: number) {
  const c = model.inputs[0]!.shape[3]!;
  const x = randomArray(n * h * w * c, -2, 2, h * 31 + w);
  const reference = tf.model({ inputs: model.inputs, outputs: layers.map((l) => model.getLayer(l).output as tf.SymbolicTensor) });
  const expected = ([] as tf.Tensor[]).concat(reference.predict(tf.tensor4d(x, [n, h, w, c])) as tf.Tensor | tf.Tensor[]);
  const bytes = convertTfjsLayersToOnnx(artifacts, { outputs: layers });
  const got = await runOnnx(bytes, nhwcToNchw(x, n, h, w, c), [n, c, h, w]);
  return layers.map((l, i) => {
    const e = expected[i]!;
    const want = e.shape.length === 4 ? nhwcToNchw(e.dataSync() as Float32Array, ...(e.shape as [number, number, number, number])) : (e.dataSync() as Float32Array);
    const onnxDims = e.shape.length === 4 ? [e.shape[0], e.shape[3], e.shape[1], e.shape[2]] : e.shape;
    assert.deepEqual(got[l]!.dims, onnxDims, `${l}: ONNX dims`);
    return { layer: l, diff: maxAbsDiff(got[l]!.data as Float32Array, want) };
  });
}

function assertClose(results: { layer: string; diff: number }[]): void {
  for (const r of results) assert.ok(r.diff < TOL, `${r.layer}: max |onnx - tfjs| = ${r.diff}`);
}

test('Sequential: even kernel, stride 2, "same" on odd and even sizes; ZeroPadding2D; pooling; Flatten; Dense', async () => {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [9, 10, 3], filters: 4, kernelSize: 4, strides: 2, padding: 'same' }),
      tf.layers.batchNormalization(),
      tf.layers.activation({ activation: 'relu' }),
      tf.layers.zeroPadding2d({ padding: [[1, 2], [0, 3]] }),
      tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
      tf.layers.averagePooling2d({ poolSize: 2, strides: 1, padding: 'same' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 5, activation: 'softmax' }),
    ],
  });
  randomizeWeights(model);
  const names = model.layers.map((l) => l.name);
  // Every intermediate layer (except the conv, whose BN is folded in) is compared, not just the end.
  assertClose(await compare(model, await artifactsOf(model), names.slice(1), 2, 9, 10));
});

function functionalModel(): tf.LayersModel {
  const input = tf.input({ shape: [8, 7, 4] });
  const conv = tf.layers.conv2d({ filters: 6, kernelSize: 2, padding: 'same', activation: 'relu', name: 'conv_relu' }).apply(input) as tf.SymbolicTensor;
  const pooled = tf.layers.maxPooling2d({ poolSize: 2, padding: 'same', name: 'pool' }).apply(conv) as tf.SymbolicTensor;
  const dw = tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', depthMultiplier: 2, name: 'dw' }).apply(input) as tf.SymbolicTensor;
  const dwBn = tf.layers.batchNormalization({ name: 'dw_bn' }).apply(dw) as tf.SymbolicTensor;
  const proj = tf.layers.conv2d({ filters: 8, kernelSize: 1, strides: 2, useBias: false, name: 'proj' }).apply(input) as tf.SymbolicTensor;
  const projBn = tf.layers.batchNormalization({ name: 'proj_bn', scale: false }).apply(proj) as tf.SymbolicTensor;
  const sum = tf.layers.add({ name: 'sum' }).apply([dwBn, projBn]) as tf.SymbolicTensor;
  const relu6 = tf.layers.reLU({ maxValue: 6, name: 'relu6' }).apply(sum) as tf.SymbolicTensor;
  const cat = tf.layers.concatenate({ name: 'cat' }).apply([relu6, pooled]) as tf.SymbolicTensor;
  const bn = tf.layers.batchNormalization({ name: 'cat_bn' }).apply(cat) as tf.SymbolicTensor;
  const gap = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(bn) as tf.SymbolicTensor;
  const dense = tf.layers.dense({ units: 3, name: 'dense' }).apply(gap) as tf.SymbolicTensor;
  const drop = tf.layers.dropout({ rate: 0.5, name: 'drop' }).apply(dense) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: drop });
  randomizeWeights(model, 7);
  return model;
}

const FUNCTIONAL_OUTPUTS = ['drop', 'cat', 'cat_bn', 'gap', 'pool', 'dw_bn', 'proj_bn', 'relu6'];

test('functional graph: DepthwiseConv2D, BN folded (with and without conv bias) and standalone, Add, ReLU(6), Concatenate, GAP, Dropout', async () => {
  const model = functionalModel();
  assertClose(await compare(model, await artifactsOf(model), FUNCTIONAL_OUTPUTS, 3, 8, 7));
});

/** Re-encode the weights as TF.js quantised weights: kernels uint8, the rest uint16. */
function quantize(a: TfjsLayersArtifacts): TfjsLayersArtifacts {
  const src = new Float32Array(a.weightData as ArrayBuffer);
  const parts: Uint8Array[] = [];
  let offset = 0;
  const weightSpecs = a.weightSpecs.map((spec) => {
    const size = spec.shape.reduce((x, y) => x * y, 1);
    const values = src.subarray(offset, offset + size);
    offset += size;
    const dtype = spec.name.endsWith('kernel') ? 'uint8' : 'uint16';
    const levels = dtype === 'uint8' ? 255 : 65535;
    const min = Math.min(...values);
    const scale = (Math.max(...values) - min) / levels || 1;
    const q = dtype === 'uint8' ? new Uint8Array(size) : new Uint16Array(size);
    values.forEach((v, i) => (q[i] = Math.round((v - min) / scale)));
    parts.push(new Uint8Array(q.buffer));
    return { ...spec, quantization: { dtype, scale, min } } as TfjsLayersArtifacts['weightSpecs'][number];
  });
  const total = parts.reduce((s, p) => s + p.length, 0);
  const data = new Uint8Array(total);
  parts.reduce((o, p) => (data.set(p, o), o + p.length), 0);
  return { modelTopology: a.modelTopology, weightSpecs, weightData: data.buffer };
}

test('uint8/uint16-quantised weights are dequantised as TF.js does', async () => {
  const quantized = quantize(await artifactsOf(functionalModel()));
  const model = await tf.loadLayersModel(tf.io.fromMemory(quantized as tf.io.ModelArtifacts));
  assertClose(await compare(model, quantized, ['drop', 'cat'], 2, 8, 7));
});

test('unknown spatial size: "same" padding falls back to SAME_UPPER and still matches TF.js', async () => {
  const input = tf.input({ shape: [null, null, 2] as unknown as number[] });
  let x = tf.layers.conv2d({ filters: 3, kernelSize: 4, strides: 2, padding: 'same', name: 'c' }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'mp' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.averagePooling2d({ poolSize: 2, strides: 2, padding: 'same', name: 'ap' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.globalMaxPooling2d({ name: 'gmp' }).apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  randomizeWeights(model, 3);
  const artifacts = await artifactsOf(model);
  for (const [h, w] of [[9, 10], [12, 7]] as const) assertClose(await compare(model, artifacts, ['ap', 'gmp'], 1, h, w));
});

test('an unsupported layer is named in a BAD_MODEL error', async () => {
  const model = tf.sequential({ layers: [tf.layers.upSampling2d({ inputShape: [4, 4, 1], name: 'up' }), tf.layers.flatten()] });
  const artifacts = await artifactsOf(model);
  assert.throws(
    () => convertTfjsLayersToOnnx(artifacts),
    (err: unknown) => err instanceof MorphoprofError && err.code === 'BAD_MODEL' && /up/.test(err.message) && /UpSampling2D/.test(err.message) && /Conv2D/.test(err.hint ?? ''),
  );
  assert.throws(() => convertTfjsLayersToOnnx(artifacts, { outputs: ['nope'] }), /nope/);
});

test('activations: each Keras activation matches TF.js', async () => {
  const activations = ['sigmoid', 'tanh', 'elu', 'selu', 'softplus', 'hardSigmoid', 'relu6', 'swish', 'softmax', 'relu'] as const;
  const input = tf.input({ shape: [3, 4, 5] });
  // A 1x1 conv with each activation in its config, and the same as a separate Activation layer.
  const outputs = activations.flatMap((a) => {
    const conv = tf.layers.conv2d({ filters: 5, kernelSize: 1, activation: a, name: `conv_${a}` }).apply(input) as tf.SymbolicTensor;
    const act = tf.layers.activation({ activation: a, name: `act_${a}` }).apply(conv) as tf.SymbolicTensor;
    return [conv, act];
  });
  const model = tf.model({ inputs: input, outputs });
  randomizeWeights(model, 5);
  const names = activations.flatMap((a) => [`conv_${a}`, `act_${a}`]);
  assertClose(await compare(model, await artifactsOf(model), names, 2, 3, 4));
});
