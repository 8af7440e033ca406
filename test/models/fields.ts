/**
 * Realistic network inputs for model tests and the model benchmark: fields of a small synthetic
 * screen (BBBC021-like stains), read, downsampled and percentile-scaled to 0..255 the way
 * `src/embed` does (one greyscale stain repeated into R, G and B), then preprocessed.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { percentileRange, scaleTo255 } from '../../src/embed/scale.js';
import { readImageResized } from '../../src/image/index.js';
import { preprocessInto } from '../../src/models/preprocess.js';
import type { PreprocessMode } from '../../src/models/registry.js';
import { synthesizeScreen } from '../../src/synth/index.js';

/** Image files of a synthetic screen written to `dir` (sorted, so the order is reproducible). */
export async function synthImageFiles(dir: string, opts: { width?: number; height?: number; plates?: number; sites?: number } = {}): Promise<string[]> {
  await synthesizeScreen({ out: dir, preset: 'demo', plates: opts.plates ?? 1, width: opts.width ?? 320, height: opts.height ?? 256, sites: opts.sites ?? 1 });
  const files = readdirSync(path.join(dir, 'images'), { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.tiff?$/i.test(f))
    .sort();
  return files.map((f) => path.join(dir, 'images', f));
}

/** `files` as one preprocessed NCHW batch of S x S greyscale-as-RGB images. */
export async function fieldBatch(files: string[], size: number, mode: PreprocessMode): Promise<Float32Array> {
  const per = 3 * size * size;
  const batch = new Float32Array(files.length * per);
  for (const [i, file] of files.entries()) {
    const { data } = await readImageResized(file, size, size);
    const [lo, hi] = percentileRange(data);
    const grey = scaleTo255(data, lo, hi);
    preprocessInto(batch, i * per, [grey, grey, grey], mode);
  }
  return batch;
}

export { rowCosines } from '../../src/util/cosine.js';
