/**
 * The shapes of what a worker reads from outside its own process: the data of a job (from Redis)
 * and `<out>/queue.json` (from the shared filesystem). Both are checked before use, so a forged or
 * malformed job is refused with a reason instead of crashing the worker or steering it.
 */
import path from 'node:path';
import { z } from 'zod';
import { MorphoprofError } from '../errors.js';

const absolutePath = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => path.isAbsolute(p) && !p.includes('\0'), 'must be an absolute path');
const screenId = z.string().regex(/^[0-9a-f]{16}$/, 'must be 16 hexadecimal digits');
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 in hexadecimal');
/** names that end up in file names (shard ids, layers): no separators, not `.` or `..` */
const safeName = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,200}$/, 'must be letters, digits, `_`, `.` or `-`')
  .refine((s) => s !== '.' && s !== '..', 'must not be `.` or `..`');
const label = z.string().min(1).max(1000);
const count = z.number().int().nonnegative();

/** The embedding recipe of EmbedSettings (src/embed/embedder.ts). */
const settingsSchema = z.object({
  model: z.union([absolutePath.refine((p) => p.endsWith('.onnx'), 'an ONNX file must end in .onnx'), safeName]),
  layer: safeName.optional(),
  precision: z.enum(['fp32', 'int8']),
  channels: z.enum(['grey', 'rgb']),
  rgbMapping: z.tuple([label, label, label]).optional(),
  illum: absolutePath.nullable(),
  scaling: z.object({ low: z.number().min(0).max(100), high: z.number().min(0).max(100) }),
  inputSize: z.number().int().min(1).max(8192).optional(),
  preprocess: z.enum(['caffe', 'tf', 'torch']).optional(),
  output: label.optional(),
});

/** The cells stage's settings (src/cells/field.ts CellSettings). */
const cellSettingsSchema = z.object({
  nucleiChannel: label,
  cellChannel: label.nullable(),
  nuclei: z.object({
    diameter: z.tuple([z.number().positive().max(10000), z.number().positive().max(10000)]),
    threshold: z.enum(['li', 'otsu']),
    thresholdCorrection: z.number().positive().max(100),
    smoothing: z.number().min(0).max(100),
    thresholdScale: z.enum(['linear', 'log']).optional(),
    declump: z.enum(['intensity', 'shape', 'none']),
    fillHoles: z.boolean(),
    discardBorder: z.boolean(),
    autoScale: z.boolean().optional(),
  }).strict(),
  cells: z.record(z.string().max(100), z.union([z.number(), z.boolean(), z.string().max(100)])),
  measureChannels: z.array(label).max(100),
  aggregate: z.enum(['mean', 'median']),
  illum: absolutePath.nullable(),
}).strict();

/** `--features classical`: the cells stage's settings. */
const cellsSchema = z.object({ settings: cellSettingsSchema, keepCells: z.boolean() }).strict();

/**
 * `--mode cells`: the single-cell recipe (src/cells/deep.ts CellDeepRecipe), keys in the order
 * CellEmbedder makes them (the feature store compares its settings as JSON text).
 */
const cellDeepSchema = z.object({
  recipe: z.object({
    mode: z.literal('cells'),
    boxSize: z.number().int().min(8).max(1024),
    inputSize: z.number().int().min(1).max(8192),
    aggregate: z.enum(['mean', 'median']),
    resize: z.enum(['bilinear', 'nearest-like']),
    cropBatch: z.number().int().min(1).max(65536),
    nuclei: z.union([
      z.object({ segmentation: cellSettingsSchema.pick({ nucleiChannel: true, nuclei: true, illum: true }).strict() }).strict(),
      z.object({ locations: absolutePath, sha256 }).strict(),
    ]),
  }).strict(),
  keepCells: z.boolean(),
}).strict();

export const queueConfigSchema = z.object({
  morphoprof: z.literal(1),
  screenId,
  metadata: absolutePath,
  metadataSha256: sha256,
  images: absolutePath,
  moa: absolutePath.nullable(),
  moaSha256: sha256.nullable(),
  controlCompound: label,
  settings: settingsSchema,
  cells: cellsSchema.optional(),
  cellDeep: cellDeepSchema.optional(),
  batchSize: z.number().int().min(1).max(4096),
  shardSize: z.number().int().min(1).max(1_000_000),
  illumAuto: z.boolean(),
  out: absolutePath,
  attempts: z.number().int().min(1).max(1000),
  backoffMs: count,
  jobs: z.object({ illum: count, embed: count }),
  plan: z.array(z.object({ id: safeName, fields: z.array(label).min(1) })),
  submittedAt: z.string().max(100),
});

const common = { screenId, queueFile: absolutePath, queueSha256: sha256 };
export const jobDataSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('embed'), ...common, shard: safeName, fields: z.array(label).min(1).max(1_000_000) }),
  z.object({ kind: z.literal('illum'), ...common, plate: label, channel: label }),
]);

/** `where`: the issues as `field: problem` pairs, short enough for a failed job's reason. */
function issues(err: z.ZodError): string {
  const list = err.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`);
  return list.join('; ') + (err.issues.length > 3 ? `; and ${err.issues.length - 3} more` : '');
}

/** Parse `value` with `schema`, or a BAD_TABLE error naming `what` and the first problems. */
export function checked<T>(schema: z.ZodType<T>, value: unknown, what: string, hint: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new MorphoprofError('BAD_TABLE', `${what} is malformed (${issues(r.error)})`, hint);
  return r.data;
}
