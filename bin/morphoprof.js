#!/usr/bin/env node
import { main } from '../dist/src/cli/index.js';

main(process.argv).catch((err) => {
  // main() prints its own errors; this is the last resort for bugs.
  console.error(err?.stack ?? String(err));
  process.exit(1);
});
