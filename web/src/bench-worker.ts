/**
 * Raw onnxruntime-web inference on ready tensors, in a Web Worker as the page's embedding runs:
 * the ceiling the page's whole embedding is measured against (bench/web.ts drives it).
 */
import { openWebModel, wasmThreads, type ExecutionProvider } from './session.js';

export interface RawBenchRequest {
  modelUrl: string;
  name: string;
  batch: number;
  rounds: number;
  provider: ExecutionProvider;
  threads?: number;
}

self.onmessage = async (event: MessageEvent<RawBenchRequest>) => {
  const o = event.data;
  try {
    const bytes = new Uint8Array(await (await fetch(o.modelUrl)).arrayBuffer());
    const session = await openWebModel(bytes, { name: o.name, inputSize: 224, executionProvider: o.provider, threads: o.threads, wasmPaths: new URL('ort/', self.location.href).href });
    const per = 3 * session.inputSize * session.inputSize;
    const input = new Float32Array(o.batch * per).map((_, i) => ((i * 2654435761) % 255) - 120);
    const first = await session.embed(input, o.batch); // warm-up
    const t = performance.now();
    for (let r = 0; r < o.rounds; r++) await session.embed(input, o.batch);
    const seconds = (performance.now() - t) / 1000;
    await session.dispose();
    postMessage({ imagesPerSecond: (o.rounds * o.batch) / seconds, threads: o.provider === 'wasm' ? wasmThreads(o.threads).threads : null, features: Array.from(first.subarray(0, session.embeddingDim)) });
  } catch (err) {
    postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
};
