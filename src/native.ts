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
  /** Co-occurrence counts of one object; twin of countPairs in src/cells/texture.ts. */
  cooccurrence(
    pixel: Int32Array,
    i0: number,
    i1: number,
    mask: Uint8Array,
    gray: Uint8Array,
    nucleus: Int32Array | null,
    shift: Int32Array,
    size: number,
    cnt: Int32Array,
    tch: Int32Array,
    nt: Int32Array,
  ): void;
  /** Intensity statistics of every object of one stain; twin of measureIntensity in src/cells/intensity.ts (IntensityKernel). */
  intensityStats(
    values: Float64Array,
    start: Int32Array,
    pixel: Int32Array,
    x: Int32Array,
    edge: Uint8Array,
    count: number,
    out: Float64Array,
    stride: number,
    offset: number,
    moments: Float64Array,
  ): void;
  /** A stain's values (and gray levels) at object pixels; twin of gatherValues in src/cells/intensity.ts (GatherKernel). */
  gatherValues(
    data: Float32Array | Uint16Array | Uint8Array,
    pixel: Int32Array,
    start: Int32Array,
    count: number,
    scale: number,
    out: Float64Array,
    image: Uint8Array | null,
    max: Uint8Array | null,
    lut: Uint8Array | null,
    filled: boolean,
  ): void;
  /** indexObjects' first pass (pixel counts, Euler scores); -1 or the first pixel with a bad label. See IndexKernel in src/cells/shape.ts. */
  labelCounts(labels: Int32Array, width: number, height: number, count: number, start: Int32Array, euler: Float64Array): number;
  /** indexObjects' second pass (pixels, columns, edge flags by object). */
  labelFill(labels: Int32Array, width: number, height: number, start: Int32Array, pixel: Int32Array, x: Int32Array, edge: Uint8Array): void;
  /** The sums behind one object's Haralick features; twin of haralickSums in src/cells/texture.ts (HaralickKernel). */
  haralickSums(cnt: Int32Array, tch: Int32Array, nt: Int32Array, tables: number, keySize: number, sizes: Int32Array, clog2: Float64Array, sums: Float64Array): void;
  /**
   * CellProfiler's propagation of `labels` over `mask` (src/cells/watershed.ts `propagate` is the
   * TS twin; the caller gives lambda^2, 1 / quantum and the number of buckets it computed).
   * Optional: an addon built before it existed lacks it.
   */
  segPropagate?(image: Float32Array, labels: Int32Array, mask: Uint8Array, width: number, height: number, lambda2: number, inverseQuantum: number, buckets: number): void;
  /**
   * measureShape's pixel passes of one object; twin of shapePixels in src/cells/shape.ts
   * (ShapeKernel). Optional: an addon built before it existed lacks it.
   */
  shapePixels?(
    labels: Int32Array,
    width: number,
    height: number,
    pixel: Int32Array,
    x: Int32Array,
    edge: Uint8Array,
    i0: number,
    i1: number,
    k: number,
    border: Uint8Array,
    lo: Float64Array,
    hi: Float64Array,
    sums: Float64Array,
  ): void;
  /** Same-object partners per object pixel; twin of neighbourMask in src/cells/texture.ts (MaskKernel). Optional as shapePixels. */
  neighbourMask?(labels: Int32Array, width: number, height: number, start: Int32Array, pixel: Int32Array, x: Int32Array, count: number, distance: number, mask: Uint8Array): void;
  /** gaussianBlur's binomial passes (src/cells/filters.ts is the TS twin). Optional: older addons lack it. */
  segBinomialBlur?(src: Float32Array, out: Float32Array, tmp: Float32Array, width: number, height: number, passes: number): void;
  /** gaussianBlur's three box passes per axis (src/cells/filters.ts is the TS twin). Optional: older addons lack it. */
  segBoxBlur?(src: Float32Array, out: Float32Array, tmp: Float32Array, width: number, height: number, w0: number, w1: number, w2: number): void;
  /** The seeded watershed (src/cells/watershed.ts `watershed` is the TS twin). Optional: older addons lack it. */
  segWatershed?(cost: Float32Array, markers: Int32Array, mask: Uint8Array, width: number, height: number, levels: number): void;
  /** A histogram without mask (src/cells/threshold.ts `histogram` is the TS twin); writes range = [lo, hi]. Optional: older addons lack it. */
  segHistogram?(values: Float32Array, counts: Float64Array, range: Float64Array): void;
  // issue 12: the whole-field stages beside the network (optional: older addons lack them)
  /** This thread's CPU time in ms (CLOCK_THREAD_CPUTIME_ID). */
  threadCpuMs?(): number;
  /** valuesAtRanks of a Float32Array into `out` (src/util/select.ts valuesAtRanksJs is the twin), at most 16 ranks. */
  percentilesF32?(data: Float32Array, ranks: Float64Array, out: Float64Array): void;
  /** scaleTo255 in place (src/embed/scale.ts scaleTo255Js is the twin). */
  scaleTo255F32?(data: Float32Array, lo: number, hi: number): void;
  /** dst[offset + c*plane + i] = (src_c[i] - mean[c]) * scale[c] (src/models/preprocess.ts preprocessIntoJs is the twin). */
  preprocessF32?(dst: Float32Array, offset: number, src0: Float32Array, src1: Float32Array, src2: Float32Array, mean: Float64Array, scale: Float64Array): void;
  /** A file's bytes mapped read-only, or null when it cannot be (then read it). Give it back with unmapFile. */
  mapFile?(file: string): ArrayBuffer | null;
  /** Unmap a buffer of mapFile now: it is detached (its views become empty). */
  unmapFile?(buffer: ArrayBuffer): void;
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

/** The kernels of the whole-field stages beside the network (native/field.h). */
export type FieldKernels = Pick<NativeKernels, 'areaResize' | 'percentilesF32' | 'scaleTo255F32' | 'preprocessF32'>;

/**
 * The whole-field kernels in use: the addon's in Node; a host without the addon may install the
 * same C compiled to WebAssembly (the page's reading worker: src/wasm-kernels.ts). null: the
 * TypeScript twins run. All give bitwise-equal results.
 */
export let fieldKernels: FieldKernels | null = native;

/** Install other whole-field kernels (null: the TypeScript twins). */
export function useFieldKernels(kernels: FieldKernels | null): void {
  fieldKernels = kernels;
}

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
