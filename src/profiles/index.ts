export { aggregateProfiles, treatmentProfiles, AGGREGATE_METHODS, TREATMENT_COLUMNS, type AggregateMethod, type AggregateOptions } from './aggregate.js';
export { annotateProfiles, annotateMoa, concentrationKey, type AnnotateOptions } from './annotate.js';
export { normalizeProfiles, fitSphere, normalizeSteps, parseNormalize, normalizePreset, NORMALIZE_METHODS, NORMALIZE_PRESETS, DEFAULT_SPHERE_LAMBDA, type NormalizeMethod, type NormalizePreset, type NormalizeRecipe, type NormalizeOptions, type NormalizeFit, type NormalizeBy } from './normalize.js';
export { selectFeatures, dropFeatures, naFeatures, lowVarianceFeatures, correlatedFeatures, parseFeatureSelections, FEATURE_SELECTIONS, type FeatureSelection, type FeatureSelectOptions } from './select.js';
export { buildProfiles, buildProfilesWithSummary, wellProfiles, WELL_COLUMNS, type BuildProfilesOptions, type BuildProfilesSummary, type BuiltProfiles, type ProfileLevel } from './build.js';
