/**
 * The phenotype model of synthetic screens: what each mechanism of action (MOA) does to MCF7-like
 * cells, along the axes of FIELD.md section 7 (cells per field, nuclear size and fragmentation,
 * DNA content, mitotic rounding, tubulin bundling or loss, actin stress fibres or disruption, cell
 * size). Effects are given at the MOA's maximal strength; a treatment applies a fraction of it.
 */
import { Rng } from './random.js';

export interface Phenotype {
  /** Cells per field, x DMSO. */
  density: number;
  /** Nucleus radius, x DMSO. */
  nucleusSize: number;
  /** Nuclear DNA stain intensity, x DMSO. */
  dna: number;
  /** Fraction of cells rounded up in mitosis (condensed, bright chromatin). */
  mitotic: number;
  /** Fraction of cells with fragmented nuclei / micronuclei. */
  fragmented: number;
  /** Fraction of cells with 2-3 nuclei or lobes (failed division, polyploidy). */
  multinucleate: number;
  /** Cell radius, x DMSO. */
  cellSize: number;
  /** Elongation of cell outlines (0 round .. 0.6 spindly). */
  elongation: number;
  /** Tubulin intensity, x DMSO. */
  tubulin: number;
  /** Microtubule fibres: 0 diffuse (depolymerized), 1 normal network, >1.5 thick bundles. */
  tubulinFibres: number;
  /** Actin intensity, x DMSO. */
  actin: number;
  /** Actin stress fibres per cell, as a level (0 none .. 1.5 many). */
  stressFibres: number;
  /** Bright actin aggregates (puncta) per cell. */
  actinPuncta: number;
  /** Cortical actin ring strength (1 = DMSO). */
  cortex: number;
  /** Fraction of cells growing in tight colonies (0 scattered .. 1). */
  clustering: number;
}

export type EffectName = keyof Phenotype;

/** Effects that scale (interpolated geometrically); the others are levels (interpolated linearly). */
const RATIO_EFFECTS: ReadonlySet<EffectName> = new Set<EffectName>([
  'density', 'nucleusSize', 'dna', 'cellSize', 'tubulin', 'actin',
]);

export const DMSO_PHENOTYPE: Readonly<Phenotype> = Object.freeze({
  density: 1,
  nucleusSize: 1,
  dna: 1,
  mitotic: 0.03,
  fragmented: 0.01,
  multinucleate: 0.02,
  cellSize: 1,
  elongation: 0.22,
  tubulin: 1,
  tubulinFibres: 1,
  actin: 1,
  stressFibres: 0.3,
  actinPuncta: 0,
  cortex: 1,
  clustering: 0.2,
});

export interface MoaDefinition {
  moa: string;
  /** What changes versus DMSO at maximal strength (unlisted effects stay at DMSO). */
  effects: Partial<Phenotype>;
  /** Invented compound names (2-3 per MOA) and their highest concentration (uM). */
  compounds: Array<{ name: string; maxConcentration: number }>;
}

