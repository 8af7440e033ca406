/**
 * The `layer` option on ResNet-50: a hidden layer, global-average-pooled, equals the mean over
 * H x W of that layer exposed unpooled by the converter; files are cached per layer; export works.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import ort from 'onnxruntime-node';
import { MorphoprofError } from '../../src/errors.js';
import { exportModel, loadNetworkArtifacts, onnxFileName } from '../../src/models/registry.js';
import { openModel, type ModelSession } from '../../src/models/session.js';
import { convertTfjsLayersToOnnx } from '../../src/models/tfjs-to-onnx.js';
import { tempDir } from '../helpers.js';
import { maxAbsDiff, randomArray } from './support.js';

const S = 224;
const cacheDir = tempDir('morphoprof-layers-');
const opened: ModelSession[] = [];
after(async () => {
  for (const s of opened) await s.dispose();
});

/** The unpooled layer and avg_pool, exposed by the converter itself, on the same two images. */
const x = randomArray(2 * 3 * S * S, -120, 150, 7);
let raw: Record<string, ort.Tensor>;
before(async () => {
  const session = await ort.InferenceSession.create(convertTfjsLayersToOnnx(loadNetworkArtifacts('resnet50'), { outputs: ['activation_21', 'avg_pool'] }));
  raw = await session.run({ input: new ort.Tensor('float32', x, [2, 3, S, S]) });
  await session.release();
});

test('layer activation_21 pooled = mean of the unpooled layer; cached in its own file', async () => {
  const layer = 'activation_21';
  const model = await openModel('resnet50', { cacheDir, layer });
  opened.push(model);
  assert.equal(path.basename(model.onnxPath), onnxFileName('resnet50', { layer }));
  assert.notEqual(onnxFileName('resnet50', { layer }), onnxFileName('resnet50'));
  assert.deepEqual([model.embeddingOutput, model.embeddingDim, model.inputSize, model.preprocess], [`${layer}_gap`, 512, S, 'caffe']);
  assert.deepEqual(model.outputNames, [`${layer}_gap`], 'the layer file holds only the pooled layer');
  const pooled = await model.embed(x, 2);
  const out = raw[layer]!;
  const [n, c, h, w] = out.dims as number[];
  assert.deepEqual([n, c, h, w], [2, 512, 28, 28]);
  const data = out.data as Float32Array;
  const mean = new Float32Array(n! * c!);
  for (let i = 0; i < n! * c!; i++) {
    let sum = 0;
    for (let k = 0; k < h! * w!; k++) sum += data[i * h! * w! + k]!;
    mean[i] = sum / (h! * w!);
  }
  assert.ok(maxAbsDiff(pooled, mean) < 1e-4, `pooled differs by ${maxAbsDiff(pooled, mean)}`);
});

test('a layer that is already a vector is exposed as itself (avg_pool)', async () => {
  const viaLayer = await openModel('resnet50', { cacheDir, layer: 'avg_pool' });
  opened.push(viaLayer);
  assert.deepEqual([viaLayer.embeddingOutput, viaLayer.embeddingDim, viaLayer.outputNames], ['avg_pool', 2048, ['avg_pool']]);
  assert.ok(maxAbsDiff(await viaLayer.embed(x, 2), raw.avg_pool!.data as Float32Array) < 1e-5);
});

test('unknown layers are refused with the offered ones; export --layer writes a loadable file', async () => {
  await assert.rejects(
    openModel('resnet50', { cacheDir, layer: 'res9z' }),
    (e: unknown) => e instanceof MorphoprofError && e.code === 'BAD_MODEL' && /res9z/.test(e.message) && /activation_39/.test(e.hint ?? ''),
  );
  await assert.rejects(openModel('resnet50', { cacheDir, layer: '' }), (e: unknown) => e instanceof MorphoprofError && e.code === 'BAD_ARGUMENT');
  const out = path.join(cacheDir, 'export', 'stage4.onnx');
  await exportModel('resnet50', out, { cacheDir, layer: 'activation_39' });
  assert.ok(existsSync(out));
  const s = await ort.InferenceSession.create(out);
  assert.deepEqual(s.outputMetadata.map((m) => [m.name, m.isTensor ? m.shape : null]), [['activation_39_gap', ['N', 1024]]]);
  await s.release();
});
