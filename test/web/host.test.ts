/**
 * The browser host's stand-ins that run anywhere: `node:path` (web/src/host/path.ts) against Node's
 * own POSIX path module, and the picked folder's file system (vfs.ts) for what FileReaderSync is
 * not needed for (stat, directories, suffix lookup, files read ahead).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import * as webPath from '../../web/src/host/path.js';
import { closeSync, openSync, readSync } from '../../web/src/host/fs.js';
import { listDir, mountFiles, pathsEndingWith, preload, readBytesSync, statOf, unmountAll } from '../../web/src/host/vfs.js';

test('path stand-in: the same answers as node:path.posix (current directory /)', () => {
  const posix = path.posix;
  const cases = ['/a/b/c.tif', '/a/b/', 'a/b/../c', '/', 'x', '/screen/images/Week1/Week1_22123/f.tif', 'rel/./x.csv', '/a//b', '.hidden', 'a.tar.gz'];
  for (const p of cases) {
    assert.equal(webPath.dirname(p), posix.dirname(p), `dirname ${p}`);
    assert.equal(webPath.basename(p), posix.basename(p), `basename ${p}`);
    assert.equal(webPath.extname(p), posix.extname(p), `extname ${p}`);
    assert.equal(webPath.isAbsolute(p), posix.isAbsolute(p), `isAbsolute ${p}`);
    assert.equal(webPath.resolve('/', p), posix.resolve('/', p), `resolve ${p}`);
  }
  assert.equal(webPath.basename('/a/b/c.onnx', '.onnx'), 'c');
  assert.equal(webPath.join('/screen', 'images', '../x', 'f.tif'), posix.join('/screen', 'images', '../x', 'f.tif'));
  assert.equal(webPath.join('a', 'b'), posix.join('a', 'b'));
  assert.equal(webPath.resolve('/screen/images', 'Week1/Week1_1', 'f.tif'), '/screen/images/Week1/Week1_1/f.tif');
  assert.equal(webPath.resolve('/screen', '/other/x'), '/other/x');
  assert.equal(webPath.relative('/screen/images', '/screen/images/W/f.tif'), posix.relative('/screen/images', '/screen/images/W/f.tif'));
  assert.equal(webPath.relative('/screen/a/b', '/screen/c'), posix.relative('/screen/a/b', '/screen/c'));
});

test('the picked folder: files and folders at their paths, sizes, listings, missing files as ENOENT', () => {
  unmountAll();
  mountFiles([
    { path: 'screen/load_data.csv', blob: new Blob(['FileName_DNA\n']) },
    { path: 'screen/images/W1/a.tif', blob: new Blob([new Uint8Array(10)]) },
    { path: 'screen/images/W2/a.tif', blob: new Blob([new Uint8Array(3)]) },
  ]);
  assert.equal(statOf('/screen/images/W1/a.tif').size, 10);
  assert.equal(statOf('/screen/images').isDirectory(), true);
  assert.deepEqual(listDir('/screen'), ['images', 'load_data.csv']);
  assert.deepEqual(listDir('/'), ['screen']);
  assert.deepEqual(pathsEndingWith('W2/a.tif'), ['/screen/images/W2/a.tif']);
  assert.deepEqual(pathsEndingWith('a.tif'), ['/screen/images/W1/a.tif', '/screen/images/W2/a.tif']);
  assert.throws(() => statOf('/screen/nope.tif'), (e: NodeJS.ErrnoException) => e.code === 'ENOENT' && e.message.includes('/screen/nope.tif'));
  assert.throws(() => listDir('/screen/load_data.csv'), (e: NodeJS.ErrnoException) => e.code === 'ENOTDIR');
  unmountAll();
  assert.throws(() => statOf('/screen'), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
});

/** The bytes of a file opened through the `node:fs` stand-in, as the core's readers do (open, read, close). */
function readThroughFs(p: string): Uint8Array {
  const fd = openSync(p);
  const out = new Uint8Array(4096);
  const n = readSync(fd, out, 0, out.length, 0);
  closeSync(fd);
  return out.slice(0, n);
}

test('files read ahead in one read: the bytes a synchronous read gives, each taken once; a batch that cannot be read left to the synchronous reads', async () => {
  const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) % 251);
  unmountAll();
  mountFiles([
    { path: 'screen/a.tif', blob: new Blob([bytes(1000, 1)]) },
    { path: 'screen/b.tif', blob: new Blob([bytes(800, 2)]) },
  ]);
  // Node has no FileReaderSync: every read below that succeeds was served by preload
  await preload(['/screen/a.tif', '/screen/b.tif']);
  assert.deepEqual(readBytesSync('/screen/a.tif'), bytes(1000, 1));
  // taken once: a second synchronous read goes to the browser's FileReaderSync
  assert.throws(() => readBytesSync('/screen/a.tif'), /FileReaderSync/);
  // as the core's readers read: open, read, close through the node:fs stand-in
  assert.deepEqual(readThroughFs('/screen/b.tif'), bytes(800, 2));
  await preload(['/screen/a.tif']);
  assert.deepEqual(readThroughFs('/screen/a.tif'), bytes(1000, 1));

  // a batch the browser cannot read ahead (a file of it gone since it was picked) is left to the
  // synchronous reads: the files that are there are read, the one gone names itself
  const gone = new Blob([bytes(10, 5)]);
  mountFiles([
    { path: 'screen/gone.tif', blob: gone },
    { path: 'screen/c.tif', blob: new Blob([bytes(20, 3)]) },
  ]);
  const arrayBuffer = Blob.prototype.arrayBuffer;
  Blob.prototype.arrayBuffer = async () => {
    throw new Error('NotReadableError');
  };
  try {
    await preload(['/screen/gone.tif', '/screen/c.tif', '/screen/missing.tif']);
  } finally {
    Blob.prototype.arrayBuffer = arrayBuffer;
  }
  const g = globalThis as { FileReaderSync?: unknown };
  g.FileReaderSync = class {
    readAsArrayBuffer(blob: Blob): ArrayBuffer {
      if (blob === gone) throw new Error('NotReadableError: the file could not be read');
      return bytes(20, 3).buffer;
    }
  };
  try {
    assert.throws(() => readBytesSync('/screen/gone.tif'), /could not be read/);
    assert.deepEqual(readBytesSync('/screen/c.tif'), bytes(20, 3));
    assert.throws(() => readBytesSync('/screen/missing.tif'), (e: NodeJS.ErrnoException) => e.code === 'ENOENT' && e.message.includes('/screen/missing.tif'));
  } finally {
    delete g.FileReaderSync;
    unmountAll();
  }
});
