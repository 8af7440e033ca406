/**
 * Connected components and label-image bookkeeping on flat typed arrays: 8-connected labelling,
 * hole filling, size and border filters, renumbering in raster order.
 */

/** Find with path halving on a parent array. */
function find(parent: Int32Array, x: number): number {
  while (parent[x] !== x) {
    const p = parent[parent[x] as number] as number;
    parent[x] = p;
    x = p;
  }
  return x;
}

/**
 * Label the connected components of `mask` (non-zero pixels), 8-connected, numbered 1..count in
 * raster order of their first pixel. Returns the count; writes `labels`.
 */
export function labelComponents(mask: Uint8Array, w: number, h: number, labels: Int32Array = new Int32Array(w * h)): number {
  const parent = labels; // provisional: parent index + 1 stored per pixel, resolved below
  const par = new Int32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (!mask[i]) {
        par[i] = -1;
        continue;
      }
      par[i] = i;
      // neighbours already visited: W, NW, N, NE
      if (x > 0 && mask[i - 1]) union(par, i, i - 1);
      if (y > 0) {
        const up = i - w;
        if (x > 0 && mask[up - 1]) union(par, i, up - 1);
        if (mask[up]) union(par, i, up);
        if (x < w - 1 && mask[up + 1]) union(par, i, up + 1);
      }
    }
  }
  let count = 0;
  // roots get numbers in raster order of their component's first pixel: the first pixel met of a
  // component is where its root number is assigned (the root itself may lie later)
  const number = new Int32Array(w * h); // root -> label
  for (let i = 0; i < w * h; i++) {
    if (par[i] === -1) {
      parent[i] = 0;
      continue;
    }
    const r = find(par, i);
    if (number[r] === 0) number[r] = ++count;
    parent[i] = number[r] as number;
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
 * Fill holes of a binary mask in place: background not connected (4-connected, the complement of
 * 8-connected foreground) to the image border becomes foreground.
 */
export function fillMaskHoles(mask: Uint8Array, w: number, h: number): void {
  const n = w * h;
  const seen = new Uint8Array(n);
  const stack = new Int32Array(n);
  let top = 0;
  const push = (i: number): void => {
    if (!mask[i] && !seen[i]) {
      seen[i] = 1;
      stack[top++] = i;
    }
  };
  for (let x = 0; x < w; x++) {
    push(x);
    push((h - 1) * w + x);
  }
  for (let y = 0; y < h; y++) {
    push(y * w);
    push(y * w + w - 1);
  }
  while (top > 0) {
    const i = stack[--top] as number;
    const x = i % w;
    if (x > 0) push(i - 1);
    if (x < w - 1) push(i + 1);
    if (i >= w) push(i - w);
    if (i < n - w) push(i + w);
  }
  for (let i = 0; i < n; i++) if (!mask[i] && !seen[i]) mask[i] = 1;
}

/**
 * Fill the holes of each object of a label image in place: a background region not reaching the
 * border (4-connected) whose neighbours all belong to one object joins that object. A gap
 * enclosed by two or more objects stays background.
 */
export function fillLabelHoles(labels: Int32Array, w: number, h: number): void {
  const n = w * h;
  const seen = new Uint8Array(n);
  const stack = new Int32Array(n);
  const region = new Int32Array(n);
  for (let start = 0; start < n; start++) {
    if (labels[start] !== 0 || seen[start]) continue;
    // flood one background region, noting whether it touches the border and which labels surround it
    let top = 0;
    let size = 0;
    let border = false;
    let owner = 0; // 0 none yet, -1 several
    seen[start] = 1;
    stack[top++] = start;
    while (top > 0) {
      const i = stack[--top] as number;
      region[size++] = i;
      const x = i % w;
      const y = (i / w) | 0;
      if (x === 0 || y === 0 || x === w - 1 || y === h - 1) border = true;
      for (let d = 0; d < 4; d++) {
        let j: number;
        if (d === 0) {
          if (x === 0) continue;
          j = i - 1;
        } else if (d === 1) {
          if (x === w - 1) continue;
          j = i + 1;
        } else if (d === 2) {
          if (y === 0) continue;
          j = i - w;
        } else {
          if (y === h - 1) continue;
          j = i + w;
        }
        const l = labels[j] as number;
        if (l === 0) {
          if (!seen[j]) {
            seen[j] = 1;
            stack[top++] = j;
          }
        } else if (owner === 0) owner = l;
        else if (owner !== l) owner = -1;
      }
    }
    if (!border && owner > 0) for (let k = 0; k < size; k++) labels[region[k] as number] = owner;
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
