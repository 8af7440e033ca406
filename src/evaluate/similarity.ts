/**
 * Blocked similarity: rows are centred (Pearson) and scaled to unit length once, so a similarity
 * is a dot product; blocks of `blockRows` query rows are multiplied with all rows by
 * onnxruntime's Gemm (multi-threaded MLAS sgemm), so the n x n matrix never exists: at most
 * blockRows x n similarities are alive at a time.
 */
import ort from 'onnxruntime-node';
import { availableParallelism } from 'node:os';
import { invalidParameter } from '../errors.js';
import { OnnxGraphBuilder } from '../models/onnx-builder.js';

export type Similarity = 'cosine' | 'pearson';
export const SIMILARITIES: readonly Similarity[] = ['cosine', 'pearson'];

/** Rows of a similarity computation: n x p, row-major, each row centred (Pearson) and unit length (or all zero). */
export interface UnitRows {
  data: Float32Array;
  n: number;
  p: number;
}

/** Copies `vectors` into one row-major matrix of unit rows (accumulating in float64). */
export function unitRows(vectors: readonly Float32Array[], p: number, similarity: Similarity): UnitRows {
  if (!SIMILARITIES.includes(similarity)) throw invalidParameter('similarity', `one of ${SIMILARITIES.join(', ')}`, similarity);
  const n = vectors.length;
  const data = new Float32Array(n * p);
  const centred = new Float64Array(p);
  vectors.forEach((v, i) => {
    let mean = 0;
    if (similarity === 'pearson') {
      for (let j = 0; j < p; j++) mean += v[j]!;
      mean /= p;
    }
    let ss = 0;
    for (let j = 0; j < p; j++) {
      const d = v[j]! - mean;
      centred[j] = d;
      ss += d * d;
    }
    const scale = ss > 0 ? 1 / Math.sqrt(ss) : 0;
    const row = data.subarray(i * p, (i + 1) * p);
    for (let j = 0; j < p; j++) row[j] = centred[j]! * scale;
  });
  return { data, n, p };
}

/** Default block: about 64 MB of similarities per block, between 16 and 1024 rows. */
export function defaultBlockRows(n: number): number {
  return Math.max(16, Math.min(1024, Math.floor((16 * 1024 * 1024) / Math.max(n, 1))));
}

/**
 * Calls `onBlock(start, count, sims)` for consecutive blocks of query rows, `sims` holding
 * count x n similarities (row-major) of rows start..start+count-1 with every row (freed after the
 * call: copy what you keep). Two blocks are alive at a time: the next one is computed while
 * `onBlock` runs.
 */
export async function forEachSimilarityBlock(
  rows: UnitRows,
  onBlock: (start: number, count: number, sims: Float32Array) => void,
  options: { blockRows?: number; threads?: number } = {},
): Promise<void> {
  const { data, n, p } = rows;
  if (n === 0) return;
  const blockRows = Math.min(n, options.blockRows ?? defaultBlockRows(n));
  const graph = new OnnxGraphBuilder();
  graph.node('Gemm', ['Q', 'R'], 'S', { transB: 1 });
  const model = graph.toBytes({
    name: 'similarity',
    inputs: [
      { name: 'Q', dims: [blockRows, p] },
      { name: 'R', dims: [n, p] },
    ],
    outputs: [{ name: 'S', dims: [blockRows, n] }],
  });
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: options.threads ?? availableParallelism(),
    interOpNumThreads: 1,
    executionMode: 'sequential',
  });
  try {
    const all = new ort.Tensor('float32', data, [n, p]);
    const run = (start: number): Promise<ort.InferenceSession.OnnxValueMapType> => {
      const count = Math.min(blockRows, n - start);
      let query = data.subarray(start * p, (start + blockRows) * p);
      if (count < blockRows) {
        query = new Float32Array(blockRows * p);
        query.set(data.subarray(start * p, n * p));
      }
      return session.run({ Q: new ort.Tensor('float32', query, [blockRows, p]), R: all });
    };
    // The next block multiplies on onnxruntime's threads while this one is scanned in JavaScript.
    let pending = run(0);
    for (let start = 0; start < n; start += blockRows) {
      const out = await pending;
      if (start + blockRows < n) pending = run(start + blockRows);
      const tensor = out.S!;
      onBlock(start, Math.min(blockRows, n - start), tensor.data as Float32Array);
      tensor.dispose();
    }
  } finally {
    await session.release();
  }
}
