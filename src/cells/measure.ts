/**
 * Classical per-object measurements (CellProfiler's MeasureObjectSizeShape, MeasureObjectIntensity
 * and MeasureTexture) of one label image on one or more stains: one row per object, CellProfiler's
 * column names without the object prefix. Portable TypeScript on typed arrays (runs in a browser).
 * Definitions and where they differ from CellProfiler: docs/classical-features.md.
 *
 *   const m = measureObjects(nuclei, { DNA: dna, Tubulin: tubulin, Actin: actin });
 *   m.columns[0] === 'Location_Center_X'; m.values[(k - 1) * m.columns.length + j] is object k's column j
 */
import { MorphoprofError, invalidParameter } from '../errors.js';
import { INTENSITY_FEATURES, gatherValues, measureIntensity } from './intensity.js';
import { SHAPE_FEATURES, indexObjects, measureShape, type ObjectPixels } from './shape.js';
import { HARALICK_FEATURES, grayLevelsFor, measureTexture, neighbourMask, type GrayLevels } from './texture.js';
import type { LabelImage, ObjectMeasurements, Plane } from './types.js';

export interface MeasureOptions {
  /** Stains whose texture is measured (default: every stain given; [] for none). */
  textureStains?: readonly string[];
  /** Co-occurrence distances in pixels (default [3], CellProfiler's default scale). */
  textureScales?: readonly number[];
  /** Gray levels of the co-occurrence matrices, 2..256 (default 256, CellProfiler 4's default). */
  grayLevels?: number;
}

export const DEFAULT_MEASURE_OPTIONS: Readonly<Required<Omit<MeasureOptions, 'textureStains'>>> = Object.freeze({
  textureScales: Object.freeze([3]),
  grayLevels: 256,
});

/** The columns measureObjects writes for these stains and options, in order. */
export function measurementColumns(stains: readonly string[], opts: MeasureOptions = {}): string[] {
  const scales = opts.textureScales ?? DEFAULT_MEASURE_OPTIONS.textureScales;
  const levels = opts.grayLevels ?? DEFAULT_MEASURE_OPTIONS.grayLevels;
  const textured = opts.textureStains ?? stains;
  const columns = ['Location_Center_X', 'Location_Center_Y', ...SHAPE_FEATURES.map((f) => `AreaShape_${f}`)];
  for (const stain of stains) for (const f of INTENSITY_FEATURES) columns.push(`Intensity_${f}_${stain}`);
  for (const stain of textured) {
    for (const scale of scales) {
      for (let dir = 0; dir < 4; dir++) {
        for (const f of HARALICK_FEATURES) columns.push(`Texture_${f}_${stain}_${scale}_0${dir}_${levels}`);
      }
    }
  }
  return columns;
}

export function checkInputs(labels: LabelImage, images: Record<string, Plane>, opts: MeasureOptions): void {
  const { width, height, count } = labels;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw invalidParameter('labels.width/height', 'positive integers', [width, height]);
  }
  if (!(labels.labels instanceof Int32Array) || labels.labels.length !== width * height) {
    throw new MorphoprofError(
      'BAD_ARGUMENT',
      `Label image of ${width}x${height} needs an Int32Array of ${width * height} labels, got ${labels.labels?.length ?? 'none'}`,
      'pass the labels row-major, one Int32 per pixel',
    );
  }
  if (!Number.isInteger(count) || count < 0) throw invalidParameter('labels.count', 'an integer >= 0', count);
  for (const [stain, plane] of Object.entries(images)) {
    if (stain === '') throw invalidParameter('stain name', 'a non-empty name such as DNA', stain);
    if (plane.width !== width || plane.height !== height || plane.data.length !== width * height) {
      throw new MorphoprofError(
        'BAD_ARGUMENT',
        `Image of stain ${stain} is ${plane.width}x${plane.height} (${plane.data.length} values) but the label image is ${width}x${height}`,
        'measure objects on the images they were found in (same width and height)',
      );
    }
  }
  if (opts.textureStains && new Set(opts.textureStains).size !== opts.textureStains.length) {
    throw invalidParameter('textureStains', 'distinct stain names', opts.textureStains);
  }
  for (const stain of opts.textureStains ?? []) {
    if (!(stain in images)) {
      throw new MorphoprofError(
        'BAD_ARGUMENT',
        `Texture stain ${stain} is not among the images given (${Object.keys(images).join(', ') || 'none'})`,
        'name texture stains exactly as the keys of the images',
      );
    }
  }
  const scales = opts.textureScales ?? DEFAULT_MEASURE_OPTIONS.textureScales;
  for (const s of scales) {
    if (!Number.isInteger(s) || s < 1) throw invalidParameter('textureScales', 'positive integer distances in pixels', scales);
  }
  if (new Set(scales).size !== scales.length) throw invalidParameter('textureScales', 'distinct distances', scales);
  const levels = opts.grayLevels ?? DEFAULT_MEASURE_OPTIONS.grayLevels;
  if (!Number.isInteger(levels) || levels < 2 || levels > 256) throw invalidParameter('grayLevels', 'an integer in 2..256', levels);
}

