/**
 * Renders one field of view of MCF7-like cells in three stains (DNA, tubulin, actin) as 16-bit
 * counts. Hand-written because no library draws fluorescence-microscopy cells: each cell is drawn
 * only inside its bounding box into Float32 accumulators, fibres are splatted along their length,
 * and the only full-field passes are a binomial blur (optics), illumination, gain and noise.
 */
import type { Phenotype } from './phenotypes.js';
import type { Rng } from './random.js';

/** The three stains of BBBC021, in table order, with their file-name wavelength tag. */
export const STAINS = [
  { channel: 'DAPI', tag: 'w1' },
  { channel: 'Tubulin', tag: 'w2' },
  { channel: 'Actin', tag: 'w4' },
] as const;

/** Nucleus radius (px) of a DMSO cell: BBBC021's mean nucleus area of ~990 px at 0.5 um/px. */
export const NUCLEUS_RADIUS = 16;
/** DMSO cells per megapixel: BBBC021's ~235 cells per 1280x1024 field. */
export const CELLS_PER_MEGAPIXEL = 235 / (1280 * 1024 / 1e6);

/** Camera offset, background fluorescence and cell brightness per stain (counts at gain 1). */
const OFFSET = [250, 300, 400];
const BACKGROUND = [230, 450, 580];
const BRIGHTNESS = [2600, 3000, 6000];
/** Counts per photo-electron (shot noise variance = this x signal) and read noise sd (counts). */
const COUNTS_PER_ELECTRON = 1.6;
const READ_NOISE = 12;

/** How a plate's microscope sees a stain: smooth illumination (multiplicative) and gain. */
export interface StainOptics {
  illumination: Float32Array;
  gain: number;
}

/** Smooth vignetting: 1 at (cx, cy), 1 - falloff at the farthest corner, quadratic between. */
export function illuminationField(width: number, height: number, cx: number, cy: number, falloff: number): Float32Array {
  const out = new Float32Array(width * height);
  const far2 = Math.max(cx * cx, (width - cx) ** 2) + Math.max(cy * cy, (height - cy) ** 2);
  for (let y = 0; y < height; y++) {
    const dy2 = (y + 0.5 - cy) ** 2;
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const dx = x + 0.5 - cx;
      out[row + x] = 1 - (falloff * (dx * dx + dy2)) / far2;
    }
  }
  return out;
}

interface Cell {
  x: number;
  y: number;
  /** nucleus semi-axes, angle */
  na: number;
  nb: number;
  nang: number;
  /** nucleus centre offset from the cell centre */
  nx: number;
  ny: number;
  /** cell radius and shape harmonics (cos/sin of 2, 3, 4 theta) */
  r: number;
  h: Float64Array;
  state: 'interphase' | 'mitotic' | 'fragmented' | 'multinucleate';
  dna: number;
}

/** Separable binomial [1,2,1]/4 blur in place (edges clamped): the microscope's blur. */
function binomialBlur(a: Float32Array, t: Float32Array, w: number, h: number): void {
  for (let y = 0; y < h; y++) {
    const row = y * w;
    t[row] = 0.75 * (a[row] as number) + 0.25 * (a[row + 1] as number);
    for (let x = 1; x < w - 1; x++) {
      t[row + x] = 0.25 * ((a[row + x - 1] as number) + (a[row + x + 1] as number)) + 0.5 * (a[row + x] as number);
    }
    t[row + w - 1] = 0.75 * (a[row + w - 1] as number) + 0.25 * (a[row + w - 2] as number);
  }
  for (let x = 0; x < w; x++) {
    a[x] = 0.75 * (t[x] as number) + 0.25 * (t[x + w] as number);
    const last = (h - 1) * w + x;
    a[last] = 0.75 * (t[last] as number) + 0.25 * (t[last - w] as number);
  }
  for (let y = 1; y < h - 1; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      const i = row + x;
      a[i] = 0.25 * ((t[i - w] as number) + (t[i + w] as number)) + 0.5 * (t[i] as number);
    }
  }
}

/** Scratch buffers reused across fields of one size (rendering is synchronous, one field at a time). */
/** Where the renderer drew a nuclear figure: the ground truth for nucleus detection. */
export interface NucleusTruth {
  x: number;
  y: number;
  /** semi-axes (px) and angle (rad) of the figure's extent */
  a: number;
  b: number;
  angle: number;
  /** interphase and multinucleate figures are one nucleus each; a mitotic or fragmented figure is one object however many pieces it shows */
  state: 'interphase' | 'mitotic' | 'fragmented' | 'multinucleate';
}

