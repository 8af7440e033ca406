/**
 * Exact area-average resampling ("pixel area relation", OpenCV's INTER_AREA) of a greyscale
 * image to any size, aspect ratio not kept. Written here because sharp cannot do it without loss
 * on 16-bit data: libvips reduces 8/16-bit images with fixed-point coefficients (measured: a
 * constant 40000 field came out as 39932..40040 after 1280x1024 -> 224x224, a 0.2% error, about
 * 9 bits), and sharp offers no cast to float before its resize. Here each output pixel is the mean
 * of the source area it covers, accumulated in float64, so the image mean is kept and a constant
 * field stays constant. Upsampling degrades to a box filter (nearest-like).
 *
 * Cost for 1280x1024 -> 224x224 on one core: 0.62-0.66 ms CPU in C for a field just read (from
 * DRAM, not the CPU cache; native/kernels.c, used when built: 16-bit rows four at a time in SSE2
 * lanes, the next rows prefetched; 0.92-0.99 ms before that), 2-3 ms here. The horizontal pass adds the source pixels a cell covers wholly and weights only the
 * two it covers in part, and its scratch rows are reused between calls: this runs once per image
 * of a screen, beside the network, and every millisecond here is taken from inference on a small
 * machine. The C and TypeScript versions do the same double operations in the same order, so
 * their results are bitwise equal (tested).
 */
import { fieldKernels, nativeInput } from '../native.js';


/** How one output cell [i*s, (i+1)*s) covers the source cells. */
interface Cover {
  /** first and one-past-last source index touched */
  start: Int32Array;
  end: Int32Array;
  /** length of the first and last touched source cell inside the output cell (pixels) */
  first: Float64Array;
  last: Float64Array;
  /** 1 / length of the output cell in source pixels */
  norm: Float64Array;
}

const coverCache = new Map<string, Cover>();

function cover(src: number, dst: number): Cover {
  const key = `${src}>${dst}`;
  const cached = coverCache.get(key);
  if (cached) return cached;
  const scale = src / dst;
  const c: Cover = {
    start: new Int32Array(dst),
    end: new Int32Array(dst),
    first: new Float64Array(dst),
    last: new Float64Array(dst),
    norm: new Float64Array(dst),
  };
  for (let i = 0; i < dst; i++) {
    const a = i * scale;
    const b = Math.min(src, (i + 1) * scale);
    const s = Math.min(src - 1, Math.floor(a));
    const e = Math.max(s + 1, Math.min(src, Math.ceil(b)));
    c.start[i] = s;
    c.end[i] = e;
    c.first[i] = Math.min(b, s + 1) - Math.max(a, s);
    c.last[i] = e - 1 > s ? Math.min(b, e) - Math.max(a, e - 1) : 0;
    c.norm[i] = 1 / (b - a);
  }
  if (coverCache.size > 64) coverCache.clear();
  coverCache.set(key, c);
  return c;
}

/** Reused rows of the horizontal pass, grown when needed. */
let scratch = new Float64Array(0);

/** `out`: a Float32Array of width*height values to write into (reused by callers on the hot path). */
export function areaResize(
  data: ArrayLike<number>,
  srcWidth: number,
  srcHeight: number,
  width: number,
  height: number,
  out?: Float32Array,
): Float32Array {
  if (out !== undefined && out.length !== width * height) throw new RangeError(`out holds ${out.length} values, not ${width}x${height}`);
  const k = fieldKernels;
  if (k && nativeInput(data)) return out ? k.areaResize(data, srcWidth, srcHeight, width, height, out) : k.areaResize(data, srcWidth, srcHeight, width, height);
  return areaResizeJs(data, srcWidth, srcHeight, width, height, out);
}

/** The TypeScript twin of the C kernel (exported for the test that compares them). */
export function areaResizeJs(
  data: ArrayLike<number>,
  srcWidth: number,
  srcHeight: number,
  width: number,
  height: number,
  out: Float32Array = new Float32Array(width * height),
): Float32Array {
  const cx = cover(srcWidth, width);
  const cy = cover(srcHeight, height);
  // horizontal pass: srcHeight rows of `width` values, whole source pixels added, the two
  // partly covered ones weighted
  if (scratch.length < width * srcHeight) scratch = new Float64Array(width * srcHeight);
  const rows = scratch;
  const { start, end, first, last, norm } = cx;
  for (let y = 0; y < srcHeight; y++) {
    const row = y * srcWidth;
    const at = y * width;
    for (let x = 0; x < width; x++) {
      const s = row + start[x]!;
      const e = row + end[x]! - 1;
      let acc = first[x]! * data[s]!;
      if (e > s) {
        for (let k = s + 1; k < e; k++) acc += data[k]!;
        acc += last[x]! * data[e]!;
      }
      rows[at + x] = acc * norm[x]!;
    }
  }
  // vertical pass, weighting whole rows the same way
  const acc = new Float64Array(width);
  for (let y = 0; y < height; y++) {
    const s = cy.start[y]!;
    const e = cy.end[y]! - 1;
    const wf = cy.first[y]!;
    for (let x = 0, o = s * width; x < width; x++) acc[x] = wf * rows[o + x]!;
    for (let r = s + 1; r < e; r++) for (let x = 0, o = r * width; x < width; x++) acc[x] += rows[o + x]!;
    if (e > s) {
      const wl = cy.last[y]!;
      for (let x = 0, o = e * width; x < width; x++) acc[x] += wl * rows[o + x]!;
    }
    const n = cy.norm[y]!;
    for (let x = 0, o = y * width; x < width; x++) out[o + x] = acc[x]! * n;
  }
  return out;
}
