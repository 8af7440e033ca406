/** The worker's guards on their own: roots after links, job data and queue-file schemas, URLs without passwords. */
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { MorphoprofError } from '../../src/errors.js';
import { Roots } from '../../src/queue/confine.js';
import { checkJobData, readQueueFile, redactUrl, UNPARSABLE_DATA } from '../../src/queue/config.js';
import { tempDir } from '../helpers.js';

test('Roots: inside after links and `..`, a sibling with the same prefix is outside, paths not yet made are judged by their parents', () => {
  const dir = tempDir('morphoprof-roots-');
  const allowed = path.join(dir, 'runs');
  const outside = path.join(dir, 'secret');
  mkdirSync(path.join(allowed, 'a'), { recursive: true });
  mkdirSync(outside);
  mkdirSync(path.join(dir, 'runs-other'));
  writeFileSync(path.join(outside, 'key'), 'x');
  symlinkSync(outside, path.join(allowed, 'link'));
  const roots = new Roots([allowed]);
  assert.ok(roots.allows(allowed));
  assert.ok(roots.allows(path.join(allowed, 'a')));
  assert.ok(roots.allows(path.join(allowed, 'new', 'deeper', 'file.parquet')), 'not made yet, under a root');
  assert.ok(!roots.allows(path.join(allowed, '..', 'secret', 'key')), '`..` leads out');
  assert.ok(!roots.allows(path.join(allowed, 'link', 'key')), 'a link inside a root leads out');
  assert.ok(!roots.allows(path.join(allowed, 'link', 'not-yet')), 'a path not made yet under a link that leads out');
  assert.ok(!roots.allows(path.join(dir, 'runs-other')), 'same prefix, another directory');
  assert.ok(!roots.allows('/etc/passwd'));
  assert.throws(() => roots.check('model', path.join(allowed, 'link', 'key')), (e: unknown) => e instanceof MorphoprofError && /^model .*link\/key lies outside the directories this worker may use \(.*runs\)$/.test(e.message) && /--root/.test(e.hint!));
  // a root given through a link is the directory it points to
  assert.ok(new Roots([path.join(allowed, 'link')]).allows(path.join(outside, 'key')));
  assert.throws(() => new Roots([]), /at least one --root/);
});

test('job data: the schema refuses forged shapes with the field named; not-JSON data is refused by name', () => {
  const ok = { kind: 'embed', screenId: '0123456789abcdef', queueFile: '/shared/run/queue.json', queueSha256: 'a'.repeat(64), shard: 'Week1_22123-0000', fields: ['Week1_22123/B02/s1'] };
  assert.deepEqual(checkJobData('j', ok), ok);
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ ...ok, queueFile: 'relative/queue.json' }, /queueFile: must be an absolute path/],
    [{ ...ok, screenId: '../../x' }, /screenId: must be 16 hexadecimal digits/],
    [{ ...ok, shard: '../escape' }, /shard: must be letters, digits/],
    [{ ...ok, fields: [] }, /fields/],
    [{ ...ok, kind: 'format-disk' }, /kind/],
    [{ [UNPARSABLE_DATA]: 'Unexpected token' }, /data of job j is not JSON \(Unexpected token\)/],
  ];
  for (const [data, pattern] of bad) assert.throws(() => checkJobData('j', data), (e: unknown) => e instanceof MorphoprofError && pattern.test(e.message), JSON.stringify(data));
  assert.throws(() => checkJobData('j', null), /the data of job j is malformed/);
});

test('queue.json: malformed files are refused naming the file and field; the SHA-256 is of the bytes', async () => {
  const dir = tempDir('morphoprof-queuefile-');
  const file = path.join(dir, 'queue.json');
  writeFileSync(file, JSON.stringify({ morphoprof: 1, screenId: '0123456789abcdef', metadata: 'images.csv' }));
  await assert.rejects(readQueueFile(file), (e: unknown) => e instanceof MorphoprofError && e.code === 'BAD_TABLE' && e.message.startsWith(`${file} is malformed (`) && /metadata: must be an absolute path/.test(e.message));
  writeFileSync(file, '{ not json');
  await assert.rejects(readQueueFile(file), /Cannot read .*queue\.json/);
  await assert.rejects(readQueueFile(path.join(dir, 'absent.json')), (e: unknown) => e instanceof MorphoprofError && e.code === 'FILE_NOT_FOUND');
});

test('redactUrl hides the password, also of URLs that do not parse', () => {
  assert.equal(redactUrl('redis://fleet:s3cret@queue-host:6379/0'), 'redis://fleet:***@queue-host:6379/0');
  assert.equal(redactUrl('rediss://:s3cret@queue-host:6380'), 'rediss://:***@queue-host:6380');
  assert.equal(redactUrl('redis://queue-host:6379'), 'redis://queue-host:6379');
  for (const url of ['redis://fleet:s3cr et@host:port-is-bad', 'fleet:s3cret@host', 'redis://fleet:s3cr/et@host', 'redis://fleet:s3cr@et@host:bad']) {
    const shown = redactUrl(url);
    assert.ok(!shown.includes('s3cr'), `${url} shown as ${shown}`);
  }
});
