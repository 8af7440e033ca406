export { evaluateNsc, findColumn, SIMILARITIES, type Accuracy, type NscNeighbor, type NscOptions, type NscResult, type Similarity } from './nsc.js';
export { forEachSimilarityBlock, unitRows, defaultBlockRows, type UnitRows } from './similarity.js';
export { RowScanner, averagePrecisionOf, type RetrievalCodes, type RowResult } from './retrieval.js';
export { writeEvaluation, metricsOf, neighborRows, NEIGHBOR_COLUMNS, PER_MOA_COLUMNS, type EvaluationFiles, type Metrics } from './write.js';
export { evaluate, evaluateTable, type Evaluation, type EvaluateOptions } from './evaluate.js';