/**
 * Measure every object 1..labels.count of a label image on the given stains (planes of the label
 * image's size: Float32 intensities scaled 0..1 as CellProfiler sees them, or Uint16/Uint8 data,
 * which is divided by 65535/255). Rows are objects 1..count; an object number without pixels gets
 * a row of zeros (AreaShape_Area 0). Never NaN for finite intensities.
 */
export function measureObjects(labels: LabelImage, images: Record<string, Plane>, opts: MeasureOptions = {}): ObjectMeasurements {
  checkInputs(labels, images, opts);
  const layout = measurementLayout(images, opts);
  const kind = startKind(labels, layout);
  const neighbours = layout.textured.length > 0 ? layout.scales.map((s) => neighbourMask(kind.index, s)) : [];
  for (const stain of layout.stains) {
    const at = measureStain(kind, stain, images[stain]!, layout);
    if (at === undefined) continue;
    for (let s = 0; s < layout.scales.length; s++) {
      measureTexture(kind.index, kind.gray!, layout.scales[s]!, kind.values, layout.stride, at + s * 4 * HARALICK_FEATURES.length, neighbours[s]);
    }
  }
  return kind.result;
}

/** Where each stain's measurements go in a row (shared by the object kinds of one call). */
export interface MeasurementLayout {
  stains: string[];
  textured: readonly string[];
  scales: readonly number[];
  levels: number;
  columns: string[];
  stride: number;
  /** First intensity column of each stain. */
  intensityAt: Map<string, number>;
  /** First texture column of each textured stain. */
  textureAt: Map<string, number>;
}

/** The column layout of measureObjects for these stains and options. */
export function measurementLayout(images: Record<string, Plane>, opts: MeasureOptions): MeasurementLayout {
  const stains = Object.keys(images);
  const textured = opts.textureStains ?? stains;
  const scales = opts.textureScales ?? DEFAULT_MEASURE_OPTIONS.textureScales;
  const levels = opts.grayLevels ?? DEFAULT_MEASURE_OPTIONS.grayLevels;
  const columns = measurementColumns(stains, opts);
  const intensityAt = new Map<string, number>();
  let col = 2 + SHAPE_FEATURES.length;
  for (const stain of stains) {
    intensityAt.set(stain, col);
    col += INTENSITY_FEATURES.length;
  }
  const textureAt = new Map<string, number>();
  for (const stain of textured) {
    textureAt.set(stain, col);
    col += scales.length * 4 * HARALICK_FEATURES.length;
  }
  return { stains, textured, scales, levels, columns, stride: columns.length, intensityAt, textureAt };
}

/** One object kind being measured: its pixels, its rows, and the buffers reused across stains. */
export interface KindInProgress {
  index: ObjectPixels;
  values: Float64Array;
  result: ObjectMeasurements;
  pixelValues?: Float64Array;
  gray?: GrayLevels;
}

/** Index the objects and write their location and shape columns. */
export function startKind(labels: LabelImage, layout: MeasurementLayout): KindInProgress {
  const { stride, columns } = layout;
  const count = labels.count;
  const values = new Float64Array(count * stride);
  const index = indexObjects(labels);
  const centre = new Float64Array(2 * count);
  measureShape(index, values, stride, 2, centre);
  for (let k = 0; k < count; k++) {
    values[k * stride] = centre[2 * k]!;
    values[k * stride + 1] = centre[2 * k + 1]!;
  }
  return { index, values, result: { columns, values, count } };
}

/**
 * A stain's intensity columns of one kind; for a textured stain also its gray levels (into
 * kind.gray). `filledGray`: another kind's gray levels of this stain, already made at every pixel
 * of this kind's objects (shared, not made again).
 * Returns the stain's first texture column, or undefined when its texture is not measured.
 */
export function measureStain(kind: KindInProgress, stain: string, plane: Plane, layout: MeasurementLayout, filledGray?: GrayLevels): number | undefined {
  const at = layout.textureAt.get(stain);
  if (at !== undefined) kind.gray = grayLevelsFor(kind.index, layout.levels, filledGray ?? kind.gray);
  kind.pixelValues = gatherValues(kind.index, plane, kind.pixelValues, at === undefined ? undefined : kind.gray, filledGray !== undefined);
  measureIntensity(kind.index, kind.pixelValues, kind.values, layout.stride, layout.intensityAt.get(stain)!);
  return at;
}