export class FieldRenderer {
  readonly size: number;
  /** The nuclear figures of the last rendered field. */
  nuclei: NucleusTruth[] = [];
  private readonly dna: Float32Array;
  private readonly tub: Float32Array;
  private readonly act: Float32Array;
  private readonly tmp: Float32Array;
  private readonly texFine: Float32Array;
  private readonly texCoarse: Float32Array;
  private readonly texWidth: number;
  /** Offset of this field's window into the textures. */
  private texOffset = 0;

  constructor(
    readonly width: number,
    readonly height: number,
    private readonly normals: Float32Array,
  ) {
    this.size = width * height;
    this.dna = new Float32Array(this.size);
    this.tub = new Float32Array(this.size);
    this.act = new Float32Array(this.size);
    this.tmp = new Float32Array(this.size);
    // textures are made once at twice the field size; each field reads a window at a random offset
    this.texWidth = 2 * width;
    this.texFine = this.texture(2 * width, 2 * height, 0x7e57, 1, 0.22);
    this.texCoarse = this.texture(2 * width, 2 * height, 0xc0a5, 3, 0.3);
  }

  /** Render a field; returns one Uint16Array of counts per stain (DNA, tubulin, actin). */
  render(rng: Rng, p: Phenotype, optics: readonly StainOptics[]): Uint16Array[] {
    this.dna.fill(0);
    this.tub.fill(0);
    this.act.fill(0);
    this.texOffset = rng.int(this.height) * this.texWidth + rng.int(this.width);
    const cells = this.placeCells(rng, p);
    this.nuclei = [];
    for (const cell of cells) this.drawCell(rng, p, cell);
    const out: Uint16Array[] = [];
    const signals = [this.dna, this.tub, this.act];
    for (let s = 0; s < 3; s++) {
      const signal = signals[s] as Float32Array;
      binomialBlur(signal, this.tmp, this.width, this.height);
      out.push(this.expose(signal, s, optics[s] as StainOptics, rng.uint32()));
    }
    return out;
  }

  /** Blurred white noise around 1 with the given sd: the grain of chromatin and cytoplasm. */
  private texture(width: number, height: number, seed: number, passes: number, sd: number): Float32Array {
    const out = new Float32Array(width * height);
    const tmp = new Float32Array(width * height);
    const normals = this.normals;
    const mask = normals.length - 1;
    let h = seed | 1;
    for (let i = 0; i < out.length; i++) {
      h ^= h << 13;
      h ^= h >>> 17;
      h ^= h << 5;
      out[i] = normals[h & mask] as number;
    }
    for (let k = 0; k < passes; k++) binomialBlur(out, tmp, width, height);
    // variance of white noise after k binomial [1,2,1]/4 passes, per axis: C(4k,2k)/16^k
    let perAxis = 1;
    for (let k = 0; k < passes; k++) perAxis *= ((4 * k + 3) * (4 * k + 1)) / ((2 * k + 2) * (2 * k + 1) * 4);
    const scale = sd / perAxis;
    for (let i = 0; i < out.length; i++) out[i] = 1 + scale * (out[i] as number);
    return out;
  }

  /** offset + gain x illumination x (background + signal), with shot and read noise, clamped. */
  private expose(signal: Float32Array, stain: number, optics: StainOptics, seed: number): Uint16Array {
    const out = new Uint16Array(this.size);
    const normals = this.normals;
    const mask = normals.length - 1;
    const offset = OFFSET[stain] as number;
    const bg = BACKGROUND[stain] as number;
    const gain = optics.gain;
    const illum = optics.illumination;
    const read2 = READ_NOISE * READ_NOISE;
    let h = seed | 1;
    for (let i = 0; i < this.size; i++) {
      const lit = bg + (signal[i] as number);
      const mean = gain * (illum[i] as number) * (lit > 0 ? lit : 0);
      h ^= h << 13;
      h ^= h >>> 17;
      h ^= h << 5;
      const v = offset + mean + Math.sqrt(COUNTS_PER_ELECTRON * mean + read2) * (normals[h & mask] as number);
      out[i] = v <= 0 ? 0 : v >= 65535 ? 65535 : (v + 0.5) | 0;
    }
    return out;
  }

