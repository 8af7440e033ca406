/** Browser stand-in for `node:fs` (see vfs.ts): reads the picked folder; writes are refused. */
import { fsError, listDir, readBytesSync, readTextSync, statOf, fileAt, dirAt } from './vfs.js';

export function existsSync(p: string): boolean {
  return fileAt(String(p)) !== undefined || dirAt(String(p)) !== undefined;
}

export function statSync(p: string) {
  return statOf(String(p));
}

export function readFileSync(p: string, options?: string | { encoding?: string }): Uint8Array | string {
  const encoding = typeof options === 'string' ? options : options?.encoding;
  return encoding ? readTextSync(String(p)) : readBytesSync(String(p));
}

export function readdirSync(p: string, options?: { withFileTypes?: boolean }) {
  return listDir(String(p), options?.withFileTypes ?? false);
}

/** Open files: their bytes, read whole on open (a field's TIFF is a few MB). */
const open = new Map<number, Uint8Array>();
let nextFd = 3;

export function openSync(p: string): number {
  const bytes = readBytesSync(String(p), 'open');
  const fd = nextFd++;
  open.set(fd, bytes);
  return fd;
}

function bytesOf(fd: number): Uint8Array {
  const bytes = open.get(fd);
  if (!bytes) throw Object.assign(new Error(`EBADF: bad file descriptor ${fd}`), { code: 'EBADF' });
  return bytes;
}

export function fstatSync(fd: number) {
  const size = bytesOf(fd).length;
  return { size, isFile: () => true, isDirectory: () => false, mtimeMs: 0 };
}

export function readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number | null): number {
  const bytes = bytesOf(fd);
  const at = position ?? 0;
  const n = Math.max(0, Math.min(length, bytes.length - at));
  buffer.set(bytes.subarray(at, at + n), offset);
  return n;
}

export function closeSync(fd: number): void {
  open.delete(fd);
}

const readOnly = (syscall: string) => (p: unknown) => {
  throw fsError('EROFS', syscall, String(p));
};
export const mkdirSync = readOnly('mkdir');
export const writeFileSync = readOnly('write');
export const renameSync = readOnly('rename');
export const rmSync = readOnly('rm');
export const cpSync = readOnly('cp');
export const mkdtempSync = readOnly('mkdtemp');

export default { existsSync, statSync, readFileSync, readdirSync, openSync, fstatSync, readSync, closeSync, mkdirSync, writeFileSync, renameSync, rmSync, cpSync, mkdtempSync };
