/**
 * Nuclei, cells and cytoplasm measured together. When every nucleus lies inside the cell of its
 * number (as segmentCells makes them: cells grow from the nuclei), cytoplasm k = cell k minus
 * nucleus k, and a cell's pixel pairs are its nucleus' pairs, its cytoplasm's pairs and the pairs
 * that cross between them. The texture pass therefore walks each cell's pixel pairs once and counts
 * each pair into the cell's co-occurrence table and, when both pixels are in the nucleus (or both
 * in the cytoplasm), into the nucleus' (cytoplasm's) table, instead of three passes. Pairs are met
 * in the order the separate passes meet them, so every value is bitwise equal to measureObjects'.
 * Gray levels of a stain are made once and shared by the three kinds.
 *
 *   const { Nuclei, Cells, Cytoplasm } = measureNested(nuclei, cells, { DNA: dna, Actin: actin });
 */
import { MorphoprofError } from '../errors.js';
import { checkInputs, measureObjects, measureStain, measurementLayout, startKind, type MeasureOptions } from './measure.js';
import { COOCCURRENCE_KEYS as KEYS, HARALICK_FEATURES, TEXTURE_DIRECTIONS, cooccurrenceTables, countPairs, haralickTables, neighbourMask } from './texture.js';
import type { ObjectPixels } from './shape.js';
import type { LabelImage, ObjectMeasurements, Plane } from './types.js';

export interface NestedMeasurements {
  Nuclei: ObjectMeasurements;
  Cells: ObjectMeasurements;
  Cytoplasm: ObjectMeasurements;
}

/** Cytoplasm labels: the cells' labels where no nucleus is (the cells' count). */
export function cytoplasmLabels(nuclei: LabelImage, cells: LabelImage): LabelImage {
  return cytoplasmOf(nuclei, cells).cytoplasm;
}

/** cytoplasmLabels and nucleiInsideCells in one pass over the two label images. */
/**
 * Cytoplasm labels of measureNested, kept between fields (it is synchronous and returns nothing
 * that refers to them; one field at a time per thread), every pixel overwritten.
 */
let scratchLabels = new Int32Array(0);

function cytoplasmOf(nuclei: LabelImage, cells: LabelImage, reuse = false): { cytoplasm: LabelImage; nested: boolean } {
  const size = cells.labels.length;
  if (reuse && scratchLabels.length !== size) scratchLabels = new Int32Array(size);
  const labels = reuse ? scratchLabels : new Int32Array(size);
  const n = nuclei.labels;
  const c = cells.labels;
  let outside = 0;
  for (let i = 0; i < labels.length; i++) {
    const a = n[i]!;
    const b = c[i]!;
    labels[i] = a !== 0 ? 0 : b;
    outside |= a !== 0 && a !== b ? 1 : 0;
  }
  return { cytoplasm: { labels, width: cells.width, height: cells.height, count: cells.count }, nested: outside === 0 };
}

/** True when every nucleus pixel carries its nucleus' number in the cell label image. */
export function nucleiInsideCells(nuclei: LabelImage, cells: LabelImage): boolean {
  const n = nuclei.labels;
  const c = cells.labels;
  for (let i = 0; i < n.length; i++) if (n[i] !== 0 && c[i] !== n[i]) return false;
  return true;
}

/**
 * measureObjects of the nuclei, the cells and the cytoplasm (cells minus nuclei, numbered as the
 * cells), with results equal to three measureObjects calls. Label images that are not nested
 * (a nucleus pixel outside the cell of its number) are measured by those three calls.
 */
export function measureNested(nuclei: LabelImage, cells: LabelImage, images: Record<string, Plane>, opts: MeasureOptions = {}): NestedMeasurements {
  if (nuclei.width !== cells.width || nuclei.height !== cells.height) {
    throw new MorphoprofError(
      'BAD_ARGUMENT',
      `measureNested: nuclei are ${nuclei.width}x${nuclei.height} but cells ${cells.width}x${cells.height}`,
      'give the nuclei and cells of the same field',
    );
  }
  checkInputs(nuclei, images, opts);
  checkInputs(cells, images, opts);
  const { cytoplasm: cyto, nested } = cytoplasmOf(nuclei, cells, true);
  if (!nested) {
    return { Nuclei: measureObjects(nuclei, images, opts), Cells: measureObjects(cells, images, opts), Cytoplasm: measureObjects(cyto, images, opts) };
  }
  const layout = measurementLayout(images, opts);
  const kN = startKind(nuclei, layout);
  const kC = startKind(cells, layout);
  const kY = startKind(cyto, layout);
  const masks = layout.textured.length > 0 ? layout.scales.map((s) => neighbourMask(kC.index, s)) : [];
  for (const stain of layout.stains) {
    const plane = images[stain]!;
    const at = measureStain(kC, stain, plane, layout);
    measureStain(kN, stain, plane, layout, kC.gray);
    measureStain(kY, stain, plane, layout, kC.gray);
    if (at === undefined) continue;
    for (let s = 0; s < layout.scales.length; s++) {
      const offset = at + s * 4 * HARALICK_FEATURES.length;
      nestedTexture(kC.index, nuclei.labels, kC.gray!.image, [kC.gray!.max, kN.gray!.max, kY.gray!.max], layout.scales[s]!, masks[s]!, [kC.values, kN.values, kY.values], layout.stride, offset);
    }
  }
  return { Nuclei: kN.result, Cells: kC.result, Cytoplasm: kY.result };
}

/** Count tables of the three kinds: cells at 0, nuclei at 4 x KEYS, cytoplasm at 8 x KEYS (4 directions each). */
let tables: { cnt: Int32Array; tch: Int32Array } | undefined;

/**
 * Texture of one stain at one distance for cells (objects of `cells`), their nuclei (pixels where
 * `nucleus` is nonzero) and their cytoplasm: `max` = each kind's largest gray level per object,
 * `out` = each kind's rows (same stride and offset), in that order (cells, nuclei, cytoplasm).
 */
function nestedTexture(
  cells: ObjectPixels,
  nucleus: Int32Array,
  gray: Uint8Array,
  max: readonly [Uint8Array, Uint8Array, Uint8Array],
  distance: number,
  mask: Uint8Array,
  out: readonly [Float64Array, Float64Array, Float64Array],
  stride: number,
  offset: number,
): void {
  cooccurrenceTables(); // the x log2 x table
  tables ??= { cnt: new Int32Array(12 * KEYS), tch: new Int32Array(12 * KEYS) };
  const { cnt, tch } = tables;
  const { width: w, count, start, pixel } = cells;
  const shift = Int32Array.from(TEXTURE_DIRECTIONS, ([dy, dx]) => distance * (dy * w + dx));
  const nt = new Int32Array(12);
  const nucleiCount = out[1].length / stride;
  const sizes = new Int32Array(12);
  const outs: Array<Float64Array | null> = [...out];
  const offsets = [0, 0, 0];
  for (let k = 1; k <= count; k++) {
    const size = max[0][k - 1]! + 1;
    nt.fill(0);
    countPairs(pixel, start[k - 1]!, start[k]!, mask, gray, nucleus, shift, size, cnt, tch, nt);
    const o = (k - 1) * stride + offset;
    sizes.fill(size, 0, 4);
    sizes.fill(k <= nucleiCount ? max[1][k - 1]! + 1 : 1, 4, 8);
    sizes.fill(max[2][k - 1]! + 1, 8, 12);
    outs[1] = k <= nucleiCount ? out[1] : null;
    offsets.fill(o);
    haralickTables(cnt, tch, nt, 12, size, sizes, start[k]! - start[k - 1]!, outs, offsets);
  }
}
