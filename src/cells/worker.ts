/**
 * The cells stage's worker thread: reads a field, finds and measures its objects, and answers with
 * the field's profile row and its per-object table. Label images and overlays are written here too.
 */
import path from 'node:path';
import { workerData } from 'node:worker_threads';
import type { IlluminationSet } from '../illum/index.js';
import { functionSet } from '../illum/set.js';
import { serveThread } from '../util/thread.js';
import './measure-native.js'; // the C twins of the measurements (the measurement modules stay portable)
import './segment-native.js'; // the C twins of the segmentation blurs (likewise)
import { aggregateField, measureField, objectKinds, type CellSettings, type FieldMeasurements } from './field.js';
import { writeLabelImage, writeOverlay } from './io.js';
import { readPlanes, StainError, type PlanePool } from './read.js';

export interface CellWorkerData {
  settings: CellSettings;
  plates: string[];
  channels: string[];
  /** write `<labels>/<stem>_nuclei.png` (and `_cells.png`) */
  labelsDir: string | null;
  overlaysDir: string | null;
  /** label image format */
  labelFormat: 'png' | 'tiff';
  /** compute the aggregated profile row */
  profile: boolean;
}

export interface CellJob {
  plate: string;
  /** file stem for label images and overlays */
  stem: string;
  images: Record<string, string>;
}

export type CellReply =
  | { ok: true; count: number; threshold: number; row: Float32Array | null; objects: Float32Array; objectColumns: number; seconds: number }
  | { ok: false; channel: string | null; file: string | null; reason: string };

const data = workerData as CellWorkerData;
const s = data.settings;
const needed = [...new Set([s.nucleiChannel, ...(s.cellChannel ? [s.cellChannel] : []), ...s.measureChannels])];
const illum: IlluminationSet | null = s.illum ? functionSet(s.illum, data.channels, data.plates) : null;
/** this thread's stain planes, reused field after field (a job is done with them when it answers) */
const pool: PlanePool = new Map();

/** Every object's measurements of every kind side by side, object k on row k-1. */
export function objectRows(m: FieldMeasurements, kinds: ReturnType<typeof objectKinds>): { values: Float32Array; width: number } {
  const n = m.objects.nuclei.count;
  const tables = kinds.map((k) => m.measured[k]!);
  const width = tables.reduce((w, t) => w + t.columns.length, 0);
  const values = new Float32Array(n * width);
  for (let k = 0; k < n; k++) {
    let o = k * width;
    for (const t of tables) {
      const c = t.columns.length;
      for (let j = 0; j < c; j++) values[o + j] = t.values[k * c + j]!;
      o += c;
    }
  }
  return { values, width };
}

serveThread<CellJob>(async (job) => {
  const t0 = performance.now();
  let planes;
  try {
    planes = await readPlanes(job, needed, illum, pool);
  } catch (err) {
    if (err instanceof StainError) return { value: { ok: false, channel: err.channel, file: err.file || null, reason: err.message } satisfies CellReply };
    throw err;
  }
  const m = measureField(planes, s);
  const { nuclei, cells } = m.objects;
  const writes: Promise<void>[] = [];
  if (data.labelsDir) {
    writes.push(writeLabelImage(path.join(data.labelsDir, `${job.stem}_nuclei.${data.labelFormat}`), nuclei));
    if (cells) writes.push(writeLabelImage(path.join(data.labelsDir, `${job.stem}_cells.${data.labelFormat}`), cells));
  }
  if (data.overlaysDir) writes.push(writeOverlay(path.join(data.overlaysDir, `${job.stem}_overlay.png`), planes[s.nucleiChannel]!, nuclei, cells));
  await Promise.all(writes);
  const row = data.profile ? aggregateField(m, s) : null;
  const { values, width } = objectRows(m, objectKinds(s));
  const reply: CellReply = { ok: true, count: nuclei.count, threshold: m.objects.threshold, row, objects: values, objectColumns: width, seconds: (performance.now() - t0) / 1000 };
  return { value: reply, transfer: [values.buffer as ArrayBuffer, ...(row ? [row.buffer as ArrayBuffer] : [])] };
});
