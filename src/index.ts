// morphoprof's library API: every stage of the pipeline, in data-flow order.
export * from './errors.js';
export * from './util/progress.js';
export * from './screen/types.js';
export {
  loadScreen,
  summarizeScreen,
  checkFiles,
  detectLayout,
  normalizeWell,
  parseConcentration,
  type LoadScreenOptions,
  type Problem,
  type ScreenLayout,
  type ScreenSummary,
  type TreatmentSummary,
  type FileCheck,
} from './screen/index.js';
export * from './image/index.js';
export {
  synthesizeScreen,
  synthTreatments,
  SYNTH_PRESETS,
  IMAGE_TABLE_COLUMNS,
  MOA_TABLE_COLUMNS,
  MOA_TABLE,
  type SynthOptions,
  type SynthResult,
  type SynthPreset,
  type MoaDefinition,
  type Phenotype,
} from './synth/index.js';
export {
  listModels,
  getModel,
  ensureOnnx,
  exportModel,
  cacheDirectory,
  loadNetworkArtifacts,
  onnxFileName,
  type ModelInfo,
  type ModelLayer,
  type PreprocessMode,
} from './models/registry.js';
export { openModel, type ModelSession, type OpenModelOptions } from './models/session.js';
export { quantizeOnnxWith, QUANTIZER_VERSION, type QuantizeOptions, type QuantizeReport, type CalibrationMethod, type CalibrationRuntime, type CalibrationSession } from './models/quantize.js';
export { quantizeOnnx, ensureQuantizedOnnx } from './models/quantize-node.js';
export { preprocessInto, loadImageNetLabels, PREPROCESS_MODES } from './models/preprocess.js';
export {
  convertTfjsLayersToOnnx,
  loadTfjsLayersArtifacts,
  SUPPORTED_LAYERS,
  CONVERTER_VERSION,
  pooledOutputName,
  tfjsLayerNames,
  type TfjsLayersArtifacts,
  type ConvertOptions,
} from './models/tfjs-to-onnx.js';
export * from './embed/index.js';
export * from './table/index.js';
export * from './profiles/index.js';
export * from './evaluate/index.js';
export { runPipeline, resolveIllumination, type RunOptions, type RunResult } from './pipeline.js';
export { runGrid, formatGrid, gridRunDir, GRID_VARIANTS, type GridOptions, type GridResult, type GridCell } from './grid.js';
export {
  computeIllumination,
  loadIllumination,
  applyIllumination,
  type IlluminationSet,
  type ComputeIlluminationOptions,
  type IlluminationMethod,
  DEFAULT_METHOD,
  MIN_IMAGES,
  medianFilterDisk,
  encodeNpy,
  readNpy,
} from './illum/index.js';
export { writeReport, readRunInputs, pca2, type ReportFiles, type ReportOptions } from './report/index.js';
export * from './queue/index.js';
