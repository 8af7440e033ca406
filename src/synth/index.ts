export {
  synthesizeScreen, synthTreatments, SYNTH_PRESETS, IMAGE_TABLE_COLUMNS, MOA_TABLE_COLUMNS,
  type SynthOptions, type SynthResult, type SynthPreset,
} from './synthesize.js';
export { MOA_TABLE, MINORITY_MOA_TABLE, DMSO_PHENOTYPE, CONTROL_COMPOUND, compoundPhenotype, atStrength, type Phenotype, type MoaDefinition } from './phenotypes.js';
export { STAINS, NUCLEUS_RADIUS, FieldRenderer, illuminationField } from './render.js';
export { Rng, hashSeed, normalTable } from './random.js';
