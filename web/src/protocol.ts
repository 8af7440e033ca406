/** Messages between the page (main.ts) and its Web Worker (worker.ts). */
import type { EmbedSettings } from '../../src/embed/embedder.js';
import type { FieldError } from '../../src/embed/field-errors.js';
import type { NetworkInfo } from '../../src/models/session-core.js';
import type { Screen } from '../../src/screen/types.js';
import type { ErrorCode } from '../../src/errors.js';
import type { Problem } from '../../src/screen/load.js';
import type { ScreenSummary } from '../../src/screen/summary.js';
import type { Metrics } from '../../src/evaluate/write.js';
import type { ExecutionProvider } from './session.js';
import type { PrecisionChoice } from './precision.js';
import type { PreprocessMode } from '../../src/models/preprocess.js';

export interface PickedFile {
  /** Path inside the picked folder, the folder's own name first (`screen/images/a.tif`). */
  path: string;
  blob: Blob;
}

export interface RunOptions {
  /** The model's bytes (a file the user chose) or null for the page's own model (model.onnx beside it). */
  model: { name: string; bytes: ArrayBuffer } | null;
  preprocess?: PreprocessMode;
  provider: ExecutionProvider;
  /** fp32, int8 (quantized here on the screen's control fields, as the CLI does), or auto: int8 when it is faster and its features hold. */
  precision: PrecisionChoice;
  /** Well profiles normalized against the control wells before evaluation, as `morphoprof run --normalize`. */
  normalize: 'none' | 'standardize' | 'robustize' | 'sphere' | 'tvn';
  batchSize: number;
  /**
   * Measuring only (`?raw-rounds=N` in the page's address; bench/web.ts): time N batches of ready
   * tensors on the run's own session just before and just after the embedding, so the page's rate
   * is compared with raw inference in the same worker, session and minute.
   */
  rawRounds?: number;
}

export type ToWorker = { type: 'inspect'; files: PickedFile[] } | { type: 'run'; options: RunOptions };

export interface Downloads {
  /** features.csv: the CLI's columns (Metadata_* then <stain>_<model>_<i>) */
  featuresCsv: string | null;
  /** features.parquet, as the CLI writes it (src/table/write.ts) */
  featuresParquet: Uint8Array | null;
  errorsCsv: string;
  metricsJson: string | null;
  reportHtml: string | null;
}

export type FromWorker =
  | { type: 'inspected'; summary: ScreenSummary; problems: Problem[]; table: string; moaTable: string | null; notes: string[] }
  | { type: 'backend'; text: string }
  | { type: 'precision'; precision: 'fp32' | 'int8'; text: string }
  | { type: 'progress'; done: number; total: number; fieldsPerSecond: number; etaSeconds: number | null }
  | { type: 'errors'; errors: FieldError[] }
  | { type: 'stage'; text: string }
  /** raw inference of the run's session on ready tensors (rawRounds), before and after the embedding, and the embedding's own rate, in images/s */
  | { type: 'raw'; before: number; after: number; embedding: number }
  | { type: 'done'; metrics: Metrics | null; note?: string; downloads: Downloads; seconds: { open: number; embed: number; evaluate: number; report: number } }
  | { type: 'failed'; message: string; hint?: string; downloads: Downloads | null };

/**
 * Messages between the inference worker (worker.ts) and its reading worker (reader.ts). Fields are
 * given as indexes into `screen.fields`.
 */
export type ToReader =
  | { type: 'open'; files: PickedFile[]; screen: Screen; settings: EmbedSettings; network: NetworkInfo; geometryFrom: number[] }
  /** read these fields into one batch; `spare`: a batch buffer given back for reuse */
  | { type: 'read'; id: number; fields: number[]; spare?: ArrayBuffer };

export type FromReader =
  /** `kernels`: what reads the images (WebAssembly SIMD kernels, or the TypeScript twins and why) */
  | { type: 'opened'; kernels: string }
  /** the batch: the fields read (in order), those that could not be, and their preprocessed inputs */
  | { type: 'read'; id: number; fields: number[]; errors: FieldError[]; inputs: Float32Array }
  | { type: 'failed'; id: number | null; code: ErrorCode; message: string; hint?: string };
