export * from './errors.js';
export * from './util/progress.js';
export * from './screen/types.js';
