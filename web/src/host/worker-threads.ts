/** Browser stand-in for `node:worker_threads`: the page's own Web Worker does the work instead. */
import { unavailableClass } from './unavailable.js';

export const parentPort = null;
export const workerData = null;
export const isMainThread = true;
export const Worker = unavailableClass('A Node worker thread');
export default { parentPort, workerData, isMainThread, Worker };
