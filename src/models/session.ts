/**
 * A thin wrapper over onnxruntime-node: open a registered model (converted and cached on first
 * use) or your own .onnx file, and run NCHW float32 batches through it.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import ort from 'onnxruntime-node';
import { invalidParameter, MorphoprofError } from '../errors.js';
import { PREPROCESS_MODES } from './preprocess.js';
import type { CalibrationMethod } from './quantize.js';
import { ensureQuantizedOnnx } from './quantize-node.js';
import { ensureOnnx, getModel, type PreprocessMode } from './registry.js';
import { dimsOf, modelSession, perImageLength, type ModelSession, type Precision } from './session-core.js';

export type { ModelSession, Precision };

export interface OpenModelOptions {
  /** Threads inside one operator (default: number of CPU cores). */
  intraOpNumThreads?: number;
  /**
   * Let onnxruntime's intra-op threads spin while waiting for work (default true, onnxruntime's
   * own default). Off, an idle pool thread yields its core at once, to a reading thread say.
   */
  allowSpinning?: boolean;
  /** Model cache folder (see `ensureOnnx`). */
  cacheDir?: string;
  /**
   * Registered model: a hidden layer (e.g. `activation_39`, `mixed7`; see `hiddenLayers` in
   * `listModels()`) exposed global-average-pooled as the embedding, instead of the default one.
   */
  layer?: string;
  /** For your own .onnx file: output holding the embedding (default: its first output). */
  embeddingOutput?: string;
  /**
   * Square input side. Your own .onnx file: if the file leaves it dynamic (checked if fixed).
   * A registered network: another size than its own (e.g. 96 for cell crops fed natively), a
   * converted file of its own (cached per size).
   */
  inputSize?: number;
  /** For your own .onnx file: pixel preprocessing (default `torch`, as torchvision exports expect). */
  preprocessing?: PreprocessMode;
  /** `int8`: statically quantized (QDQ) model calibrated on `calibration` (default `fp32`). */
  precision?: Precision;
  /** int8: preprocessed NCHW float32 calibration images (e.g. control fields), calibrationCount x 3 x S x S. */
  calibration?: Float32Array;
  calibrationCount?: number;
  /** int8: activation ranges from min-max (default) or percentiles of the calibration batch. */
  calibrationMethod?: CalibrationMethod;
  /** int8 with `percentile`: upper percentile (default 99.99). */
  calibrationPercentile?: number;
  /** int8: the outputs kept in the quantized file (default all; e.g. only the embedding, so an unread classifier is not run). */
  int8Outputs?: string[];
}

/** "input: float32 [N, 3, 224, 224]" lines for every input and output, for error messages. */
function describeIO(session: ort.InferenceSession): string {
  const line = (m: ort.InferenceSession.ValueMetadata) => `${m.name}: ${m.isTensor ? `${m.type} [${m.shape.join(', ')}]` : 'not a tensor'}`;
  return `inputs: ${session.inputMetadata.map(line).join('; ')}; outputs: ${session.outputMetadata.map(line).join('; ')}`;
}

