/**
 * Raw onnxruntime-web inference on ready tensors, in a Web Worker as the page's embedding runs:
 * the ceiling the page's whole embedding is measured against (bench/web.ts drives it).
 */
import { rawImagesPerSecond } from '../../src/models/session-core.js';
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
    const { imagesPerSecond, first } = await rawImagesPerSecond(session, o.batch, o.rounds);
    await session.dispose();
    postMessage({ imagesPerSecond, threads: o.provider === 'wasm' ? wasmThreads(o.threads).threads : null, features: Array.from(first.subarray(0, session.embeddingDim)) });
  } catch (err) {
    postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
};
