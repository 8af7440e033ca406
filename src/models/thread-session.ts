/**
 * A model session on its own worker thread. onnxruntime-node runs a batch synchronously on the
 * calling thread (measured: the event loop gets one timer tick in a 600 ms batch), so in the
 * main thread nothing else can happen during inference: not the reading and downsampling of the
 * next batch, nor a shard's Parquet commit. On its own thread, the network runs while the main
 * thread prepares the next batch, and the two share the cores as the OS schedules them.
 * Same interface as `openModel`. A batch in a SharedArrayBuffer is copied by the thread into its
 * own reused buffer (onnxruntime refuses shared memory) and can be refilled as soon as the call
 * resolves: reuse one, because fresh memory costs page faults on every first touch (measured:
 * filling a fresh 14 MB batch 2 ms per image, a reused one 0.25 ms). Any other batch is
 * transferred (the caller's array is emptied).
 */
import { ThreadClient } from '../util/thread.js';
import type { ModelSession, OpenModelOptions } from './session.js';
import type { Request, SessionInfo } from './session-worker.js';

export async function openModelInThread(nameOrPath: string, opts: OpenModelOptions = {}): Promise<ModelSession> {
  const thread = new ThreadClient(new URL('./session-worker.js', import.meta.url), `the inference thread of ${nameOrPath}`, {
    workerData: { name: nameOrPath, options: opts },
  });
  let info: SessionInfo;
  try {
    info = await thread.started<SessionInfo>();
  } catch (err) {
    await thread.terminate();
    throw err;
  }
  const run = (batch: Float32Array, n: number, outputs?: readonly string[]) => {
    // a batch in shared memory is read by the thread in place (and may be refilled once this
    // resolves); any other is moved there (the caller's array is emptied)
    const shared = batch.buffer instanceof SharedArrayBuffer;
    const owned = shared || (batch.byteOffset === 0 && batch.byteLength === batch.buffer.byteLength) ? batch : batch.slice();
    const request: Request = { op: 'run', batch: owned, n, outputs: outputs ? [...outputs] : undefined };
    return thread.call<Record<string, Float32Array>>(request, shared ? [] : [owned.buffer as ArrayBuffer]);
  };
  return {
    ...info,
    run,
    embed: async (batch, n) => (await run(batch, n, [info.embeddingOutput]))[info.embeddingOutput]!,
    dispose: async () => {
      if (thread.alive) await thread.call({ op: 'dispose' } satisfies Request).catch(() => {});
      await thread.terminate();
    },
  };
}
