/**
 * The worker thread behind `openModelInThread`: owns one onnxruntime session and runs batches for
 * the thread that opened it. See thread-session.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { toThreadError, type ThreadError } from '../errors.js';
import { openModel, type ModelSession, type OpenModelOptions } from './session.js';

export type Request = { id: number; op: 'run'; batch: Float32Array; n: number; outputs?: string[] } | { id: number; op: 'dispose' };
export type Reply =
  | { id: number; ok: true; outputs?: Record<string, Float32Array>; info?: SessionInfo }
  | { id: number; ok: false; error: ThreadError };
export type SessionInfo = Omit<ModelSession, 'run' | 'embed' | 'dispose'>;

const port = parentPort!;
const { name, options } = workerData as { name: string; options: OpenModelOptions };
let session: ModelSession | null = null;
/** this thread's copy of a shared batch, reused */
let local = new Float32Array(0);
try {
  session = await openModel(name, options);
  const { run: _r, embed: _e, dispose: _d, ...info } = session;
  port.postMessage({ id: 0, ok: true, info: { ...info, outputNames: [...info.outputNames] } } satisfies Reply);
} catch (err) {
  port.postMessage({ id: 0, ok: false, error: toThreadError(err) } satisfies Reply);
}

port.on('message', async (req: Request) => {
  try {
    if (req.op === 'dispose') {
      await session?.dispose();
      session = null;
      port.postMessage({ id: req.id, ok: true } satisfies Reply);
      port.close();
      return;
    }
    let batch = req.batch;
    if (batch.buffer instanceof SharedArrayBuffer) {
      const len = req.n * 3 * session!.inputSize * session!.inputSize;
      if (local.length < len) local = new Float32Array(len);
      local.set(batch.subarray(0, len));
      batch = local;
    }
    const outputs = await session!.run(batch, req.n, req.outputs);
    // copies: onnxruntime's output buffers are not transferable
    const copies = Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.slice()]));
    port.postMessage({ id: req.id, ok: true, outputs: copies } satisfies Reply, Object.values(copies).map((v) => v.buffer));
  } catch (err) {
    port.postMessage({ id: req.id, ok: false, error: toThreadError(err) } satisfies Reply);
  }
});
