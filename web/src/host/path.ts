/** Browser stand-in for `node:path`: POSIX paths of the picked folder (vfs.ts), current directory `/`. */
import { normalizePath } from './vfs.js';

export const sep = '/';
export const delimiter = ':';

export function isAbsolute(p: string): boolean {
  return p.startsWith('/');
}

export function resolve(...parts: string[]): string {
  let out = '';
  for (const part of parts) {
    if (!part) continue;
    out = isAbsolute(part) ? part : `${out}/${part}`;
  }
  return normalizePath(out || '/');
}

export function normalize(p: string): string {
  const n = normalizePath(p);
  return isAbsolute(p) ? n : n.slice(1) || '.';
}

export function join(...parts: string[]): string {
  const joined = parts.filter(Boolean).join('/');
  return joined ? normalize(joined) : '.';
}

export function dirname(p: string): string {
  if (p === '') return '.';
  const s = p.replace(/(.)\/+$/, '$1');
  const cut = s.lastIndexOf('/');
  if (cut < 0) return '.';
  return cut === 0 ? '/' : s.slice(0, cut);
}

export function basename(p: string, ext?: string): string {
  const base = p.replace(/\/+$/, '').split('/').pop() ?? '';
  return ext && base.endsWith(ext) && base !== ext ? base.slice(0, -ext.length) : base;
}

export function extname(p: string): string {
  const base = basename(p);
  const dot = base.lastIndexOf('.');
  return dot <= 0 ? '' : base.slice(dot);
}

export function relative(from: string, to: string): string {
  const a = resolve(from).split('/').filter(Boolean);
  const b = resolve(to).split('/').filter(Boolean);
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return [...a.slice(i).map(() => '..'), ...b.slice(i)].join('/');
}

export function parse(p: string) {
  const base = basename(p);
  const ext = extname(p);
  return { root: isAbsolute(p) ? '/' : '', dir: dirname(p), base, ext, name: ext ? base.slice(0, -ext.length) : base };
}

const path = { sep, delimiter, isAbsolute, resolve, normalize, join, dirname, basename, extname, relative, parse };
export const posix = path;
export default { ...path, posix };