function createSession(onnxPath: string, threads: number, spinning: boolean, isFile: boolean): Promise<ort.InferenceSession> {
  const options: ort.InferenceSession.SessionOptions = { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' };
  if (!spinning) options.extra = { session: { intra_op: { allow_spinning: '0' } } };
  return ort.InferenceSession.create(onnxPath, options).catch((err: Error) => {
    throw new MorphoprofError(
      'BAD_MODEL',
      `onnxruntime cannot load ${onnxPath}: it is not a valid ONNX model (${err.message.split('\n')[0]})`,
      isFile ? 'Give an .onnx model file (e.g. exported with torch.onnx.export); no inputs or outputs could be read from this one' : 'Delete the cached file so it is converted again',
      { cause: err },
    );
  });
}

/** Open a registered model by name (see `listModels`) or an .onnx file by path. */
export async function openModel(nameOrPath: string, opts: OpenModelOptions = {}): Promise<ModelSession> {
  const isFile = nameOrPath.endsWith('.onnx');
  const info = isFile ? null : getModel(nameOrPath);
  if (isFile && opts.layer !== undefined) throw new MorphoprofError('BAD_ARGUMENT', `layer ${JSON.stringify(opts.layer)} given for the ONNX file ${nameOrPath}`, 'For your own .onnx file, name the output with embeddingOutput (--output) instead');
  const precision = opts.precision ?? 'fp32';
  if (precision !== 'fp32' && precision !== 'int8') throw invalidParameter('precision', 'fp32 or int8', precision);
  // A layer other than the entry's own embedding: a converted file with that layer pooled as its only output.
  const layerFile = info !== null && opts.layer !== undefined;
  const fp32Path = isFile ? nameOrPath : await ensureOnnx(nameOrPath, { cacheDir: opts.cacheDir, layer: opts.layer, inputSize: opts.inputSize });
  if (!existsSync(fp32Path)) throw new MorphoprofError('FILE_NOT_FOUND', `ONNX model ${fp32Path} does not exist`, 'Check the path, or give a registered model name (morphoprof models list)');
  const threads = opts.intraOpNumThreads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) throw invalidParameter('intraOpNumThreads', 'a positive integer', threads);
  const spinning = opts.allowSpinning ?? true;
  let session = await createSession(fp32Path, threads, spinning, isFile);
  const io = describeIO(session);
  const fail = (message: string, hint: string) => {
    void session.release();
    return new MorphoprofError('BAD_MODEL', `${message}. The model has ${io}`, hint);
  };
  if (session.inputNames.length !== 1) throw fail(`${fp32Path} has ${session.inputNames.length} inputs`, 'Expected one NCHW image input [N, 3, S, S]');
  const inputName = session.inputNames[0]!;
  const outputNames = [...session.outputNames];

  const inputDims = dimsOf(session.inputMetadata, inputName);
  if (opts.inputSize !== undefined && (!Number.isInteger(opts.inputSize) || opts.inputSize < 1)) throw invalidParameter('inputSize', 'a positive integer', opts.inputSize);
  const fixed = (d: number | string | undefined) => (typeof d === 'number' && d > 0 ? d : undefined);
  const fixedSize = fixed(inputDims[2]) !== undefined && inputDims[2] === inputDims[3] ? (inputDims[2] as number) : undefined;
  const inputSize = opts.inputSize ?? info?.inputSize ?? fixedSize;
  if (!inputSize) throw fail(`${fp32Path}: input ${inputName} has no fixed square size`, 'Pass inputSize (--input-size, e.g. 224)');
  const expected = [undefined, 3, inputSize, inputSize];
  if (inputDims.length !== 4 || expected.some((e, i) => e !== undefined && fixed(inputDims[i]) !== undefined && inputDims[i] !== e)) {
    throw fail(`${fp32Path}: input ${inputName} is [${inputDims.join(', ')}], but morphoprof feeds float32 [N, 3, ${inputSize}, ${inputSize}] (NCHW RGB)`, `Pass the input size the model expects (--input-size), or export it with an NCHW [N, 3, S, S] input`);
  }
  const embeddingOutput = layerFile ? outputNames[0]! : (info?.embeddingOutput ?? opts.embeddingOutput ?? outputNames[0]!);
  if (!outputNames.includes(embeddingOutput)) throw fail(`${fp32Path} has no output ${JSON.stringify(embeddingOutput)}`, 'Name one of its outputs (--output)');
  const embDims = dimsOf(session.outputMetadata, embeddingOutput).slice(1);
  const shapeDim = perImageLength(embDims);
  const embeddingDim = layerFile ? shapeDim : (info?.embeddingDim ?? shapeDim);
  if (!embeddingDim) throw fail(`${fp32Path}: output ${embeddingOutput} has no fixed size per image (dims [${embDims.join(', ')}])`, 'Export the model with a fixed-size embedding output, e.g. [N, 2048]');
  const preprocess = info?.preprocessing ?? opts.preprocessing ?? 'torch';
  if (!PREPROCESS_MODES.includes(preprocess)) {
    await session.release();
    throw invalidParameter('preprocessing', `one of ${PREPROCESS_MODES.join(', ')}`, preprocess);
  }

  let onnxPath = fp32Path;
  if (precision === 'int8') {
    await session.release();
    if (!opts.calibration || opts.calibrationCount === undefined) {
      throw new MorphoprofError('BAD_ARGUMENT', 'precision int8 needs calibration images (calibration, calibrationCount)', 'Pass a few preprocessed control images, e.g. 16-32');
    }
    onnxPath = await ensureQuantizedOnnx(fp32Path, {
      cacheDir: opts.cacheDir,
      calibration: opts.calibration,
      calibrationCount: opts.calibrationCount,
      inputSize,
      method: opts.calibrationMethod,
      percentile: opts.calibrationPercentile,
      intraOpNumThreads: threads,
      outputs: opts.int8Outputs,
    });
    session = await createSession(onnxPath, threads, spinning, false);
    outputNames.splice(0, outputNames.length, ...session.outputNames);
  }

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
  return modelSession({ name: nameOrPath, onnxPath, precision, inputSize, preprocess, embeddingOutput, embeddingDim, outputNames, run, dispose: () => session.release() });
}
