/**
 * INTERIM stand-in (lead's placeholder so the cells stage can be built and tested): location,
 * bounding box, area and mean intensity. The real MeasureObjectSizeShape / Intensity / Texture
 * implementation replaces this file.
 */
import type { LabelImage, ObjectMeasurements, Plane } from './types.js';

export function measureObjects(labels: LabelImage, images: Record<string, Plane>): ObjectMeasurements {
  const stains = Object.keys(images);
  const columns = [
    'Location_Center_X', 'Location_Center_Y', 'AreaShape_Area',
    'AreaShape_BoundingBoxMinimum_X', 'AreaShape_BoundingBoxMinimum_Y', 'AreaShape_BoundingBoxMaximum_X', 'AreaShape_BoundingBoxMaximum_Y',
    ...stains.map((s) => `Intensity_MeanIntensity_${s}`),
  ];
  const n = labels.count;
  const k = columns.length;
  const values = new Float64Array(n * k);
  const minX = new Float64Array(n + 1).fill(Infinity);
  const minY = new Float64Array(n + 1).fill(Infinity);
  const maxX = new Float64Array(n + 1).fill(-1);
  const maxY = new Float64Array(n + 1).fill(-1);
  const { width: w } = labels;
  for (let i = 0; i < labels.labels.length; i++) {
    const l = labels.labels[i]!;
    if (!l) continue;
    const x = i % w;
    const y = (i - x) / w;
    const r = (l - 1) * k;
    values[r] += x;
    values[r + 1] += y;
    values[r + 2] += 1;
    minX[l] = Math.min(minX[l]!, x);
    minY[l] = Math.min(minY[l]!, y);
    maxX[l] = Math.max(maxX[l]!, x + 1);
    maxY[l] = Math.max(maxY[l]!, y + 1);
    stains.forEach((s, c) => (values[r + 7 + c] += images[s]!.data[i]!));
  }
  for (let l = 1; l <= n; l++) {
    const r = (l - 1) * k;
    const a = values[r + 2]!;
    if (a === 0) continue;
    values[r] /= a;
    values[r + 1] /= a;
    values[r + 3] = minX[l]!;
    values[r + 4] = minY[l]!;
    values[r + 5] = maxX[l]!;
    values[r + 6] = maxY[l]!;
    for (let c = 0; c < stains.length; c++) values[r + 7 + c] /= a;
  }
  return { columns, values, count: n };
}
