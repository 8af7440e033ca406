export * from './types.js';
export { loadScreen, detectLayout, normalizeWell, parseConcentration, type LoadScreenOptions, type Problem, type ScreenLayout } from './load.js';
export { summarizeScreen, checkFiles, type ScreenSummary, type TreatmentSummary, type FileCheck } from './summary.js';
export { findZarrPlates, resolveImages } from './zarr.js';
