export { aggregateProfiles, treatmentProfiles, AGGREGATE_METHODS, TREATMENT_COLUMNS, type AggregateMethod, type AggregateOptions } from './aggregate.js';
export { annotateProfiles, annotateMoa, concentrationKey, type AnnotateOptions } from './annotate.js';
