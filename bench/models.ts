/**
 * Model stage figures: TF.js -> ONNX conversion time of ResNet-50 and onnxruntime inference rate.
 *   npx tsc -p . && node dist/bench/models.js [--batch 8] [--batches 6] [--threads N]
 */
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { ensureOnnx } from '../src/models/registry.js';
import { openModel } from '../src/models/session.js';
import { tempDir } from '../test/helpers.js';

const { values } = parseArgs({ options: { batch: { type: 'string', default: '8' }, batches: { type: 'string', default: '6' }, threads: { type: 'string' } } });
const batch = Number(values.batch);
const batches = Number(values.batches);
const threads = Number(values.threads ?? availableParallelism());

const cacheDir = tempDir('morphoprof-bench-');
let t = performance.now();
await ensureOnnx('resnet50', { cacheDir });
console.log(`resnet50: TF.js -> ONNX conversion (read shards, convert, write) ${((performance.now() - t) / 1000).toFixed(2)} s`);

t = performance.now();
const model = await openModel('resnet50', { cacheDir, intraOpNumThreads: threads });
console.log(`resnet50: onnxruntime session created in ${((performance.now() - t) / 1000).toFixed(2)} s (${threads} threads)`);

const input = new Float32Array(batch * 3 * model.inputSize * model.inputSize).map((_, i) => ((i * 2654435761) % 256) - 128);
await model.embed(input, batch); // warm-up
t = performance.now();
const cpu0 = process.cpuUsage();
for (let b = 0; b < batches; b++) await model.embed(input, batch);
const seconds = (performance.now() - t) / 1000;
const cpu = process.cpuUsage(cpu0);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
console.log(`resnet50: ${((batch * batches) / seconds).toFixed(1)} images/s at batch ${batch} (${batches} batches, ${(seconds / batches).toFixed(2)} s/batch, embedding output ${model.embeddingOutput})`);
// On a shared machine the wall-clock rate undercounts; CPU time shows what the cores would give.
console.log(`resnet50: ${(cpuSeconds / (batch * batches)).toFixed(3)} CPU s/image -> ~${((threads * batch * batches) / cpuSeconds).toFixed(1)} images/s if ${threads} cores were free (load average ${loadavg()[0]!.toFixed(1)})`);
await model.dispose();
