import type { Command } from 'commander';
import { exportModel, listModels } from '../models/registry.js';

export function register(program: Command): void {
  const models = program.command('models').description('ImageNet networks available for embedding');
  models
    .command('list')
    .description('list the registered models: source, licence, input, preprocessing, embedding and the hidden layers offered (--layer)')
    .option('--json', 'print the list as JSON')
    .action((o: { json?: boolean }) => {
      const list = listModels();
      if (o.json) {
        console.log(JSON.stringify(list, null, 2));
        return;
      }
      for (const m of list) {
        console.log(
          [
            `${m.name}: ${m.description}`,
            `  source:        ${m.source}`,
            `  licence:       ${m.licence}`,
            `  input:         ${m.inputSize}x${m.inputSize} RGB, ${m.preprocessing} preprocessing`,
            `  embedding:     ${m.embeddingOutput} (${m.embeddingDim})`,
            `  outputs:       ${m.layers.map((l) => `${l.name} (${l.dim})`).join(', ')}`,
            `  --layer:       ${m.hiddenLayers.map((l) => `${l.name} (${l.dim})`).join(', ')} (global-average-pooled)`,
            ...m.hiddenLayers.map((l) => `    ${l.name.padEnd(14)} ${l.description}`),
          ].join('\n'),
        );
      }
    });
  models
    .command('export <name>')
    .description('write the ONNX file of a model (converted from its TF.js weights on first use, then cached)')
    .requiredOption('--out <file.onnx>', 'output ONNX file')
    .option('--layer <name>', 'export this hidden layer, global-average-pooled, as the only output')
    .action(async (name: string, o: { out: string; layer?: string }) => {
      const file = await exportModel(name, o.out, { layer: o.layer });
      console.log(file);
    });
}