  private placeCells(rng: Rng, p: Phenotype): Cell[] {
    const w = this.width;
    const h = this.height;
    const target = Math.max(1, Math.round((CELLS_PER_MEGAPIXEL * w * h * p.density * rng.jitter(0.1)) / 1e6));
    // colony centres for clustered growth
    const colonies = Array.from({ length: Math.max(1, Math.round((w * h) / 90000)) }, () => [rng.uniform(0, w), rng.uniform(0, h)] as const);
    const cells: Cell[] = [];
    const grid = new Map<number, Cell[]>();
    const cellSize = 2 * NUCLEUS_RADIUS * 1.6;
    const gridKey = (x: number, y: number): number => Math.floor(x / cellSize) * 100003 + Math.floor(y / cellSize);
    for (let n = 0; n < target; n++) {
      const cell = this.newCell(rng, p);
      for (let attempt = 0; attempt < 25; attempt++) {
        if (rng.next() < p.clustering) {
          const c = colonies[rng.int(colonies.length)] as readonly [number, number];
          cell.x = c[0] + rng.normal() * 3.2 * NUCLEUS_RADIUS;
          cell.y = c[1] + rng.normal() * 3.2 * NUCLEUS_RADIUS;
        } else {
          cell.x = rng.uniform(-4, w + 4);
          cell.y = rng.uniform(-4, h + 4);
        }
        if (this.fits(cell, grid, cellSize)) {
          cells.push(cell);
          const k = gridKey(cell.x, cell.y);
          const bucket = grid.get(k);
          if (bucket) bucket.push(cell);
          else grid.set(k, [cell]);
          break;
        }
      }
    }
    return cells;
  }

  /** Nuclei do not overlap much: reject a position too close to a neighbour's nucleus. */
  private fits(cell: Cell, grid: Map<number, Cell[]>, cellSize: number): boolean {
    const gx = Math.floor(cell.x / cellSize);
    const gy = Math.floor(cell.y / cellSize);
    const ra = Math.max(cell.na, cell.nb);
    for (let dx = -2; dx <= 2; dx++) {
      for (let dy = -2; dy <= 2; dy++) {
        for (const o of grid.get((gx + dx) * 100003 + gy + dy) ?? []) {
          const d = Math.hypot(cell.x + cell.nx - o.x - o.nx, cell.y + cell.ny - o.y - o.ny);
          if (d < 0.95 * (ra + Math.max(o.na, o.nb))) return false;
        }
      }
    }
    return true;
  }

  private newCell(rng: Rng, p: Phenotype): Cell {
    const u = rng.next();
    const state: Cell['state'] =
      u < p.mitotic ? 'mitotic'
        : u < p.mitotic + p.fragmented ? 'fragmented'
          : u < p.mitotic + p.fragmented + p.multinucleate ? 'multinucleate'
            : 'interphase';
    const rn = NUCLEUS_RADIUS * p.nucleusSize * rng.jitter(0.12);
    const aspect = rng.uniform(0.72, 0.95);
    const h = new Float64Array(6);
    let r: number;
    let nx = 0;
    let ny = 0;
    if (state === 'mitotic') {
      // rounded-up cell, little larger than its chromatin
      r = rn * 1.35 * rng.jitter(0.08);
      h[2] = 0.03 * rng.normal();
      h[3] = 0.03 * rng.normal();
    } else {
      r = Math.max(rn * 1.4, NUCLEUS_RADIUS * 2.6 * p.cellSize * rng.jitter(0.12) * (state === 'multinucleate' ? 1.2 : 1));
      const e = Math.min(0.6, p.elongation * rng.uniform(0.4, 1.3));
      const phi = rng.uniform(0, Math.PI);
      h[0] = e * Math.cos(2 * phi);
      h[1] = e * Math.sin(2 * phi);
      h[2] = 0.09 * rng.normal();
      h[3] = 0.09 * rng.normal();
      h[4] = 0.06 * rng.normal();
      h[5] = 0.06 * rng.normal();
      const off = rng.uniform(0, 0.18) * r;
      const a = rng.uniform(0, 2 * Math.PI);
      nx = off * Math.cos(a);
      ny = off * Math.sin(a);
    }
    return {
      x: 0, y: 0, na: rn, nb: rn * aspect, nang: rng.uniform(0, Math.PI), nx, ny, r, h, state,
      dna: BRIGHTNESS[0] as number * p.dna * rng.jitter(0.15),
    };
  }

