/**
 * The browser's model session: the same `ModelSession` the CLI's embedder drives (src/models/
 * session.ts opens it with onnxruntime-node), here over onnxruntime-web with the model's bytes.
 * WASM (SIMD, threads when the page is cross-origin isolated) or WebGPU.
 */
import * as ort from 'onnxruntime-web';
import { invalidParameter, MorphoprofError } from '../../src/errors.js';
import { PREPROCESS_MODES, type PreprocessMode } from '../../src/models/preprocess.js';
import { getModel } from '../../src/models/registry.js';
import type { CalibrationRuntime } from '../../src/models/quantize.js';
import { dimsOf, modelSession, perImageLength, type ModelSession, type Precision } from '../../src/models/session-core.js';

export type ExecutionProvider = 'wasm' | 'webgpu';

export interface WebModelOptions {
  /** `resnet50` (a built-in network: its input size, preprocessing and embedding come from the registry) or the file's name (`tiny.onnx`). */
  name: string;
  inputSize?: number;
  preprocess?: PreprocessMode;
  embeddingOutput?: string;
  executionProvider?: ExecutionProvider;
  /** WASM threads (default: the cores when cross-origin isolated, else 1). */
  threads?: number;
  /** Folder URL of onnxruntime-web's .wasm and .mjs files. */
  wasmPaths: string;
  /** What the bytes are (int8: quantized by src/models/quantize.ts); default fp32. */
  precision?: Precision;
}

/** The int8 quantizer's calibration runs on onnxruntime-web's WASM backend (set up by `openWebModel` first). */
export const webCalibrationRuntime: CalibrationRuntime = {
  async open(bytes) {
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'basic' });
    return {
      inputName: session.inputNames[0]!,
      async run(input, dims, outputs) {
        const data = input.buffer instanceof ArrayBuffer ? input : input.slice();
        const result = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', data, [...dims]) }, [...outputs]);
        const out: Record<string, Float32Array> = {};
        for (const o of outputs) {
          out[o] = result[o]!.data as Float32Array;
          result[o]!.dispose();
        }
        return out;
      },
      release: () => session.release(),
    };
  },
};

/** Threads the WASM backend may use here, and why not more. */
export function wasmThreads(requested?: number): { threads: number; why: string } {
  const cores = navigator.hardwareConcurrency || 1;
  if (!globalThis.crossOriginIsolated) {
    return { threads: 1, why: 'the page is not cross-origin isolated (its server does not send Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp), so WebAssembly threads are off' };
  }
  const threads = Math.max(1, Math.min(requested ?? cores, cores));
  return { threads, why: `cross-origin isolated: ${threads} WebAssembly thread(s) of ${cores} core(s)` };
}

export async function openWebModel(bytes: Uint8Array, opts: WebModelOptions): Promise<ModelSession> {
  const builtIn = opts.name.endsWith('.onnx') ? null : getModel(opts.name);
  const provider = opts.executionProvider ?? 'wasm';
  ort.env.wasm.wasmPaths = opts.wasmPaths;
  ort.env.wasm.numThreads = wasmThreads(opts.threads).threads;
  ort.env.wasm.proxy = false;
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, { executionProviders: [provider], graphOptimizationLevel: 'all' });
  } catch (err) {
    const message = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    throw new MorphoprofError(
      'BAD_MODEL',
      `onnxruntime-web cannot load ${opts.name} with ${provider}: ${message}`,
      provider === 'webgpu' ? 'This browser may lack WebGPU; choose WASM' : 'Give an .onnx model file (e.g. exported with torch.onnx.export)',
      { cause: err },
    );
  }
  if (session.inputNames.length !== 1) throw new MorphoprofError('BAD_MODEL', `${opts.name} has ${session.inputNames.length} inputs`, 'Expected one NCHW image input [N, 3, S, S]');
  const inputName = session.inputNames[0]!;
  const outputNames = [...session.outputNames];
  const inputDims = dimsOf(session.inputMetadata, inputName);
  const fixedSize = typeof inputDims[2] === 'number' && inputDims[2] === inputDims[3] ? inputDims[2] : undefined;
  const inputSize = opts.inputSize ?? builtIn?.inputSize ?? fixedSize;
  if (!inputSize) throw new MorphoprofError('BAD_MODEL', `${opts.name}: input ${inputName} has no fixed square size`, 'Give the input size the model expects (e.g. 224)');
  const embeddingOutput = builtIn?.embeddingOutput ?? opts.embeddingOutput ?? outputNames[0]!;
  if (!outputNames.includes(embeddingOutput)) throw new MorphoprofError('BAD_MODEL', `${opts.name} has no output ${JSON.stringify(embeddingOutput)} (its outputs: ${outputNames.join(', ')})`, 'Name one of its outputs');
  const shapeDim = perImageLength(dimsOf(session.outputMetadata, embeddingOutput).slice(1));
  const preprocess = builtIn?.preprocessing ?? opts.preprocess ?? 'torch';
  if (!PREPROCESS_MODES.includes(preprocess)) throw invalidParameter('preprocessing', `one of ${PREPROCESS_MODES.join(', ')}`, preprocess);
  let embeddingDim = builtIn?.embeddingDim ?? shapeDim;
  const perImage = 3 * inputSize * inputSize;

  const run = async (batch: Float32Array, n: number, outputs: readonly string[] = outputNames) => {
    if (!Number.isInteger(n) || n < 1) throw invalidParameter('n', 'a positive integer', n);
    if (batch.length < n * perImage) throw invalidParameter('batch', `at least ${n * perImage} values`, `${batch.length} values`);
    // onnxruntime-web copies the input into its own memory; a view of shared memory is copied first
    const data = batch.buffer instanceof ArrayBuffer ? batch.subarray(0, n * perImage) : batch.slice(0, n * perImage);
    const result = await session.run({ [inputName]: new ort.Tensor('float32', data, [n, 3, inputSize, inputSize]) }, [...outputs]);
    const out: Record<string, Float32Array> = {};
    for (const o of outputs) {
      const t = result[o]!;
      out[o] = (provider === 'webgpu' ? await t.getData() : t.data) as Float32Array;
      t.dispose();
    }
    return out;
  };
  if (!embeddingDim) {
    // a dynamic output shape: one probe image tells the length
    embeddingDim = (await run(new Float32Array(perImage), 1, [embeddingOutput]))[embeddingOutput]!.length;
  }
  return modelSession({ name: opts.name, onnxPath: opts.name, precision: opts.precision ?? 'fp32', inputSize, preprocess, embeddingOutput, embeddingDim, outputNames, run, dispose: () => session.release() });
}
