/**
 * Connected components and label-image bookkeeping on flat typed arrays: 8-connected labelling,
 * hole filling, size and border filters, renumbering in raster order.
 */

/** Find with path halving on a parent array. */
export function find(parent: Int32Array, x: number): number {
  while (parent[x] !== x) {
    const p = parent[parent[x] as number] as number;
    parent[x] = p;
    x = p;
  }
  return x;
}

/** Runs of a row-major mask along rows and their union-find parents (components of runs). */
interface Runs {
  start: Int32Array;
  /** Exclusive. */
  end: Int32Array;
  rowOf: Int32Array;
  par: Int32Array;
  count: number;
}

/**
 * The runs of pixels whose mask is non-zero (`of` 1) or zero (`of` 0), joined across rows by
 * union-find when they touch: `reach` 1 for 8-connectivity, 0 for 4-connectivity.
 */
function componentRuns(mask: Uint8Array, w: number, h: number, reach: number, of: 0 | 1): Runs {
  let cap = 1024;
  let start: Int32Array = new Int32Array(cap);
  let end: Int32Array = new Int32Array(cap); // exclusive
  let rowOf: Int32Array = new Int32Array(cap);
  let runs = 0;
  let prevFirst = 0;
  let prevLast = 0; // runs of the previous row: [prevFirst, prevLast)
  let par: Int32Array = new Int32Array(cap);
  for (let y = 0; y < h; y++) {
    const base = y * w;
    const first = runs;
    let x = 0;
    while (x < w) {
      if (of) while (x < w && !mask[base + x]) x++;
      else while (x < w && mask[base + x]) x++;
      if (x >= w) break;
      const s0 = x;
      if (of) while (x < w && mask[base + x]) x++;
      else while (x < w && !mask[base + x]) x++;
      if (runs === cap) {
        cap *= 2;
        const grow = (a: Int32Array): Int32Array => {
          const b = new Int32Array(cap);
          b.set(a);
          return b;
        };
        start = grow(start);
        end = grow(end);
        rowOf = grow(rowOf);
        par = grow(par);
      }
      start[runs] = s0;
      end[runs] = x;
      rowOf[runs] = y;
      par[runs] = runs;
      // join the previous row's runs that touch this one
      for (let r = prevFirst; r < prevLast; r++) {
        if ((start[r] as number) > x - 1 + reach) break;
        if ((end[r] as number) - 1 + reach >= s0) union(par, runs, r);
      }
      // the next run starts at or after x: skip previous runs that end before it can touch them
      while (prevFirst < prevLast && (end[prevFirst] as number) - 1 + reach < x) prevFirst++;
      runs++;
    }
    prevFirst = first;
    prevLast = runs;
  }
  return { start, end, rowOf, par, count: runs };
}

/**
 * Label the connected components of `mask` (non-zero pixels), 8-connected (or 4-connected),
 * numbered 1..count in raster order of their first pixel. Returns the count; writes `labels`.
 * Works on runs of foreground along rows (few compared with pixels), joined by union-find.
 */
export function labelComponents(mask: Uint8Array, w: number, h: number, labels: Int32Array = new Int32Array(w * h), connectivity: 4 | 8 = 8): number {
  const { start, end, rowOf, par, count: runs } = componentRuns(mask, w, h, connectivity === 8 ? 1 : 0, 1);
  labels.fill(0);
  const number = new Int32Array(runs);
  let count = 0;
  for (let r = 0; r < runs; r++) {
    const root = find(par, r);
    if (number[root] === 0) number[root] = ++count;
    const l = number[root] as number;
    const base = (rowOf[r] as number) * w;
    labels.fill(l, base + (start[r] as number), base + (end[r] as number));
  }
  return count;
}

function union(par: Int32Array, a: number, b: number): void {
  const ra = find(par, a);
  const rb = find(par, b);
  if (ra === rb) return;
  if (ra < rb) par[rb] = ra;
  else par[ra] = rb;
}

/**
 * The holes of a foreground: 4-connected components of `background` (non-zero = background) that
 * do not reach the image border (4-connected background is the complement of 8-connected
 * foreground). Returns the component of each pixel and, per component, 1 if it is a hole.
 */