  private drawCell(rng: Rng, p: Phenotype, c: Cell): void {
    const tubI = (BRIGHTNESS[1] as number) * p.tubulin * rng.jitter(0.15);
    const actI = (BRIGHTNESS[2] as number) * p.actin * rng.jitter(0.15);
    const mitotic = c.state === 'mitotic';
    const cortex = mitotic ? Math.max(2, p.cortex * 1.5) : p.cortex;
    const fibres = mitotic ? Math.min(p.tubulinFibres, 0.3) : p.tubulinFibres;
    // diffuse tubulin is brighter where fibres are gone; bundles take tubulin out of the body
    const tubBody = tubI * (fibres > 1 ? 1 / (1 + 0.2 * (fibres - 1)) : 1.25 - 0.25 * fibres);
    this.drawBody(c, tubBody, actI, cortex, mitotic ? 1.4 : 1);
    if (fibres > 0.05) this.drawMicrotubules(rng, c, tubI, fibres);
    if (!mitotic && p.stressFibres > 0.05) this.drawStressFibres(rng, c, actI, p.stressFibres);
    if (p.actinPuncta > 0.05) {
      const n = rng.poisson(p.actinPuncta);
      for (let k = 0; k < n; k++) {
        const a = rng.uniform(0, 2 * Math.PI);
        const rr = rng.uniform(0.3, 0.9) * this.radiusAt(c, Math.cos(a), Math.sin(a));
        const s = rng.uniform(1.5, 3);
        this.ellipse(this.act, c.x + rr * Math.cos(a), c.y + rr * Math.sin(a), s, s, 0, actI * 2.2, null);
      }
    }
    this.drawNucleus(rng, c, tubI);
  }

  /** Cell radius in direction (cos, sin), from the shape harmonics. */
  private radiusAt(c: Cell, co: number, si: number): number {
    const h = c.h;
    const c2 = co * co - si * si;
    const s2 = 2 * co * si;
    const c3 = co * c2 - si * s2;
    const s3 = si * c2 + co * s2;
    const c4 = c2 * c2 - s2 * s2;
    const s4 = 2 * c2 * s2;
    const f = 1 + (h[0] as number) * c2 + (h[1] as number) * s2 + (h[2] as number) * c3 + (h[3] as number) * s3 + (h[4] as number) * c4 + (h[5] as number) * s4;
    return c.r * Math.max(0.35, f);
  }

  /** Cytoplasm: tubulin brightest around the nucleus, actin in a cortical ring at the edge. */
  private drawBody(c: Cell, tubI: number, actI: number, cortex: number, ringWidth: number): void {
    const w = this.width;
    const hgt = this.height;
    const reach = c.r * 1.7;
    const x0 = Math.max(0, Math.floor(c.x - reach));
    const x1 = Math.min(w - 1, Math.ceil(c.x + reach));
    const y0 = Math.max(0, Math.floor(c.y - reach));
    const y1 = Math.min(hgt - 1, Math.ceil(c.y + reach));
    const tub = this.tub;
    const act = this.act;
    const tex = this.texCoarse;
    const band = 0.13 * ringWidth;
    for (let y = y0; y <= y1; y++) {
      const dy = y + 0.5 - c.y;
      const row = y * w;
      const texRow = this.texOffset + y * this.texWidth;
      for (let x = x0; x <= x1; x++) {
        const dx = x + 0.5 - c.x;
        const r = Math.sqrt(dx * dx + dy * dy) + 1e-6;
        const R = this.radiusAt(c, dx / r, dy / r);
        const inside = (R - r) + 0.5;
        if (inside <= 0) continue;
        const alpha = inside >= 1 ? 1 : inside;
        const rho = r / R;
        const i = row + x;
        const t = tex[texRow + x] as number;
        tub[i] = (tub[i] as number) + tubI * alpha * (0.45 + 0.55 * (1 - rho)) * t;
        const d = (rho - 0.9) / band;
        const ring = d > -1 && d < 1 ? (1 - d * d) * (1 - d * d) : 0;
        act[i] = (act[i] as number) + actI * alpha * (0.5 + 0.6 * cortex * ring) * t;
      }
    }
  }

