/**
 * int8 (static QDQ) ResNet-50 calibrated on fields of a small synthetic screen, read and scaled as
 * `src/embed` does: embeddings stay close to fp32 on other fields, the quantized graph holds int8
 * Conv weights with QuantizeLinear/DequantizeLinear pairs, and files are cached per calibration.
 * No speed assertion: `bench/models.ts` measures int8 vs fp32.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import onnxProto from 'onnx-proto';
import { MorphoprofError } from '../../src/errors.js';
import { openModel, type ModelSession } from '../../src/models/session.js';
import { tempDir } from '../helpers.js';
import { fieldBatch, rowCosines, synthImageFiles } from './fields.js';

const S = 224;
const CALIBRATION = 6;
const cacheDir = tempDir('morphoprof-int8-');
let fp32: ModelSession;
let int8: ModelSession;
let calibration: Float32Array;
let fields: Float32Array;

before(async () => {
  const files = await synthImageFiles(tempDir('morphoprof-int8-screen-'));
  // Calibrate on the first fields, compare on fields from elsewhere in the screen (other wells and stains).
  calibration = await fieldBatch(files.slice(0, CALIBRATION), S, 'caffe');
  fields = await fieldBatch([files[20]!, files[41]!, files[62]!, files[83]!, files[files.length - 1]!], S, 'caffe');
  fp32 = await openModel('resnet50', { cacheDir });
  int8 = await openModel('resnet50', { cacheDir, precision: 'int8', calibration, calibrationCount: CALIBRATION });
});

after(async () => {
  await fp32?.dispose();
  await int8?.dispose();
});

test('int8 embeddings have cosine >= 0.98 to fp32 on real-looking fields', async (t) => {
  const cos = rowCosines(await fp32.embed(fields, 5), await int8.embed(fields, 5), 2048);
  const mean = cos.reduce((a, b) => a + b, 0) / cos.length;
  t.diagnostic(`cosine int8 vs fp32: ${cos.map((c) => c.toFixed(4)).join(', ')} (mean ${mean.toFixed(4)})`);
  assert.ok(mean >= 0.98, `mean cosine ${mean}`);
  assert.ok(Math.min(...cos) >= 0.95, `min cosine ${Math.min(...cos)}`);
  assert.deepEqual([int8.precision, int8.embeddingDim, int8.embeddingOutput, int8.inputSize], ['int8', 2048, 'avg_pool', S]);
});

test('the quantized graph: int8 per-channel Conv weights, uint8 activations in QDQ pairs', () => {
  const { onnx } = onnxProto;
  const model = onnx.ModelProto.decode(readFileSync(int8.onnxPath));
  const ops = new Map<string, number>();
  for (const n of model.graph!.node!) ops.set(n.opType!, (ops.get(n.opType!) ?? 0) + 1);
  assert.equal(ops.get('Conv'), 53);
  assert.ok((ops.get('QuantizeLinear') ?? 0) >= 53, 'every Conv input is quantized');
  const int8Weights = model.graph!.initializer!.filter((i) => i.dataType === onnx.TensorProto.DataType.INT8 && i.dims!.length === 4);
  assert.equal(int8Weights.length, 53);
  assert.ok(!model.graph!.initializer!.some((i) => i.name === 'conv1/kernel'), 'fp32 Conv weights are dropped');
});

test('quantized files are cached by calibration; a different calibration makes another file', async () => {
  const again = await openModel('resnet50', { cacheDir, precision: 'int8', calibration, calibrationCount: CALIBRATION });
  assert.equal(again.onnxPath, int8.onnxPath);
  await again.dispose();
  const other = await openModel('resnet50', { cacheDir, precision: 'int8', calibration, calibrationCount: 2 });
  assert.notEqual(other.onnxPath, int8.onnxPath);
  await other.dispose();
  assert.equal(readdirSync(cacheDir).filter((f) => f.includes('-int8-')).length, 2);
  assert.ok(readdirSync(cacheDir).every((f) => !f.includes('.tmp-')));
  assert.match(path.basename(int8.onnxPath), /^resnet50-1\.0\.4-c\d+-int8-minmax-[0-9a-f]{16}\.onnx$/);
});

test('int8 without calibration images, or with too few values, is refused', async () => {
  await assert.rejects(openModel('resnet50', { cacheDir, precision: 'int8' }), (e: unknown) => e instanceof MorphoprofError && e.code === 'BAD_ARGUMENT' && /calibration/.test(e.message));
  await assert.rejects(
    openModel('resnet50', { cacheDir, precision: 'int8', calibration: new Float32Array(10), calibrationCount: 1 }),
    (e: unknown) => e instanceof MorphoprofError && e.code === 'BAD_ARGUMENT' && /150528/.test(e.message),
  );
  await assert.rejects(openModel('resnet50', { cacheDir, precision: 'fp16' as 'int8' }), (e: unknown) => e instanceof MorphoprofError && /fp32 or int8/.test(e.message));
});