/** The MOA x effect table (documented in docs/synth.md; keep the two in step). */
export const MOA_TABLE: readonly MoaDefinition[] = Object.freeze([
  {
    moa: 'Microtubule stabilizers',
    effects: { density: 0.45, dna: 0.85, mitotic: 0.2, fragmented: 0.3, tubulin: 5, tubulinFibres: 3, actin: 1.15, stressFibres: 0.1 },
    compounds: [{ name: 'paclimycin', maxConcentration: 0.3 }, { name: 'epothilide', maxConcentration: 1 }],
  },
  {
    moa: 'Microtubule destabilizers',
    effects: { density: 0.5, nucleusSize: 1.15, dna: 1.1, mitotic: 0.55, fragmented: 0.08, cellSize: 0.85, tubulin: 1.5, tubulinFibres: 0, actin: 1.3, stressFibres: 0, cortex: 1.8 },
    compounds: [{ name: 'nocodarin', maxConcentration: 1 }, { name: 'vincastane', maxConcentration: 0.1 }],
  },
  {
    moa: 'Actin disruptors',
    effects: { density: 0.55, nucleusSize: 0.9, dna: 0.85, multinucleate: 0.35, cellSize: 0.65, elongation: 0.5, tubulin: 2.5, tubulinFibres: 1.2, actin: 1.9, stressFibres: 0, actinPuncta: 7, cortex: 0.15 },
    compounds: [{ name: 'cytochalamide', maxConcentration: 10 }, { name: 'latrunculone', maxConcentration: 1 }],
  },
  {
    moa: 'Aurora kinase inhibitors',
    effects: { density: 0.5, nucleusSize: 1.45, dna: 1.4, multinucleate: 0.6, mitotic: 0.05, cellSize: 1.45, tubulin: 1.1, actin: 0.85 },
    compounds: [{ name: 'AZK-101', maxConcentration: 3 }, { name: 'AZK-207', maxConcentration: 1 }],
  },
  {
    moa: 'DNA damage',
    effects: { density: 0.65, nucleusSize: 1.12, dna: 1.3, fragmented: 0.08, mitotic: 0.01, cellSize: 1.3, elongation: 0.1, tubulin: 0.85, tubulinFibres: 1.3, stressFibres: 1.5, cortex: 0.7 },
    compounds: [{ name: 'etoposan', maxConcentration: 10 }, { name: 'camptoquin', maxConcentration: 0.3 }],
  },
  {
    moa: 'Kinase inhibitors',
    effects: { density: 1.5, nucleusSize: 0.95, mitotic: 0.01, cellSize: 0.8, tubulin: 0.65, tubulinFibres: 0.8, actin: 0.85, clustering: 0.7 },
    compounds: [{ name: 'PX-2331', maxConcentration: 3 }, { name: 'dasamib', maxConcentration: 1 }],
  },
  {
    moa: 'Protein synthesis',
    effects: { density: 0.4, nucleusSize: 0.95, dna: 1.8, fragmented: 0.1, mitotic: 0.01, cellSize: 0.75, tubulin: 1.8, tubulinFibres: 0.5, actin: 1.9, stressFibres: 0, cortex: 2 },
    compounds: [{ name: 'emetrol', maxConcentration: 1 }, { name: 'cyclohexamate', maxConcentration: 10 }],
  },
] satisfies MoaDefinition[]);

/**
 * MOAs whose phenotype lives in a minority of cells, added to a screen with `synth --minority-moa`:
 * a field average dilutes them, single-cell profiles need not. Eg5 (kinesin-5) inhibitors, an
 * MOA of BBBC021, arrest cells in mitosis with monoastral spindles: here a quarter of the cells
 * are rounded up in mitosis (DMSO: 3%) and nothing else changes.
 */
export const MINORITY_MOA_TABLE: readonly MoaDefinition[] = Object.freeze([
  {
    moa: 'Eg5 inhibitors',
    effects: { mitotic: 0.25 },
    compounds: [{ name: 'monastrane', maxConcentration: 3 }, { name: 'ispinesol', maxConcentration: 0.3 }],
  },
] satisfies MoaDefinition[]);

export const CONTROL_COMPOUND = 'DMSO';

/** DMSO's value of `key` moved a fraction `t` of the way to `full` (t > 1 overshoots). */
function towards(key: EffectName, full: number, t: number): number {
  const base = DMSO_PHENOTYPE[key];
  return RATIO_EFFECTS.has(key) ? base * Math.pow(full / base, t) : Math.max(0, base + (full - base) * t);
}

/** A compound's own version of its MOA's maximal phenotype (small compound-specific variation). */
export function compoundPhenotype(seed: number, def: MoaDefinition, compound: string, variation = 0.12): Phenotype {
  const rng = Rng.from(seed, 'compound', compound);
  const target: Phenotype = { ...DMSO_PHENOTYPE };
  for (const key of Object.keys(def.effects) as EffectName[]) {
    target[key] = towards(key, def.effects[key] as number, 1 + variation * rng.normal());
  }
  return target;
}

/** The phenotype at a fraction `strength` (0..1) of a compound's maximal effect. */
export function atStrength(full: Phenotype, strength: number): Phenotype {
  const out: Phenotype = { ...DMSO_PHENOTYPE };
  for (const key of Object.keys(full) as EffectName[]) out[key] = towards(key, full[key], strength);
  return out;
}