  /** Microtubules: fibres from the nucleus to the cell edge; above 1.5, few thick bright bundles. */
  private drawMicrotubules(rng: Rng, c: Cell, tubI: number, level: number): void {
    const bundles = level > 1.5;
    const n = bundles ? 6 + rng.int(5) : Math.round(14 + 10 * Math.min(level, 1.5));
    const gain = bundles ? tubI * 0.42 * level : tubI * 0.55 * Math.min(level, 1.5);
    const width = bundles ? 2.2 : 1;
    const cx = c.x + c.nx;
    const cy = c.y + c.ny;
    for (let k = 0; k < n; k++) {
      const a0 = rng.uniform(0, 2 * Math.PI);
      const bend = bundles ? rng.uniform(0.6, 1.6) * (rng.next() < 0.5 ? -1 : 1) : rng.uniform(-0.35, 0.35);
      const a1 = a0 + bend;
      const r0 = c.na * rng.uniform(0.6, 1.0);
      const r1 = this.radiusAt(c, Math.cos(a1), Math.sin(a1)) * rng.uniform(0.75, 0.97);
      // a bent fibre: quadratic curve through the mid-angle
      const am = (a0 + a1) / 2;
      const rm = (r0 + r1) / 2 * (bundles ? 1.1 : 1);
      this.curve(this.tub, cx + r0 * Math.cos(a0), cy + r0 * Math.sin(a0), c.x + rm * Math.cos(am), c.y + rm * Math.sin(am),
        c.x + r1 * Math.cos(a1), c.y + r1 * Math.sin(a1), gain * rng.uniform(0.6, 1.2), width);
    }
  }

  /** Actin stress fibres: parallel chords across the cell. */
  private drawStressFibres(rng: Rng, c: Cell, actI: number, level: number): void {
    const n = rng.poisson(4 * level);
    const phi = rng.uniform(0, Math.PI);
    const ux = Math.cos(phi);
    const uy = Math.sin(phi);
    for (let k = 0; k < n; k++) {
      const o = rng.uniform(-0.7, 0.7) * c.r;
      const half = Math.sqrt(Math.max(0, 1 - (o / c.r) ** 2)) * c.r * 0.85;
      const mx = c.x - uy * o;
      const my = c.y + ux * o;
      this.curve(this.act, mx - ux * half, my - uy * half, mx, my, mx + ux * half, my + uy * half, actI * rng.uniform(0.5, 0.9), 1.2);
    }
  }

  private drawNucleus(rng: Rng, c: Cell, tubI: number): void {
    const x = c.x + c.nx;
    const y = c.y + c.ny;
    switch (c.state) {
      case 'interphase':
        this.nuclei.push({ x, y, a: c.na, b: c.nb, angle: c.nang, state: c.state });
        this.ellipse(this.dna, x, y, c.na, c.nb, c.nang, c.dna, this.texFine, this.tub, tubI * 0.35);
        break;
      case 'multinucleate': {
        const n = 2 + rng.int(2);
        for (let k = 0; k < n; k++) {
          const a = c.nang + (2 * Math.PI * k) / n;
          const s = 0.8 * rng.jitter(0.1);
          this.nuclei.push({ x: x + 0.62 * c.na * Math.cos(a), y: y + 0.62 * c.na * Math.sin(a), a: c.na * s, b: c.nb * s, angle: a, state: c.state });
          this.ellipse(this.dna, x + 0.62 * c.na * Math.cos(a), y + 0.62 * c.na * Math.sin(a), c.na * s, c.nb * s, a, c.dna, this.texFine, this.tub, tubI * 0.35);
        }
        break;
      }
      case 'fragmented': {
        this.nuclei.push({ x, y, a: c.na * 1.25, b: c.na * 1.25, angle: 0, state: c.state });
        const n = 3 + rng.int(5);
        for (let k = 0; k < n; k++) {
          const a = rng.uniform(0, 2 * Math.PI);
          const rr = rng.uniform(0, 0.95) * c.na;
          const s = rng.uniform(0.22, 0.42) * c.na;
          this.ellipse(this.dna, x + rr * Math.cos(a), y + rr * Math.sin(a), s, s * rng.uniform(0.7, 1), a, c.dna * rng.uniform(2.2, 3.8), null);
        }
        break;
      }
      case 'mitotic': {
        // condensed chromosomes: a metaphase plate, or two (anaphase)
        this.nuclei.push({ x, y, a: c.na * 1.1, b: c.na * 1.1, angle: 0, state: c.state });
        const bright = c.dna * rng.uniform(3, 4.5);
        if (rng.next() < 0.7) {
          this.ellipse(this.dna, x, y, c.na * 0.75, c.na * 0.3, c.nang, bright, this.texFine);
        } else {
          const dx = Math.cos(c.nang + Math.PI / 2) * c.na * 0.6;
          const dy = Math.sin(c.nang + Math.PI / 2) * c.na * 0.6;
          this.ellipse(this.dna, x + dx, y + dy, c.na * 0.6, c.na * 0.25, c.nang, bright, this.texFine);
          this.ellipse(this.dna, x - dx, y - dy, c.na * 0.6, c.na * 0.25, c.nang, bright, this.texFine);
        }
        break;
      }
    }
  }

