import { Command } from 'commander';
import { errorMessage, MorphoprofError } from '../errors.js';

/** The CLI is a thin shell: each command lives in its own file and calls the library. */
export async function main(argv: string[]): Promise<void> {
  const program = new Command();
  program
    .name('morphoprof')
    .description('Morphological profiling by deep feature transfer: microscopy screens -> profiles -> MOA accuracy')
    .version('0.1.0')
    .showHelpAfterError();
  const registrations = await Promise.all([
    import('./inspect.js'),
    import('./synth.js'),
    import('./illum.js'),
    import('./models.js'),
    import('./embed.js'),
    import('./segment.js'),
    import('./profile.js'),
    import('./evaluate.js'),
    import('./report.js'),
    import('./run.js'),
    import('./grid.js'),
    import('./demo.js'),
    import('./queue.js'),
    import('./segment-eval.js'),
    import('./serve.js'),
  ]);
  for (const mod of registrations) mod.register(program);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    console.error(`morphoprof: ${errorMessage(err)}`);
    if (!(err instanceof MorphoprofError) && err instanceof Error && process.env.MORPHOPROF_DEBUG) console.error(err.stack);
    process.exitCode = err instanceof MorphoprofError && err.code === 'NOTHING_VALID' ? 2 : 1;
  }
}
