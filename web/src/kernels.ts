/**
 * The whole-field kernels (downsample, percentiles, scaling, preprocessing) as WebAssembly SIMD:
 * kernels.wasm beside the page, the same C as the CLI's addon (native/field.h, compiled by
 * web/build.mjs). Installed once per worker; without the file (a build without clang for
 * wasm32) the TypeScript twins run: the same results, about 2 ms more CPU per image, which on a
 * small machine is taken from the network (bench: `node dist/bench/kernels.js`).
 */
import { useFieldKernels } from '../../src/native.js';
import { wasmFieldKernels } from '../../src/wasm-kernels.js';

let installed: Promise<string> | null = null;

/** Installs the kernels from `base`/kernels.wasm; resolves to what reads the images, for the page. */
export function installKernels(base: string): Promise<string> {
  installed ??= (async () => {
    try {
      const response = await fetch(new URL('kernels.wasm', base));
      if (!response.ok) return 'TypeScript kernels (the page was built without kernels.wasm: no clang for wasm32)';
      useFieldKernels(await wasmFieldKernels(await response.arrayBuffer()));
      return 'WebAssembly SIMD kernels';
    } catch (err) {
      return `TypeScript kernels (kernels.wasm could not be loaded: ${err instanceof Error ? err.message : String(err)})`;
    }
  })();
  return installed;
}
