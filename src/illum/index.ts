export { computeIllumination, DEFAULT_METHOD, MIN_IMAGES, type ComputeIlluminationOptions } from './compute.js';
export { applyIllumination, loadIllumination, type IlluminationSet } from './set.js';
export {
  FAST_SCALE, FILTER_RADIUS, FILTER_SIZE, ILLUMINATION_METHODS, illuminationFunction, rescaleRobustMinimum, ROBUST_FRACTION,
  upsampleBilinear, type IlluminationMethod,
} from './function.js';
export { medianFilterDisk } from './median.js';
export { encodeNpy, readNpy } from './npy.js';
export { functionStem, MANIFEST_FILE, type FunctionRecord, type IlluminationManifest } from './manifest.js';
