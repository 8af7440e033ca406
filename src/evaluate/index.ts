export { evaluateNsc, SIMILARITIES, type NscNeighbor, type NscOptions, type NscResult, type Similarity } from './nsc.js';
export { writeEvaluation, metricsOf, type EvaluationFiles, type Metrics } from './write.js';
export { evaluate, type Evaluation, type EvaluateOptions } from './evaluate.js';
