/**
 * Inception-v3 from nsfwjs@4.4.0: both registry entries and a hidden layer (`layer` option)
 * against TF.js (cpu backend) loading the same bundled model.json and uint8 shards with its own
 * weight decoding. One image: TF.js's pure-JS backend takes ~10-20 s for it.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { before, test } from 'node:test';
import { MorphoprofError } from '../../src/errors.js';
import { getModel, loadNetworkArtifacts } from '../../src/models/registry.js';
import { openModel } from '../../src/models/session.js';
import { CONVERTER_VERSION } from '../../src/models/tfjs-to-onnx.js';
import { tempDir } from '../helpers.js';
import { maxAbsDiff, nhwcToNchw, randomArray, tf, useCpuBackend } from './support.js';

const S = 299;
const cacheDir = tempDir('morphoprof-inception-');

before(useCpuBackend);

test('registry: two honest Inception-v3 entries, 299x299, tf preprocessing', () => {
  const pure = getModel('inception-v3-mixed5');
  const tuned = getModel('inception-v3');
  for (const m of [pure, tuned]) {
    assert.deepEqual([m.inputSize, m.preprocessing, m.classifierOutput], [S, 'tf', null]);
    assert.match(m.source, /nsfwjs@4\.4\.0/);
  }
  assert.deepEqual([pure.embeddingOutput, pure.embeddingDim], ['mixed5_gap', 768]);
  assert.deepEqual([tuned.embeddingOutput, tuned.embeddingDim], ['mixed10_gap', 2048]);
  assert.match(pure.description, /ImageNet/);
  assert.match(tuned.description, /fine-tuned/);
  assert.match(tuned.description, /non-ImageNet/);
});

test('converted Inception-v3 (mixed5, mixed10, layer mixed2) matches TF.js, pooled', async (t) => {
  const artifacts = loadNetworkArtifacts('inception-v3');
  const reference = await tf.loadLayersModel({ load: async () => artifacts as tf.io.ModelArtifacts });
  const layers = ['mixed2', 'mixed5', 'mixed10'];
  const probe = tf.model({ inputs: reference.inputs, outputs: layers.map((l) => tf.layers.globalAveragePooling2d({}).apply(reference.getLayer(l).output) as tf.SymbolicTensor) });
  const x = randomArray(S * S * 3, -1, 1, 299);
  const expected = (probe.predict(tf.tensor4d(x, [1, S, S, 3])) as tf.Tensor[]).map((e) => e.dataSync() as Float32Array);
  const input = nhwcToNchw(x, 1, S, S, 3);
  const sessions = [await openModel('inception-v3-mixed5', { cacheDir, layer: 'mixed2' }), await openModel('inception-v3-mixed5', { cacheDir }), await openModel('inception-v3', { cacheDir })];
  try {
    assert.deepEqual(sessions.map((s) => s.embeddingDim), [288, 768, 2048]);
    for (const [i, s] of sessions.entries()) {
      const got = await s.embed(input, 1);
      const diff = maxAbsDiff(got, expected[i]!);
      t.diagnostic(`${layers[i]}: max |onnx - tfjs| ${diff.toExponential(2)} (values up to ${Math.max(...expected[i]!).toFixed(2)})`);
      assert.ok(diff < 1e-4, `${layers[i]} differs by ${diff}`);
    }
  } finally {
    for (const s of sessions) await s.dispose();
  }
  // One file per (network, layer): the two entries and the layer do not share a file, nothing temporary is left.
  assert.deepEqual(readdirSync(cacheDir).sort(), ['mixed10', 'mixed2', 'mixed5'].map((l) => `inception_v3-4.4.0-c${CONVERTER_VERSION}-${l}.onnx`));
});

test('an unknown layer is refused with the layers offered', async () => {
  await assert.rejects(
    openModel('inception-v3', { cacheDir, layer: 'mixed11' }),
    (e: unknown) => e instanceof MorphoprofError && e.code === 'BAD_MODEL' && /mixed11/.test(e.message) && /mixed5/.test(e.hint ?? ''),
  );
});