function holes(background: Uint8Array, w: number, h: number): { comp: Int32Array; hole: Uint8Array; count: number } {
  const comp = new Int32Array(w * h);
  const count = labelComponents(background, w, h, comp, 4);
  const hole = new Uint8Array(count + 1).fill(1);
  hole[0] = 0;
  for (let x = 0; x < w; x++) {
    hole[comp[x] as number] = 0;
    hole[comp[(h - 1) * w + x] as number] = 0;
  }
  for (let y = 0; y < h; y++) {
    hole[comp[y * w] as number] = 0;
    hole[comp[y * w + w - 1] as number] = 0;
  }
  return { comp, hole, count };
}

/**
 * Fill holes of a binary mask in place: background that does not reach the border becomes
 * foreground. Works on the background's runs (4-connected components of runs; a run reaches the
 * border when it is on the first or last row or starts or ends the row).
 */
export function fillMaskHoles(mask: Uint8Array, w: number, h: number): void {
  const { start, end, rowOf, par, count } = componentRuns(mask, w, h, 0, 0);
  const border = new Uint8Array(count);
  for (let r = 0; r < count; r++) {
    const y = rowOf[r] as number;
    if (y === 0 || y === h - 1 || start[r] === 0 || end[r] === w) border[find(par, r)] = 1;
  }
  for (let r = 0; r < count; r++) {
    if (border[find(par, r)]) continue;
    const base = (rowOf[r] as number) * w;
    mask.fill(1, base + (start[r] as number), base + (end[r] as number));
  }
}

/**
 * Fill the holes of each object of a label image in place: a background region not reaching the
 * border (4-connected) whose neighbours all belong to one object joins that object. A gap
 * enclosed by two or more objects stays background.
 */
export function fillLabelHoles(labels: Int32Array, w: number, h: number): void {
  const n = w * h;
  const background = new Uint8Array(n);
  for (let i = 0; i < n; i++) background[i] = labels[i] === 0 ? 1 : 0;
  const { comp, hole, count } = holes(background, w, h);
  const owner = new Int32Array(count + 1); // 0 none yet, -1 several
  const see = (c: number, l: number): void => {
    if (l === 0) return;
    const o = owner[c] as number;
    if (o === 0) owner[c] = l;
    else if (o !== l) owner[c] = -1;
  };
  let any = false;
  for (let i = 0; i < n; i++) {
    const c = comp[i] as number;
    if (!hole[c]) continue;
    any = true;
    // a hole never touches the border, so all four neighbours exist
    see(c, labels[i - 1] as number);
    see(c, labels[i + 1] as number);
    see(c, labels[i - w] as number);
    see(c, labels[i + w] as number);
  }
  if (!any) return;
  for (let i = 0; i < n; i++) {
    const c = comp[i] as number;
    if (hole[c] && (owner[c] as number) > 0) labels[i] = owner[c] as number;
  }
}

/** Pixel count of each label (index 0 = background). */
export function labelAreas(labels: Int32Array, count: number): Int32Array {
  const areas = new Int32Array(count + 1);
  for (let i = 0; i < labels.length; i++) areas[labels[i] as number]++;
  return areas;
}

/**
 * Renumber the labels that `keep` accepts as 1..count in raster order of their first pixel; the
 * others become background. Returns the new count.
 */
export function renumber(labels: Int32Array, count: number, keep: (label: number) => boolean = () => true): number {
  const map = new Int32Array(count + 1).fill(-1);
  map[0] = 0;
  let next = 0;
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i] as number;
    if (l === 0) continue;
    let m = map[l] as number;
    if (m === -1) m = map[l] = keep(l) ? ++next : 0;
    labels[i] = m;
  }
  return next;
}

/** Labels touching the image border (flag per label). */
export function borderLabels(labels: Int32Array, w: number, h: number, count: number): Uint8Array {
  const touches = new Uint8Array(count + 1);
  for (let x = 0; x < w; x++) {
    touches[labels[x] as number] = 1;
    touches[labels[(h - 1) * w + x] as number] = 1;
  }
  for (let y = 0; y < h; y++) {
    touches[labels[y * w] as number] = 1;
    touches[labels[y * w + w - 1] as number] = 1;
  }
  touches[0] = 0;
  return touches;
}
