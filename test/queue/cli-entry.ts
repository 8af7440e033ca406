/**
 * The CLI with the queue commands, for the queue tests until `src/cli/index.ts` lists `./queue.js`
 * (then the tests can spawn bin/morphoprof.js instead).
 */
import { Command } from 'commander';
import { errorMessage, MorphoprofError } from '../../src/errors.js';
import { register } from '../../src/cli/queue.js';

const program = new Command().name('morphoprof').showHelpAfterError();
register(program);
program.parseAsync(process.argv).catch((err) => {
  console.error(`morphoprof: ${errorMessage(err)}`);
  process.exitCode = err instanceof MorphoprofError && err.code === 'NOTHING_VALID' ? 2 : 1;
});
