/**
 * The optional C kernels (native/kernels.c, built by `npm install` with node-gyp). Each has a
 * TypeScript twin giving bitwise-equal results, used when the addon is absent (no C compiler at
 * install) or disabled with MORPHOPROF_NATIVE=0.
 */
import { createRequire } from 'node:module';

export interface NativeKernels {
  areaResize(data: ArrayLike<number>, srcWidth: number, srcHeight: number, width: number, height: number, out?: Float32Array): Float32Array;
  valuesAtRanks(data: ArrayLike<number>, ranks: readonly number[]): number[];
  /** sum[i] += data[i] */
  accumulate(sum: Float64Array, data: ArrayLike<number>): void;
  /**
   * CellProfiler's propagation of `labels` over `mask` (src/cells/watershed.ts `propagate` is the
   * TS twin; the caller gives lambda^2, 1 / quantum and the number of buckets it computed).
   * Optional: an addon built before it existed lacks it.
   */
  segPropagate?(image: Float32Array, labels: Int32Array, mask: Uint8Array, width: number, height: number, lambda2: number, inverseQuantum: number, buckets: number): void;
}

function load(): NativeKernels | null {
  if (process.env['MORPHOPROF_NATIVE'] === '0') return null;
  try {
    // dist/src/native.js -> <package>/build/Release
    return createRequire(import.meta.url)('../../build/Release/morphoprof_native.node') as NativeKernels;
  } catch {
    return null;
  }
}

export const native: NativeKernels | null = load();

/** Typed arrays the C kernels take. */
export function nativeInput(data: ArrayLike<number>): boolean {
  return data instanceof Uint16Array || data instanceof Float32Array || data instanceof Uint8Array || data instanceof Float64Array;
}

/** sum[i] += data[i] (a plate's running sum of images, for its illumination function). */
export function accumulate(sum: Float64Array, data: ArrayLike<number>): void {
  if (data.length !== sum.length) throw new RangeError(`accumulate: ${data.length} values into a sum of ${sum.length}`);
  if (native && nativeInput(data)) return native.accumulate(sum, data);
  for (let i = 0; i < data.length; i++) sum[i] = sum[i]! + data[i]!;
}
