/**
 * Compiles the whole-field kernels (native/wasm.c, the same native/field.h as the Node addon) to a
 * WebAssembly module for the page: clang with the wasm32-wasi target and wasi-libc (Debian:
 * `apt-get install clang lld wasi-libc libclang-rt-dev-wasm32`; MORPHOPROF_WASM_CC and
 * MORPHOPROF_WASI_SYSROOT name another clang and sysroot, e.g. wasi-sdk's). The flags are the
 * addon's (no fast-math, no FMA contraction), so both compute the same doubles. Without such a
 * compiler there is no module and the page runs the TypeScript twins: the same results, slower.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const native = path.dirname(fileURLToPath(import.meta.url));
const INSTALL = 'apt-get install clang lld wasi-libc libclang-rt-dev-wasm32';

/** Writes the module to `out`; returns { file } or { file: null, why }. */
export function buildKernelsWasm(out) {
  const cc = process.env.MORPHOPROF_WASM_CC || 'clang';
  const sysroot = process.env.MORPHOPROF_WASI_SYSROOT || (existsSync('/usr/include/wasm32-wasi') ? '/usr' : '/opt/wasi-sdk/share/wasi-sysroot');
  const args = ['--target=wasm32-wasi', `--sysroot=${sysroot}`, '-O3', '-msimd128', '-std=c11', '-ffp-contract=off', '-fno-fast-math', '-Wall', '-Werror', '-nostartfiles', '-Wl,--no-entry', '-Wl,--strip-all', '-o', out, path.join(native, 'wasm.c')];
  const r = spawnSync(cc, args, { encoding: 'utf8' });
  if (r.error) return { file: null, why: `${cc} was not found (${INSTALL})` };
  if (r.status !== 0) return { file: null, why: `${cc} could not build for wasm32-wasi (${INSTALL}): ${(r.stderr || '').trim().split('\n').slice(0, 3).join(' ')}` };
  return { file: out };
}
