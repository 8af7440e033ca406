/**
 * A thin wrapper over onnxruntime-node: open a registered model (converted and cached on first
 * use) or your own .onnx file, and run NCHW float32 batches through it.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import ort from 'onnxruntime-node';
import { invalidParameter, MorphoprofError } from '../errors.js';
import { PREPROCESS_MODES } from './preprocess.js';
import { ensureOnnx, getModel, type PreprocessMode } from './registry.js';

export interface OpenModelOptions {
  /** Threads inside one operator (default: number of CPU cores). */
  intraOpNumThreads?: number;
  /** Model cache folder (see `ensureOnnx`). */
  cacheDir?: string;
  /** For your own .onnx file: output holding the embedding (default: its first output). */
  embeddingOutput?: string;
  /** For your own .onnx file: square input side, if the file leaves it dynamic. */
  inputSize?: number;
  /** For your own .onnx file: pixel preprocessing (default `torch`, as torchvision exports expect). */
  preprocessing?: PreprocessMode;
}

export interface ModelSession {
  /** Registered model name, or the .onnx path. */
  readonly name: string;
  readonly onnxPath: string;
  readonly inputSize: number;
  readonly preprocess: PreprocessMode;
  readonly embeddingOutput: string;
  readonly embeddingDim: number;
  readonly outputNames: readonly string[];
  /**
   * Run `n` images held in `batch` (NCHW, preprocessed, at least n*3*S*S values).
   * Returns the requested outputs (default: all), each n x its per-image length.
   */
  run(batch: Float32Array, n: number, outputs?: readonly string[]): Promise<Record<string, Float32Array>>;
  /** Only the embedding output, n x embeddingDim. */
  embed(batch: Float32Array, n: number): Promise<Float32Array>;
  dispose(): Promise<void>;
}

/** Open a registered model by name (see `listModels`) or an .onnx file by path. */
export async function openModel(nameOrPath: string, opts: OpenModelOptions = {}): Promise<ModelSession> {
  const isFile = nameOrPath.endsWith('.onnx');
  const info = isFile ? null : getModel(nameOrPath);
  const onnxPath = isFile ? nameOrPath : await ensureOnnx(nameOrPath, { cacheDir: opts.cacheDir });
  if (!existsSync(onnxPath)) throw new MorphoprofError('FILE_NOT_FOUND', `ONNX model ${onnxPath} does not exist`, 'Check the path, or give a registered model name (morphoprof models list)');
  const threads = opts.intraOpNumThreads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) throw invalidParameter('intraOpNumThreads', 'a positive integer', threads);
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(onnxPath, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' });
  } catch (err) {
    throw new MorphoprofError('BAD_MODEL', `onnxruntime cannot load ${onnxPath}: ${(err as Error).message}`, isFile ? 'Check that the file is a valid ONNX model' : 'Delete the cached file so it is converted again', { cause: err });
  }
  if (session.inputNames.length !== 1) {
    throw new MorphoprofError('BAD_MODEL', `${onnxPath} has ${session.inputNames.length} inputs (${session.inputNames.join(', ')})`, 'Expected one NCHW image input');
  }
  const inputName = session.inputNames[0]!;
  const outputNames = [...session.outputNames];
  const dimsOf = (meta: readonly ort.InferenceSession.ValueMetadata[], name: string) => {
    const m = meta.find((v) => v.name === name);
    return m && m.isTensor ? m.shape : [];
  };

  const inputDims = dimsOf(session.inputMetadata, inputName);
  const fixedSize = typeof inputDims[2] === 'number' && inputDims[2] === inputDims[3] ? inputDims[2] : undefined;
  const inputSize = info?.inputSize ?? fixedSize ?? opts.inputSize;
  if (!inputSize) {
    throw new MorphoprofError('BAD_MODEL', `${onnxPath}: input ${inputName} has no fixed square size (dims [${inputDims.join(', ')}])`, 'Pass inputSize (e.g. 224)');
  }
  const embeddingOutput = info?.embeddingOutput ?? opts.embeddingOutput ?? outputNames[0]!;
  if (!outputNames.includes(embeddingOutput)) {
    throw new MorphoprofError('BAD_MODEL', `${onnxPath} has no output ${JSON.stringify(embeddingOutput)}`, `Its outputs: ${outputNames.join(', ')}`);
  }
  const embDims = dimsOf(session.outputMetadata, embeddingOutput).slice(1);
  const embeddingDim = info?.embeddingDim ?? (embDims.length > 0 && embDims.every((d) => typeof d === 'number') ? (embDims as number[]).reduce((a, b) => a * b, 1) : 0);
  if (!embeddingDim) {
    throw new MorphoprofError('BAD_MODEL', `${onnxPath}: output ${embeddingOutput} has no fixed size per image (dims [${embDims.join(', ')}])`, 'Export the model with a fixed-size embedding output, e.g. [N, 2048]');
  }
  const preprocess = info?.preprocessing ?? opts.preprocessing ?? 'torch';
  if (!PREPROCESS_MODES.includes(preprocess)) throw invalidParameter('preprocessing', `one of ${PREPROCESS_MODES.join(', ')}`, preprocess);

  const perImage = 3 * inputSize * inputSize;
  const run = async (batch: Float32Array, n: number, outputs: readonly string[] = outputNames) => {
    if (!Number.isInteger(n) || n < 1) throw invalidParameter('n', 'a positive integer', n);
    if (batch.length < n * perImage) throw invalidParameter('batch', `at least ${n * perImage} values (${n} x 3 x ${inputSize} x ${inputSize})`, `${batch.length} values`);
    for (const o of outputs) if (!outputNames.includes(o)) throw invalidParameter('outputs', `names among ${outputNames.join(', ')}`, o);
    const input = new ort.Tensor('float32', batch.subarray(0, n * perImage), [n, 3, inputSize, inputSize]);
    const result = await session.run({ [inputName]: input }, [...outputs]);
    const out: Record<string, Float32Array> = {};
    for (const o of outputs) out[o] = result[o]!.data as Float32Array;
    return out;
  };
  return {
    name: nameOrPath,
    onnxPath,
    inputSize,
    preprocess,
    embeddingOutput,
    embeddingDim,
    outputNames,
    run,
    embed: async (batch, n) => (await run(batch, n, [embeddingOutput]))[embeddingOutput]!,
    dispose: () => session.release(),
  };
}
