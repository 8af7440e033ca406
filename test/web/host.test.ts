/**
 * The browser host's stand-ins that run anywhere: `node:path` (web/src/host/path.ts) against Node's
 * own POSIX path module, and the picked folder's file system (vfs.ts) for what FileReaderSync is
 * not needed for (stat, directories, suffix lookup).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import * as webPath from '../../web/src/host/path.js';
import { listDir, mountFiles, pathsEndingWith, statOf, unmountAll } from '../../web/src/host/vfs.js';

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
