/**
 * The model session both hosts run (portable: no onnxruntime import): the CLI opens it with
 * onnxruntime-node (session.ts), the browser page with onnxruntime-web (web/src/session.ts).
 */
import type { PreprocessMode } from './preprocess.js';

export type Precision = 'fp32' | 'int8';

export interface ModelSession {
  /** Registered model name, or the .onnx path. */
  readonly name: string;
  /** The ONNX file run (the quantized one for int8). */
  readonly onnxPath: string;
  readonly precision: Precision;
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

export type Dims = readonly (number | string)[];

/** What onnxruntime (node or web) says of an input or output. */
interface ValueMetadata {
  readonly name: string;
  readonly isTensor: boolean;
  readonly shape?: Dims;
}

/** The dims of an input or output by name ([] when unknown or not a tensor). */
export function dimsOf(meta: readonly ValueMetadata[] | undefined, name: string): Dims {
  const m = meta?.find((v) => v.name === name);
  return m && m.isTensor ? (m.shape ?? []) : [];
}

/** Values per image of an output's per-image dims (0 when any is dynamic or there are none). */
export function perImageLength(dims: Dims): number {
  return dims.length > 0 && dims.every((d) => typeof d === 'number') ? (dims as number[]).reduce((a, b) => a * b, 1) : 0;
}

/** What a session is, without the session: plain data another thread can be given (e.g. to read for it, FieldEmbedder.reading). */
export type NetworkInfo = Omit<ModelSession, 'run' | 'embed' | 'dispose'>;

export function networkInfo(m: ModelSession): NetworkInfo {
  const { name, onnxPath, precision, inputSize, preprocess, embeddingOutput, embeddingDim, outputNames } = m;
  return { name, onnxPath, precision, inputSize, preprocess, embeddingOutput, embeddingDim, outputNames: [...outputNames] };
}

/** A session from its parts: `embed` runs only the embedding output. */
export function modelSession(parts: Omit<ModelSession, 'embed'>): ModelSession {
  return { ...parts, embed: async (batch, n) => (await parts.run(batch, n, [parts.embeddingOutput]))[parts.embeddingOutput]! };
}

/** A ready batch of `n` preprocessed-looking images (values -120..134) for timing raw inference. */
export function readyBatch(session: Pick<ModelSession, 'inputSize'>, n: number): Float32Array {
  return new Float32Array(n * 3 * session.inputSize * session.inputSize).map((_, i) => ((i * 2654435761) % 255) - 120);
}

/**
 * Raw inference of `session` on a ready batch of `n` images, `rounds` times after one uncounted
 * run (the first runs plan the graph and, in a browser, let WebAssembly's optimizing compiler take
 * over the hot kernels), in images/s; with the embedding of the uncounted run.
 */
export async function rawImagesPerSecond(session: ModelSession, n: number, rounds: number, input = readyBatch(session, n)): Promise<{ imagesPerSecond: number; first: Float32Array }> {
  const first = await session.embed(input, n);
  const t = performance.now();
  for (let r = 0; r < rounds; r++) await session.embed(input, n);
  return { imagesPerSecond: (rounds * n) / ((performance.now() - t) / 1000), first };
}
