import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Repository root (tests run from dist/test/...). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The shared real data beside the repository, or null (tests then skip, saying so). */
export function sharedData(...parts: string[]): string | null {
  const p = path.resolve(repoRoot, '..', 'shared', 'data', ...parts);
  return existsSync(p) ? p : null;
}

export function skipMessage(what: string): string {
  return `real data not present (../shared/data/${what}); skipped`;
}

const made: string[] = [];
let cleanup = false;

/**
 * A fresh temporary folder, removed when the test file's process exits (each test file runs in a
 * process of its own), so a full run leaves nothing behind in the temporary folder: CI machines
 * share a disk, and a run once failed with ENOSPC. MORPHOPROF_KEEP_TEMP=1 keeps them for debugging.
 */
export function tempDir(prefix = 'morphoprof-test-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  made.push(dir);
  if (!cleanup && !process.env.MORPHOPROF_KEEP_TEMP) {
    cleanup = true;
    process.on('exit', () => {
      for (const d of made) {
        try {
          rmSync(d, { recursive: true, force: true, maxRetries: 2 });
        } catch {
          // a folder still held by a child process is left; the next one is still removed
        }
      }
    });
  }
  return dir;
}

/** Path of the CLI entry point, for tests that run the executable as a user would. */
export const cliPath = path.join(repoRoot, 'bin', 'morphoprof.js');

/** The whole-field kernels compiled to WebAssembly (native/wasm-build.mjs) in a fresh folder, or why they could not be. */
export async function buildKernelsWasm(): Promise<{ file: string | null; why?: string }> {
  const { buildKernelsWasm: build } = (await import(pathToFileURL(path.join(repoRoot, 'native', 'wasm-build.mjs')).href)) as {
    buildKernelsWasm(out: string): { file: string | null; why?: string };
  };
  return build(path.join(tempDir('morphoprof-wasm-'), 'kernels.wasm'));
}

/** A field's key in a feature table's row (plate/well/site), to match rows of two tables. */
export const rowKey = (m: Record<string, unknown>): string => `${String(m.Metadata_Plate)}/${String(m.Metadata_Well)}/${String(m.Metadata_Site)}`;

/** The bytes of a Float32Array, to compare two arrays bit for bit. */
export const floatBytes = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** A seeded uniform random source in [0, 1) (a linear congruential generator): test data that is the same on every run. */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
