import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Command } from 'commander';
import { register } from '../../src/cli/synth.js';
import { MorphoprofError } from '../../src/errors.js';
import { tempDir } from '../helpers.js';

function program(): Command {
  const p = new Command().exitOverride();
  register(p);
  return p;
}

test('`morphoprof synth` writes a screen and prints its paths and the next command', async () => {
  const out = tempDir('synth-cli-');
  const printed: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => { printed.push(args.join(' ')); };
  try {
    await program().parseAsync(['synth', '--out', out, '--seed', '9', '--plates', '1', '--width', '96', '--height', '80', '--sites', '1'], { from: 'user' });
  } finally {
    console.log = log;
  }
  const table = path.join(out, 'synth_image.csv');
  assert.ok(existsSync(table));
  assert.ok(existsSync(path.join(out, 'synth_moa.csv')));
  assert.equal(JSON.parse(readFileSync(path.join(out, 'synth.json'), 'utf8')).options.seed, 9);
  const text = printed.join('\n');
  assert.ok(text.includes(table), text);
  assert.match(text, /morphoprof run --metadata .*synth_image\.csv --images .*images --moa .*synth_moa\.csv/);
});

test('`morphoprof synth` refuses a bad value, naming the option', async () => {
  await assert.rejects(
    program().parseAsync(['synth', '--out', tempDir(), '--plates', '0'], { from: 'user' }),
    (err: unknown) => err instanceof MorphoprofError && /--plates/.test(err.message),
  );
});
