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
import { Worker } from 'node:worker_threads';
import { fromThreadError, MorphoprofError } from '../errors.js';
import type { ModelSession, OpenModelOptions } from './session.js';
import type { Reply, Request, SessionInfo } from './session-worker.js';

export async function openModelInThread(nameOrPath: string, opts: OpenModelOptions = {}): Promise<ModelSession> {
  const worker = new Worker(new URL('./session-worker.js', import.meta.url), { workerData: { name: nameOrPath, options: opts } });
  const pending = new Map<number, { resolve: (r: Extract<Reply, { ok: true }>) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let dead: Error | null = null;
  const failAll = (err: Error) => {
    dead = err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  // the thread keeps the process alive only while a call waits on it: a session nobody disposed
  // (an error path, a signal) must not hold the process open
  const settle = () => {
    if (pending.size === 0) worker.unref();
  };
  worker.on('message', (reply: Reply) => {
    const p = pending.get(reply.id);
    if (!p) return;
    pending.delete(reply.id);
    settle();
    if (reply.ok) p.resolve(reply);
    else p.reject(fromThreadError(reply.error));
  });
  worker.on('error', (err) => failAll(err));
  worker.on('exit', (code) => failAll(new MorphoprofError('INTERNAL', `the inference thread of ${nameOrPath} exited (code ${code})`)));
  const call = (id: number, send?: () => void) =>
    new Promise<Extract<Reply, { ok: true }>>((resolve, reject) => {
      if (dead) return reject(dead);
      pending.set(id, { resolve, reject });
      worker.ref();
      send?.();
    });
  let info: SessionInfo;
  try {
    info = (await call(0)).info!;
  } catch (err) {
    await worker.terminate();
    throw err;
  }
  const run = async (batch: Float32Array, n: number, outputs?: readonly string[]) => {
    const id = nextId++;
    // a batch in shared memory is read by the thread in place (and may be refilled once this
    // resolves); any other is moved there (the caller's array is emptied)
    const shared = batch.buffer instanceof SharedArrayBuffer;
    const owned = shared || (batch.byteOffset === 0 && batch.byteLength === batch.buffer.byteLength) ? batch : batch.slice();
    const reply = await call(id, () =>
      worker.postMessage({ id, op: 'run', batch: owned, n, outputs: outputs ? [...outputs] : undefined } satisfies Request, shared ? [] : [owned.buffer as ArrayBuffer]),
    );
    return reply.outputs!;
  };
  return {
    ...info,
    run,
    embed: async (batch, n) => (await run(batch, n, [info.embeddingOutput]))[info.embeddingOutput]!,
    dispose: async () => {
      if (!dead) {
        const id = nextId++;
        await call(id, () => worker.postMessage({ id, op: 'dispose' } satisfies Request)).catch(() => {});
      }
      await worker.terminate();
    },
  };
}