  /**
   * A soft-edged filled ellipse added to `target` (textured if `tex`); optionally dims `hole`
   * by `holeDepth` inside it (the nucleus excludes tubulin).
   */
  private ellipse(
    target: Float32Array, cx: number, cy: number, a: number, b: number, angle: number, intensity: number,
    tex: Float32Array | null, hole?: Float32Array, holeDepth = 0,
  ): void {
    const w = this.width;
    const reach = Math.max(a, b) + 2;
    const x0 = Math.max(0, Math.floor(cx - reach));
    const x1 = Math.min(w - 1, Math.ceil(cx + reach));
    const y0 = Math.max(0, Math.floor(cy - reach));
    const y1 = Math.min(this.height - 1, Math.ceil(cy + reach));
    const co = Math.cos(angle);
    const si = Math.sin(angle);
    const minAxis = Math.min(a, b);
    for (let y = y0; y <= y1; y++) {
      const dy = y + 0.5 - cy;
      const row = y * w;
      const texRow = this.texOffset + y * this.texWidth;
      for (let x = x0; x <= x1; x++) {
        const dx = x + 0.5 - cx;
        const u = (dx * co + dy * si) / a;
        const v = (-dx * si + dy * co) / b;
        const q = Math.sqrt(u * u + v * v);
        const inside = (1 - q) * minAxis + 0.5;
        if (inside <= 0) continue;
        const alpha = inside >= 1 ? 1 : inside;
        const i = row + x;
        const shade = 1 + 0.15 * (1 - q);
        target[i] = (target[i] as number) + intensity * alpha * shade * (tex ? (tex[texRow + x] as number) : 1);
        if (hole) hole[i] = (hole[i] as number) - holeDepth * alpha;
      }
    }
  }

  /** Splat a quadratic Bezier curve of a given width (px) with bilinear weights. */
  private curve(target: Float32Array, x0: number, y0: number, xm: number, ym: number, x2: number, y2: number, intensity: number, width: number): void {
    const w = this.width;
    const h = this.height;
    // control point so the curve passes through (xm, ym) at t = 0.5
    const px = 2 * xm - 0.5 * (x0 + x2);
    const py = 2 * ym - 0.5 * (y0 + y2);
    const length = Math.hypot(xm - x0, ym - y0) + Math.hypot(x2 - xm, y2 - ym);
    const steps = Math.max(2, Math.ceil(length / 0.7));
    const across = width > 1.5 ? [-0.7, 0, 0.7] : [0];
    const perStep = (intensity * 0.7) / across.length;
    for (let s = 0; s <= steps; s++) {
      const t = s / steps;
      const mt = 1 - t;
      const bx = mt * mt * x0 + 2 * mt * t * px + t * t * x2;
      const by = mt * mt * y0 + 2 * mt * t * py + t * t * y2;
      // normal direction from the derivative
      const tx = 2 * mt * (px - x0) + 2 * t * (x2 - px);
      const ty = 2 * mt * (py - y0) + 2 * t * (y2 - py);
      const tl = Math.hypot(tx, ty) + 1e-9;
      for (const o of across) {
        const fx = bx - (ty / tl) * o * width * 0.5 - 0.5;
        const fy = by + (tx / tl) * o * width * 0.5 - 0.5;
        const ix = Math.floor(fx);
        const iy = Math.floor(fy);
        if (ix < 0 || iy < 0 || ix >= w - 1 || iy >= h - 1) continue;
        const ax = fx - ix;
        const ay = fy - iy;
        const i = iy * w + ix;
        target[i] = (target[i] as number) + perStep * (1 - ax) * (1 - ay);
        target[i + 1] = (target[i + 1] as number) + perStep * ax * (1 - ay);
        target[i + w] = (target[i + w] as number) + perStep * (1 - ax) * ay;
        target[i + w + 1] = (target[i + w + 1] as number) + perStep * ax * ay;
      }
    }
  }
}
