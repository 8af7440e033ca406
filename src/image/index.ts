export { readImage, readImageResized, type BitDepth, type GreyImage, type ResizedImage } from './read.js';
export { inspectImage, type ImageInspection } from './inspect.js';
export { areaResize } from './resample.js';
export { withImagePixels } from './read.js';
export { formatImageRef, imageRefFile, parseImageRef, type ImageRef, type ImageSelector } from './source.js';
export { bilinearResize, nearestResize } from './bilinear.js';
