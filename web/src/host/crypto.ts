/** Browser stand-in for `node:crypto` (the page keeps no caches or shards, which are what hash). */
import { notInBrowser } from './unavailable.js';

export function createHash(): never {
  throw notInBrowser('Hashing files (caches, feature shards)');
}
export function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}
export default { createHash, randomBytes };
