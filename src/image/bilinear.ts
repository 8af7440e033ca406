/**
 * Enlargement by bilinear interpolation. The area resampler (resample.ts) averages the source
 * pixels under each destination pixel: exact when shrinking, but when enlarging every destination
 * pixel lies inside one source pixel, so it repeats pixels (a box filter, nearest-neighbour-like
 * blocks). A 96-px cell crop fed to a 224-px network is enlarged 2.33x: blocks of 2 and 3 pixels,
 * edges the network reads as texture. Here each destination pixel is interpolated from its four
 * nearest source pixels instead.
 *
 * Conventions are those of PIL, OpenCV `INTER_LINEAR` and `tf.image.resize` (half-pixel centres:
 * destination x samples source x' = (x + 0.5) * sw / dw - 0.5, clamped to the edge pixels).
 * 16-bit data loses nothing: the arithmetic is float64 and the result float32, never rounded to
 * integers (libvips' and PIL's 8-bit fixed-point paths would).
 */
import { invalidParameter } from '../errors.js';

/** Source index and weight of the right/lower neighbour for each destination coordinate. */
function taps(src: number, dst: number): { lo: Int32Array; w: Float64Array } {
  const lo = new Int32Array(dst);
  const w = new Float64Array(dst);
  const scale = src / dst;
  for (let i = 0; i < dst; i++) {
    let s = (i + 0.5) * scale - 0.5;
    if (s < 0) s = 0;
    if (s > src - 1) s = src - 1;
    const k = Math.min(Math.floor(s), Math.max(0, src - 2));
    lo[i] = k;
    w[i] = src === 1 ? 0 : s - k;
  }
  return { lo, w };
}

/**
 * Resize `src` (sw x sh, row-major) to `dst` (dw x dh) by bilinear interpolation. Meant for
 * enlarging; for shrinking by more than 2x use `areaResize` (bilinear would alias).
 */
export function bilinearResize(src: ArrayLike<number>, sw: number, sh: number, dst: Float32Array, dw: number, dh: number): Float32Array {
  for (const [name, v] of [['sw', sw], ['sh', sh], ['dw', dw], ['dh', dh]] as const)
    if (!Number.isInteger(v) || v < 1) throw invalidParameter(name, 'a positive integer', v);
  if (src.length < sw * sh) throw invalidParameter('src', `at least ${sw * sh} values (${sw} x ${sh})`, `${src.length} values`);
  if (dst.length < dw * dh) throw invalidParameter('dst', `at least ${dw * dh} values (${dw} x ${dh})`, `${dst.length} values`);
  const xs = taps(sw, dw);
  const ys = taps(sh, dh);
  const x1 = sw > 1 ? 1 : 0;
  const row1 = sh > 1 ? sw : 0;
  for (let y = 0; y < dh; y++) {
    const top = ys.lo[y]! * sw;
    const wy = ys.w[y]!;
    const out = y * dw;
    for (let x = 0; x < dw; x++) {
      const i = top + xs.lo[x]!;
      const wx = xs.w[x]!;
      const a = src[i]! + (src[i + x1]! - src[i]!) * wx;
      const b = src[i + row1]! + (src[i + row1 + x1]! - src[i + row1]!) * wx;
      dst[out + x] = a + (b - a) * wy;
    }
  }
  return dst;
}

/** Nearest-neighbour enlargement with the same pixel centres (for comparison with bilinear). */
export function nearestResize(src: ArrayLike<number>, sw: number, sh: number, dst: Float32Array, dw: number, dh: number): Float32Array {
  for (let y = 0; y < dh; y++) {
    const sy = Math.min(sh - 1, Math.floor(((y + 0.5) * sh) / dh));
    for (let x = 0; x < dw; x++) dst[y * dw + x] = src[sy * sw + Math.min(sw - 1, Math.floor(((x + 0.5) * sw) / dw))]!;
  }
  return dst;
}
