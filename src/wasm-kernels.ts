/**
 * The whole-field kernels (native/field.h) from their WebAssembly build (native/wasm.c), for a host
 * without the Node addon: the page's reading worker installs them with useFieldKernels. The same C
 * as the addon, so the same doubles (tested against the TypeScript twins, bit for bit).
 *
 * The module works on its own memory: each call copies its arrays in and its results out, through
 * blocks that are kept and grown, never allocated per call. A 1280x1024 16-bit field costs a 2.6 MB
 * copy (about 0.2 ms) before the downsample, which in WebAssembly SIMD takes under a millisecond
 * where the TypeScript twin takes 2-3 ms (bench: `node dist/bench/kernels.js`).
 */
import type { FieldKernels } from './native.js';

/** The little of the WebAssembly API used here (the Node typings of this project do not declare it). */
interface CompiledModule {
  readonly compiled: unique symbol;
}
declare const WebAssembly: {
  Module: abstract new (...args: never[]) => CompiledModule;
  compile(bytes: ArrayBuffer | ArrayBufferView): Promise<CompiledModule>;
  instantiate(module: CompiledModule, imports: object): Promise<{ exports: unknown }>;
};

interface KernelExports {
  memory: { readonly buffer: ArrayBuffer };
  alloc(bytes: number): number;
  release(pointer: number): void;
  areaResize(type: number, data: number, srcWidth: number, srcHeight: number, width: number, height: number, out: number): number;
  percentilesF32(data: number, n: number, ranks: number, count: number, out: number): number;
  scaleTo255F32(data: number, n: number, lo: number, hi: number): void;
  preprocessF32(dst: number, plane: number, src0: number, src1: number, src2: number, mean: number, scale: number): void;
}

type Pixels = Uint8Array | Uint16Array | Float32Array | Float64Array;
type PixelArray = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): Pixels };

/** Pixel type codes of native/field.h (PIXELS_U8 ...). */
function pixelType(data: ArrayLike<number>): [number, PixelArray] {
  if (data instanceof Uint16Array) return [1, Uint16Array];
  if (data instanceof Float32Array) return [2, Float32Array];
  if (data instanceof Uint8Array) return [0, Uint8Array];
  if (data instanceof Float64Array) return [3, Float64Array];
  throw new TypeError('data must be a Uint8Array, Uint16Array, Float32Array or Float64Array');
}

/** A block of the module's memory, kept between calls and grown when a call needs more. */
class Block {
  private pointer = 0;
  private bytes = 0;
  constructor(private readonly wasm: KernelExports) {}
  /** At least `bytes`, 16-byte aligned (malloc's alignment); may grow memory, so views are taken after. */
  take(bytes: number): number {
    if (bytes > this.bytes) {
      if (this.pointer) this.wasm.release(this.pointer);
      this.pointer = this.wasm.alloc(bytes);
      this.bytes = this.pointer ? bytes : 0;
      if (!this.pointer) throw new RangeError(`the WebAssembly kernels could not allocate ${bytes} bytes`);
    }
    return this.pointer;
  }
}

/** FieldKernels from the compiled module (its bytes or the module), on memory of their own. */
export async function wasmFieldKernels(source: ArrayBuffer | ArrayBufferView | CompiledModule): Promise<FieldKernels> {
  const module = source instanceof WebAssembly.Module ? source : await WebAssembly.compile(source);
  const instance = await WebAssembly.instantiate(module, {});
  const wasm = instance.exports as KernelExports;
  const input = new Block(wasm);
  const output = new Block(wasm);
  const small = new Block(wasm);
  const heap = () => wasm.memory.buffer;

  return {
    areaResize(data, srcWidth, srcHeight, width, height, out) {
      const [type, Array] = pixelType(data);
      if (!(srcWidth >= 1 && srcHeight >= 1 && width >= 1 && height >= 1) || data.length < srcWidth * srcHeight) {
        throw new RangeError('sizes must be positive and data must hold srcWidth*srcHeight values');
      }
      const n = srcWidth * srcHeight;
      const src = input.take(n * Array.prototype.BYTES_PER_ELEMENT);
      const dst = output.take(width * height * 4);
      new Array(heap(), src, n).set((data as Pixels).subarray(0, n));
      if (!wasm.areaResize(type, src, srcWidth, srcHeight, width, height, dst)) throw new RangeError('the WebAssembly kernels ran out of memory');
      const result = out ?? new Float32Array(width * height);
      result.set(new Float32Array(heap(), dst, width * height));
      return result;
    },
    percentilesF32(data, ranks, out) {
      if (ranks.length > 16 || out.length < ranks.length) throw new RangeError('out must hold a value per rank, and at most 16 ranks');
      const src = input.take(data.length * 4);
      const at = small.take(16 * 8 * 2);
      new Float32Array(heap(), src, data.length).set(data);
      new Float64Array(heap(), at, ranks.length).set(ranks);
      if (!wasm.percentilesF32(src, data.length, at, ranks.length, at + 16 * 8)) throw new RangeError('the WebAssembly kernels ran out of memory');
      out.set(new Float64Array(heap(), at + 16 * 8, ranks.length));
    },
    scaleTo255F32(data, lo, hi) {
      const src = input.take(data.length * 4);
      const view = new Float32Array(heap(), src, data.length);
      view.set(data);
      wasm.scaleTo255F32(src, data.length, lo, hi);
      data.set(view);
    },
    preprocessF32(dst, offset, src0, src1, src2, mean, scale) {
      const plane = src0.length;
      if (src1.length !== plane || src2.length !== plane || mean.length < 3 || scale.length < 3 || !(offset >= 0) || offset + 3 * plane > dst.length) {
        throw new RangeError('preprocessF32: planes of equal length, 3 means and scales, and room in dst');
      }
      const src = input.take(plane * 4 * 3);
      const to = output.take(plane * 4 * 3);
      const at = small.take(16 * 8 * 2);
      const planes = new Float32Array(heap(), src, plane * 3);
      planes.set(src0, 0);
      planes.set(src1, plane);
      planes.set(src2, 2 * plane);
      const k = new Float64Array(heap(), at, 6);
      k.set(mean.subarray(0, 3), 0);
      k.set(scale.subarray(0, 3), 3);
      wasm.preprocessF32(to, plane, src, src + plane * 4, src + plane * 8, at, at + 24);
      dst.set(new Float32Array(heap(), to, plane * 3), offset);
    },
  };
}
