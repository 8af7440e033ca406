import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { synthesizeScreen } from '../../src/synth/index.js';
import { MorphoprofError } from '../../src/errors.js';
import { tempDir } from '../helpers.js';

/** Every file under `root` (relative path -> bytes). */
function snapshot(root: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    out.set(path.relative(root, full), readFileSync(full));
  }
  return out;
}

const small = { plates: 1, width: 96, height: 80, sites: 1, controls: 2 };

test('same seed and options: bitwise-identical files; another seed: different names and pixels', async () => {
  const a = await synthesizeScreen({ ...small, out: tempDir('synth-a-'), seed: 3 });
  const b = await synthesizeScreen({ ...small, out: tempDir('synth-b-'), seed: 3 });
  const c = await synthesizeScreen({ ...small, out: tempDir('synth-c-'), seed: 4 });
  const root = (r: typeof a) => path.dirname(r.imageTable);
  const sa = snapshot(root(a));
  const sb = snapshot(root(b));
  const sc = snapshot(root(c));
  assert.ok(sa.size > 3 * 30, `${sa.size} files`);
  assert.deepEqual([...sa.keys()].sort(), [...sb.keys()].sort());
  for (const [name, bytes] of sa) assert.ok(bytes.equals(sb.get(name) as Buffer), `${name} differs between runs`);
  const tiffs = (s: Map<string, Buffer>) => [...s].filter(([n]) => n.endsWith('.tif')).map(([, v]) => v);
  const sharedNames = [...sa.keys()].filter((n) => n.endsWith('.tif') && sc.has(n));
  assert.equal(sharedNames.length, 0, 'file ids derive from the seed');
  const pixelsA = tiffs(sa).map((v) => v.toString('base64')).sort();
  const pixelsC = new Set(tiffs(sc).map((v) => v.toString('base64')));
  assert.ok(pixelsA.every((p) => !pixelsC.has(p)), 'no image repeats across seeds');
});

test('bad options are refused with the option named', async () => {
  await assert.rejects(synthesizeScreen({ out: tempDir(), plates: 0 }), (err: unknown) => err instanceof MorphoprofError && /plates/.test(err.message));
  await assert.rejects(synthesizeScreen({ out: tempDir(), width: 10.5 }), (err: unknown) => err instanceof MorphoprofError && /width/.test(err.message));
  await assert.rejects(synthesizeScreen({ out: tempDir(), preset: 'huge' as 'demo' }), (err: unknown) => err instanceof MorphoprofError && /preset/.test(err.message));
});
