export { readImage, readImageResized, type BitDepth, type GreyImage, type ResizedImage, type ResizeKernel, type ResizeOptions } from './read.js';
export { inspectImage, type ImageInspection } from './inspect.js';
