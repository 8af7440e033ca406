/**
 * Seeds for declumping: regional maxima of a marker image, suppressed within a radius (the
 * strongest first), as CellProfiler's IdentifyPrimaryObjects finds them.
 */

/**
 * Local maxima of `values` inside `mask` (8 neighbours, pixels outside the mask ignored), taken
 * from the highest down; a maximum closer than `radius` px to one already taken is dropped.
 * Writes seed numbers 1..k into `markers` (zeroed first) and returns k.
 */
export function suppressedMaxima(values: Float32Array, mask: Uint8Array, w: number, h: number, radius: number, markers: Int32Array = new Int32Array(w * h)): { markers: Int32Array; count: number } {
  markers.fill(0);
  const candidates: number[] = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (!mask[i]) continue;
      const v = values[i] as number;
      let isMax = true;
      for (let dy = -1; dy <= 1 && isMax; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= h) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= w || (dx === 0 && dy === 0)) continue;
          const j = yy * w + xx;
          if (mask[j] && (values[j] as number) > v) {
            isMax = false;
            break;
          }
        }
      }
      if (isMax) candidates.push(i);
    }
  }
  candidates.sort((a, b) => (values[b] as number) - (values[a] as number) || a - b);
  const r = Math.max(0, radius);
  const ri = Math.floor(r);
  const r2 = r * r;
  const blocked = new Uint8Array(w * h);
  let count = 0;
  for (const i of candidates) {
    if (blocked[i]) continue;
    markers[i] = ++count;
    const x = i % w;
    const y = (i / w) | 0;
    for (let dy = -ri; dy <= ri; dy++) {
      const yy = y + dy;
      if (yy < 0 || yy >= h) continue;
      for (let dx = -ri; dx <= ri; dx++) {
        const xx = x + dx;
        if (xx < 0 || xx >= w || dx * dx + dy * dy > r2) continue;
        blocked[yy * w + xx] = 1;
      }
    }
  }
  return { markers, count };
}
