/**
 * The browser host's file system: the files of the folder the user picked, read-only, at virtual
 * absolute paths (`/<folder>/<relative path>`), so the portable modules (screen tables, TIFF
 * reading, file checks) run on them unchanged through the `node:fs` stand-ins beside this file.
 * Reads are synchronous in the Web Worker (FileReaderSync); the page's main thread never reads.
 */

declare class FileReaderSync {
  readAsArrayBuffer(blob: Blob): ArrayBuffer;
  readAsText(blob: Blob, encoding?: string): string;
}

const files = new Map<string, Blob>();
const dirs = new Map<string, Set<string>>();

export function normalizePath(p: string): string {
  const parts: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}

function addDir(dir: string, child: string | null): void {
  let set = dirs.get(dir);
  if (!set) {
    set = new Set();
    dirs.set(dir, set);
    if (dir !== '/') {
      const cut = dir.lastIndexOf('/');
      addDir(cut === 0 ? '/' : dir.slice(0, cut), dir.slice(cut + 1));
    }
  }
  if (child !== null) set.add(child);
}

/** Make `entries` visible at their paths (relative paths are taken from `/`). */
export function mountFiles(entries: ReadonlyArray<{ path: string; blob: Blob }>): void {
  byName = null;
  for (const e of entries) {
    const p = normalizePath(e.path);
    files.set(p, e.blob);
    const cut = p.lastIndexOf('/');
    addDir(cut === 0 ? '/' : p.slice(0, cut), p.slice(cut + 1));
  }
}

/** Forget every mounted file. */
export function unmountAll(): void {
  byName = null;
  ahead.clear();
  files.clear();
  dirs.clear();
}

export function fsError(code: 'ENOENT' | 'ENOTDIR' | 'EISDIR' | 'EROFS', syscall: string, p: string): Error {
  const text = { ENOENT: 'no such file or directory', ENOTDIR: 'not a directory', EISDIR: 'is a directory', EROFS: 'the browser page cannot write files (use the download buttons)' }[code];
  return Object.assign(new Error(`${code}: ${text}, ${syscall} '${p}'`), { code, syscall, path: p });
}

export function fileAt(p: string): Blob | undefined {
  return files.get(normalizePath(p));
}

export function dirAt(p: string): Set<string> | undefined {
  return dirs.get(normalizePath(p));
}

/** Files read ahead by `preload`, each taken (and forgotten) by the next synchronous read of its path. */
const ahead = new Map<string, Uint8Array>();

/**
 * Read files ahead, in one read and without blocking the thread, so that the synchronous reads of
 * the portable modules find them in memory. The files are read as one Blob made of them all
 * (`new Blob(files).arrayBuffer()`), each then a view of its own part: in Chromium, a batch of 24
 * real-size TIFFs read this way cost the reading worker about 0.7 ms of CPU less per file than
 * 24 `Blob.arrayBuffer` reads at once, which cost less than `FileReaderSync` one file at a time
 * (that also waits on the browser process for each file in turn), or streams copied into reused
 * buffers. (A byte stream's BYOB reader into reused buffers read fastest, but now and then one of
 * a batch's streams never ended and the run hung.) CPU matters here, not time: the reading
 * worker's CPU is taken from the network's threads.
 * When the read fails (a file unreadable or changed since it was picked), each file is left to
 * its synchronous read, whose error names it.
 */
export async function preload(paths: Iterable<string>): Promise<void> {
  const list = new Map<string, Blob>();
  for (const p of paths) {
    const n = normalizePath(p);
    const blob = files.get(n);
    if (blob && !ahead.has(n)) list.set(n, blob);
  }
  if (!list.size) return;
  try {
    const all = new Uint8Array(await new Blob([...list.values()]).arrayBuffer());
    let at = 0;
    for (const [n, b] of list) {
      ahead.set(n, all.subarray(at, at + b.size));
      at += b.size;
    }
  } catch {
    // the synchronous reads say why
  }
}

export function readBytesSync(p: string, syscall = 'open'): Uint8Array {
  const n = normalizePath(p);
  const early = ahead.get(n);
  if (early) {
    ahead.delete(n);
    return early;
  }
  const blob = fileAt(p);
  if (!blob) throw fsError(dirAt(p) ? 'EISDIR' : 'ENOENT', syscall, p);
  return new Uint8Array(new FileReaderSync().readAsArrayBuffer(blob));
}

/** The first `bytes` bytes of a file as text (a table's header without reading the whole table). */
export function readHeadSync(p: string, bytes = 65536): string {
  const blob = fileAt(p);
  if (!blob) throw fsError('ENOENT', 'open', p);
  return new TextDecoder().decode(new FileReaderSync().readAsArrayBuffer(blob.slice(0, bytes)));
}

export function readTextSync(p: string): string {
  return new TextDecoder().decode(readBytesSync(p));
}

export interface VStats {
  size: number;
  isFile(): boolean;
  isDirectory(): boolean;
  mtimeMs: number;
}

export function statOf(p: string, syscall = 'stat'): VStats {
  const blob = fileAt(p);
  if (blob) return { size: blob.size, isFile: () => true, isDirectory: () => false, mtimeMs: (blob as File).lastModified ?? 0 };
  if (dirAt(p)) return { size: 0, isFile: () => false, isDirectory: () => true, mtimeMs: 0 };
  throw fsError('ENOENT', syscall, p);
}

export interface VDirent {
  name: string;
  isFile(): boolean;
  isDirectory(): boolean;
}

export function listDir(p: string, withFileTypes = false): string[] | VDirent[] {
  const set = dirAt(p);
  if (!set) throw fsError(fileAt(p) ? 'ENOTDIR' : 'ENOENT', 'scandir', p);
  const names = [...set].sort();
  if (!withFileTypes) return names;
  const base = normalizePath(p);
  return names.map((name) => {
    const full = `${base === '/' ? '' : base}/${name}`;
    const dir = dirs.has(full);
    return { name, isFile: () => !dir, isDirectory: () => dir };
  });
}

/** Mounted files by their name (the last part of the path), built on first use after a mount. */
let byName: Map<string, string[]> | null = null;

/** Mounted files whose path ends with `/<suffix>`, sorted. */
export function pathsEndingWith(suffix: string): string[] {
  const tail = `/${suffix.replace(/^\/+/, '')}`;
  if (!byName) {
    byName = new Map();
    for (const p of files.keys()) {
      const name = p.slice(p.lastIndexOf('/') + 1);
      byName.set(name, [...(byName.get(name) ?? []), p]);
    }
  }
  return (byName.get(tail.slice(tail.lastIndexOf('/') + 1)) ?? []).filter((p) => p.endsWith(tail)).sort();
}
