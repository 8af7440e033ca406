/**
 * The contract between the parts of `src/cells/`: finding objects (segment), measuring them
 * (measure), and the stage that runs both over a screen (stage). Everything here is portable
 * TypeScript on typed arrays: no fs, no threads, no native code, so the same algorithms can
 * run in the browser host.
 */

/**
 * One greyscale image: row-major, `width * height` values. Integer planes are in the file's units;
 * float planes are on CellProfiler's scale, 0..1 (the file's value / 65535 or / 255), which is how
 * the cells stage reads a field (src/cells/read.ts) and what `measureObjects` reports intensities in.
 */
export interface Plane {
  data: Float32Array | Uint16Array | Uint8Array;
  width: number;
  height: number;
}

/**
 * A label image: 0 = background, 1..count = the objects, row-major `width * height`.
 * Objects are numbered in raster order of their first pixel (top to bottom, left to right), as
 * CellProfiler numbers them, so object numbers are reproducible.
 */
export interface LabelImage {
  labels: Int32Array;
  width: number;
  height: number;
  count: number;
}

export type ThresholdMethod = 'li' | 'otsu';
export type DeclumpMethod = 'intensity' | 'shape' | 'none';

/** IdentifyPrimaryObjects settings (defaults chosen from the typical nucleus diameter). */
export interface NucleiOptions {
  /** Typical nucleus diameter range in pixels, [min, max]; objects outside are dropped. CellProfiler default [10, 40]. */
  diameter: [number, number];
  threshold: ThresholdMethod;
  /** Multiplies the automatic threshold (CellProfiler's correction factor), default 1. */
  thresholdCorrection: number;
  /** Gaussian sigma of the smoothing before thresholding (px). */
  smoothing: number;
  /** Threshold the histogram of intensities ('linear') or of their logarithm ('log'). */
  thresholdScale?: 'linear' | 'log';
  declump: DeclumpMethod;
  fillHoles: boolean;
  /** Drop objects touching the image border (CellProfiler's default: yes). */
  discardBorder: boolean;
  /**
   * Take the declumping scale (seed smoothing, seed spacing) from the nucleus size measured on the
   * image itself instead of from `diameter[0]`; `diameter` then only filters objects by size.
   */
  autoScale?: boolean;
}

/** IdentifySecondaryObjects (propagation) settings. */
export interface CellsOptions {
  threshold: ThresholdMethod;
  thresholdCorrection: number;
  smoothing: number;
  /** Propagation's regularization factor (CellProfiler default 0.05). */
  regularization: number;
  fillHoles: boolean;
}

export type ObjectName = 'Nuclei' | 'Cells' | 'Cytoplasm';

/**
 * Per-object measurements of one field and one kind of object: `count` rows of `columns.length`
 * values, row-major (row k = object k+1). Columns are named in CellProfiler's vocabulary without
 * the object prefix (`AreaShape_Area`, `Intensity_MeanIntensity_DNA`,
 * `Texture_Contrast_DNA_3_00_256`); the stage prefixes them with the object name.
 */
export interface ObjectMeasurements {
  columns: string[];
  values: Float64Array;
  count: number;
}
