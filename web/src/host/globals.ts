/**
 * Globals the CLI's modules find in Node, injected by web/build.mjs into the page's bundles:
 * `Buffer` (the npm `buffer` package) and a `process` without environment.
 */
export { Buffer } from 'buffer';

export const process = { env: {} as Record<string, string | undefined>, pid: 0, platform: 'browser', versions: {}, stderr: null };
