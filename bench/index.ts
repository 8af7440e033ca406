/**
 * `npm run bench`: every benchmark, each in its own process (so peak RSS is its own), printing
 * figures. Pass names to run some: `npm run bench -- embed illum`.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const order = ['embed', 'models', 'illum', 'evaluate'];
const available = readdirSync(here)
  .filter((f) => f.endsWith('.js') && f !== 'index.js')
  .map((f) => f.slice(0, -3))
  .sort((a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99));
const wanted = process.argv.slice(2);
const run = wanted.length ? available.filter((b) => wanted.includes(b)) : available;
console.log(`morphoprof benchmarks on ${process.platform} ${process.arch}, node ${process.version}: ${run.join(', ')}`);
let failed = 0;
for (const name of run) {
  console.log(`\n== ${name} ==`);
  const r = spawnSync(process.execPath, [path.join(here, `${name}.js`)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.log(`(${name} exited with ${r.status})`);
  }
}
process.exitCode = failed ? 1 : 0;
