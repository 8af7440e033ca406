import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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

export function tempDir(prefix = 'morphoprof-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** Path of the CLI entry point, for tests that run the executable as a user would. */
export const cliPath = path.join(repoRoot, 'bin', 'morphoprof.js');
