/** Browser stand-in for `node:module`: there are no Node packages or C addons to load in a page. */
import { notInBrowser } from './unavailable.js';

export function createRequire(): ((id: string) => never) & { resolve(id: string): never } {
  const require = (id: string): never => {
    throw notInBrowser(`Loading ${id}`);
  };
  require.resolve = require;
  return require;
}
export default { createRequire };
