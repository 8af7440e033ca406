/** Shared helpers of the model tests: TF.js reference models and tensor comparisons. */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs';
import type { TfjsLayersArtifacts } from '../../src/models/tfjs-to-onnx.js';

export { tf };

export async function useCpuBackend(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
}

/** What `model.save()` writes, captured in memory (topology + weight specs + weight bytes). */
export async function artifactsOf(model: tf.LayersModel): Promise<TfjsLayersArtifacts> {
  let captured: TfjsLayersArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      captured = { modelTopology: a.modelTopology, weightSpecs: a.weightSpecs as TfjsLayersArtifacts['weightSpecs'], weightData: a.weightData as ArrayBuffer };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return captured!;
}

/** Give every weight random values (variances positive), so BN folding and biases are exercised. */
export function randomizeWeights(model: tf.LayersModel, seed = 1): void {
  for (const layer of model.layers) {
    const values = layer.weights.map((w, i) =>
      w.name.includes('moving_variance')
        ? tf.randomUniform(w.shape as number[], 0.5, 2, 'float32', seed + i)
        : tf.randomUniform(w.shape as number[], -1, 1, 'float32', seed + i),
    );
    if (values.length) layer.setWeights(values);
  }
}

/** Deterministic pseudo-random values in [lo, hi). */
export function randomArray(n: number, lo: number, hi: number, seed = 42): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((hi - lo) * s) / 2 ** 32;
  }
  return out;
}

/** [N, H, W, C] -> [N, C, H, W]. */
export function nhwcToNchw(x: Float32Array, n: number, h: number, w: number, c: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < h; y++)
      for (let xx = 0; xx < w; xx++)
        for (let k = 0; k < c; k++) out[((i * c + k) * h + y) * w + xx] = x[((i * h + y) * w + xx) * c + k]!;
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export function argmax(a: ArrayLike<number>, from = 0, to = a.length): number {
  let best = from;
  for (let i = from; i < to; i++) if (a[i]! > a[best]!) best = i;
  return best - from;
}
