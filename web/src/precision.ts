/**
 * The page's int8 choice, as the CLI makes its int8 network (`embed --precision int8`): the
 * screen's control fields (calibrationFields) read and preprocessed like every field, the fp32
 * model quantized by the CLI's own quantizer (src/models/quantize.ts) on onnxruntime-web. With
 * `auto`, int8 is kept only when, on those calibration images, it is faster than fp32 and its
 * embeddings hold (cosine to fp32 >= INT8_MIN_COSINE on every image).
 */
import { calibrationFields } from '../../src/embed/embed.js';
import type { FieldEmbedder } from '../../src/embed/embedder.js';
import { preprocessInto } from '../../src/models/preprocess.js';
import { quantizeOnnxWith } from '../../src/models/quantize.js';
import type { ModelSession, Precision } from '../../src/models/session-core.js';
import { MorphoprofError } from '../../src/errors.js';
import type { Field } from '../../src/screen/types.js';
import { rowCosines } from '../../src/util/cosine.js';
import { webCalibrationRuntime } from './session.js';

export type PrecisionChoice = 'auto' | Precision;

/** int8 is used by `auto` only if every calibration image's embedding has at least this cosine to fp32's. */
export const INT8_MIN_COSINE = 0.99;

export interface PrecisionOutcome {
  precision: Precision;
  /** The session to embed with (the other one is released). */
  session: ModelSession;
  /** What the page says: the calibration's cost, cosine and speed, and why this precision. */
  text: string;
  /** Set when int8 was calibrated and measured. */
  measured?: { fields: number; images: number; calibrateSeconds: number; probeSeconds: number; cosineMean: number; cosineMin: number; fp32PerSecond: number; int8PerSecond: number };
}

/** Embeddings of `n` images in batches of `batch`, and the seconds of the pass. */
async function embedAll(session: ModelSession, images: Float32Array, n: number, batch: number): Promise<{ out: Float32Array; seconds: number }> {
  const per = 3 * session.inputSize * session.inputSize;
  const out = new Float32Array(n * session.embeddingDim);
  const t = performance.now();
  for (let i = 0; i < n; i += batch) {
    const k = Math.min(batch, n - i);
    out.set(await session.embed(images.subarray(i * per, (i + k) * per), k), i * session.embeddingDim);
  }
  return { out, seconds: (performance.now() - t) / 1000 };
}

/**
 * The speed probe: after a warm-up batch each, fp32 and int8 passes over the calibration images,
 * alternated (so a load that comes and goes hits both) and repeated while a pair takes under a
 * second (at most 5 pairs); each precision's best pass in images/s, and its embeddings.
 */
async function probe(fp32: ModelSession, int8: ModelSession, images: Float32Array, n: number, batch: number) {
  const per = 3 * fp32.inputSize * fp32.inputSize;
  // the first run of a batch size plans the graph for it (and packs int8 weights): a whole batch,
  // not one image, or the pass timed next pays for planning it again (the probe showed both
  // precisions at about half their rates)
  const warm = Math.min(batch, n);
  for (const s of [fp32, int8]) await s.embed(images.subarray(0, warm * per), warm);
  let a = await embedAll(fp32, images, n, batch);
  let b = await embedAll(int8, images, n, batch);
  let best = [a.seconds, b.seconds];
  for (let pair = 1; pair < 5 && a.seconds + b.seconds < 1; pair++) {
    a = await embedAll(fp32, images, n, batch);
    b = await embedAll(int8, images, n, batch);
    best = [Math.min(best[0]!, a.seconds), Math.min(best[1]!, b.seconds)];
  }
  return { fp32: a.out, int8: b.out, fp32PerSecond: n / best[0]!, int8PerSecond: n / best[1]! };
}

/**
 * Choose fp32 or int8 for this screen. `fp32` is the open fp32 session, `reader` opens an embedder
 * over it (it reads the calibration fields), `bytes` the fp32 model, `openInt8` opens quantized bytes.
 */
export async function choosePrecision(
  choice: PrecisionChoice,
  opts: { fp32: ModelSession; reader: () => Promise<FieldEmbedder>; bytes: Uint8Array; name: string; present: readonly Field[]; controlCompound: string; batch: number; openInt8: (bytes: Uint8Array) => Promise<ModelSession> },
): Promise<PrecisionOutcome> {
  const { fp32 } = opts;
  if (choice === 'fp32') return { precision: 'fp32', session: fp32, text: 'fp32 (chosen)' };
  const t0 = performance.now();
  const fields = calibrationFields(opts.present, opts.controlCompound);
  const size = fp32.inputSize;
  const per = 3 * size * size;
  const reader = await opts.reader();
  const loaded = await Promise.all(fields.map((f) => reader.load(f, size)));
  const images = loaded.flatMap((l) => l.inputs ?? []);
  if (images.length === 0) throw new MorphoprofError('NOTHING_VALID', 'int8 needs calibration images, and none of the calibration fields could be read', 'Check the control wells of the screen, or choose fp32');
  const calibration = new Float32Array(images.length * per);
  images.forEach((rgb, i) => preprocessInto(calibration, i * per, rgb, fp32.preprocess));
  const { bytes } = await quantizeOnnxWith(webCalibrationRuntime, opts.bytes, { calibration, calibrationCount: images.length, inputSize: size }, opts.name);
  const calibrateSeconds = (performance.now() - t0) / 1000;
  const int8 = await opts.openInt8(bytes);
  const t1 = performance.now();
  const p = await probe(fp32, int8, calibration, images.length, opts.batch);
  const probeSeconds = (performance.now() - t1) / 1000;
  const cosines = rowCosines(p.fp32, p.int8, p.fp32.length / images.length);
  const cosineMean = cosines.reduce((sum, c) => sum + c, 0) / cosines.length;
  const cosineMin = Math.min(...cosines);
  const measured = { fields: fields.length, images: images.length, calibrateSeconds, probeSeconds, cosineMean, cosineMin, fp32PerSecond: p.fp32PerSecond, int8PerSecond: p.int8PerSecond };
  const facts =
    `int8 calibrated on ${fields.length} control field(s) (${images.length} images) in ${calibrateSeconds.toFixed(1)} s; ` +
    `its embeddings vs fp32's on them: cosine mean ${cosineMean.toFixed(4)}, min ${cosineMin.toFixed(4)}; ` +
    `speed ${p.int8PerSecond.toFixed(1)} vs ${p.fp32PerSecond.toFixed(1)} images/s (int8 vs fp32, probe ${probeSeconds.toFixed(1)} s)`;
  let reason: string | null = null;
  if (choice === 'auto') {
    if (!(cosineMin >= INT8_MIN_COSINE)) reason = `its features do not hold (min cosine ${cosineMin.toFixed(4)} < ${INT8_MIN_COSINE})`;
    else if (!(p.int8PerSecond > p.fp32PerSecond)) reason = `it is not faster here (${p.int8PerSecond.toFixed(1)} vs ${p.fp32PerSecond.toFixed(1)} images/s)`;
  }
  const keep = reason === null ? int8 : fp32;
  await (reason === null ? fp32 : int8).dispose();
  const text = reason === null ? `int8 (${choice === 'auto' ? 'auto: faster, and its features hold' : 'chosen'}). ${facts}` : `fp32 (auto): int8 not used because ${reason}. ${facts}`;
  return { precision: reason === null ? 'int8' : 'fp32', session: keep, text, measured };
}
