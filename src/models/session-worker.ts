/**
 * The worker thread behind `openModelInThread`: owns one onnxruntime session and runs batches for
 * the thread that opened it. See thread-session.ts.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { workerData } from 'node:worker_threads';
import { serveThread } from '../util/thread.js';
import { openModel, type ModelSession, type OpenModelOptions } from './session.js';

export type Request = { op: 'run'; batch: Float32Array; n: number; outputs?: string[] } | { op: 'dispose' };
export type SessionInfo = Omit<ModelSession, 'run' | 'embed' | 'dispose'>;

const { name, options } = workerData as { name: string; options: OpenModelOptions };
let session: ModelSession | null = null;
/** this thread's copy of a shared batch, reused */
let local = new Float32Array(0);

/**
 * Requests run one at a time: onnxruntime-node starts a run a tick after `run` is called, so a second
 * request copying its batch into `local` meanwhile would overwrite the first's input.
 */
let pending: Promise<unknown> = Promise.resolve();

serveThread<Request>(
  (req) => {
    const next = pending.then(() => serve(req));
    pending = next.catch(() => undefined);
    return next;
  },
  async () => {
    // Linux: name this thread and onnxruntime's pool threads, so a profile of the process (top -H,
    // /proc/<pid>/task/*/comm, bench/embed.ts --breakdown) tells inference from reading
    const before = threadIds();
    nameThread('thread-self', 'mp-infer');
    session = await openModel(name, options);
    for (const t of threadIds()) if (!before.has(t)) nameThread(`self/task/${t}`, 'mp-ort');
    const { run: _r, embed: _e, dispose: _d, ...info } = session;
    return { ...info, outputNames: [...info.outputNames] } satisfies SessionInfo;
  },
);

async function serve(req: Request) {
  if (req.op === 'dispose') {
    await session?.dispose();
    session = null;
    return {};
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
  return { value: copies, transfer: Object.values(copies).map((v) => v.buffer) };
}

function threadIds(): Set<string> {
  try {
    return new Set(readdirSync('/proc/self/task'));
  } catch {
    return new Set();
  }
}

function nameThread(proc: string, comm: string): void {
  try {
    writeFileSync(`/proc/${proc}/comm`, comm);
  } catch {
    // not Linux, or not allowed: names are only for profiling
  }
}
