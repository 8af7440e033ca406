import { MorphoprofError } from '../../../src/errors.js';

/** The error of a Node-only facility reached from the browser page. */
export function notInBrowser(what: string, hint = 'Use the morphoprof command line for this step'): MorphoprofError {
  return new MorphoprofError('NOT_IN_BROWSER', `${what} is not available in the browser page`, hint);
}

/** A class whose construction says it is not available in the browser. */
export function unavailableClass(what: string): new (...args: unknown[]) => never {
  return class {
    constructor() {
      throw notInBrowser(what);
    }
  } as unknown as new (...args: unknown[]) => never;
}
