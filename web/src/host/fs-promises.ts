/** Browser stand-in for `node:fs/promises` (see vfs.ts): reads the picked folder; writes are refused. */
import { fsError, listDir, readBytesSync, readTextSync, statOf } from './vfs.js';

export async function readFile(p: string, options?: string | { encoding?: string }): Promise<Uint8Array | string> {
  const encoding = typeof options === 'string' ? options : options?.encoding;
  return encoding ? readTextSync(String(p)) : readBytesSync(String(p));
}

export async function stat(p: string) {
  return statOf(String(p));
}

export async function readdir(p: string, options?: { withFileTypes?: boolean }) {
  return listDir(String(p), options?.withFileTypes ?? false);
}

const readOnly = (syscall: string) => async (p: unknown): Promise<never> => {
  throw fsError('EROFS', syscall, String(p));
};
export const writeFile = readOnly('write');
export const mkdir = readOnly('mkdir');
export const rename = readOnly('rename');
export const rm = readOnly('rm');
export const copyFile = readOnly('copyfile');

export default { readFile, stat, readdir, writeFile, mkdir, rename, rm, copyFile };
