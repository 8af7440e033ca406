/** Browser stand-in for `node:os`. */
const cores = (): number => (typeof navigator !== 'undefined' && navigator.hardwareConcurrency) || 1;
export const availableParallelism = cores;
export const cpus = (): unknown[] => Array.from({ length: cores() }, () => ({}));
export const homedir = (): string => '/';
export const tmpdir = (): string => '/tmp';
export const EOL = '\n';
export default { availableParallelism, cpus, homedir, tmpdir, EOL };
