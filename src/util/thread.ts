/**
 * Calls to a worker thread and their replies, one mechanism for every thread morphoprof starts
 * (the network's, the table writer's). The thread keeps the process alive only while a call waits
 * on it, so a client nobody closed (an error path, a signal) never holds the process open. Errors
 * cross with their code and hint (`toThreadError` / `fromThreadError`).
 */
import { parentPort, Worker, type Transferable, type WorkerOptions } from 'node:worker_threads';
import { fromThreadError, MorphoprofError, toThreadError, type ThreadError } from '../errors.js';

type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: ThreadError };
/** What a handler returns: the reply value, and buffers to move rather than copy. */
export interface Served {
  value?: unknown;
  transfer?: Transferable[];
}

export class ThreadClient {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private dead: Error | null = null;

  /** `what` names the thread in errors, e.g. "the table writer thread". */
  constructor(script: URL, what: string, options?: WorkerOptions) {
    this.worker = new Worker(script, options);
    this.worker.unref();
    const failAll = (err: Error) => {
      this.dead ??= err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    this.worker.on('message', (reply: Reply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) this.worker.unref();
      if (reply.ok) p.resolve(reply.value);
      else p.reject(fromThreadError(reply.error));
    });
    this.worker.on('error', failAll);
    this.worker.on('exit', (code) => failAll(new MorphoprofError('INTERNAL', `${what} exited (code ${code})`)));
  }

  get alive(): boolean {
    return this.dead === null;
  }

  /** The thread's start-up reply (`serveThread`'s `start`): its value, or its error. */
  started<T>(): Promise<T> {
    return this.wait(0) as Promise<T>;
  }

  call<T>(message: unknown, transfer: readonly Transferable[] = []): Promise<T> {
    const id = this.nextId++;
    return this.wait(id, () => this.worker.postMessage({ id, message }, [...transfer])) as Promise<T>;
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }

  private wait(id: number, send?: () => void): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.dead) return reject(this.dead);
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      send?.();
    });
  }
}

/**
 * The thread's side: answer each call with `handle` once `start` (if given)
 * has finished; its value or error is the start-up reply.
 */
export function serveThread<M>(handle: (message: M) => Promise<Served> | Served, start?: () => Promise<unknown>): void {
  const port = parentPort!;
  const reply = (id: number, work: Promise<Served>) =>
    work.then(
      ({ value, transfer }) => port.postMessage({ id, ok: true, value } satisfies Reply, transfer ?? []),
      (err: unknown) => port.postMessage({ id, ok: false, error: toThreadError(err) } satisfies Reply),
    );
  const started = start ? start() : Promise.resolve(undefined);
  if (start) void reply(0, started.then((value) => ({ value })));
  port.on('message', ({ id, message }: { id: number; message: M }) => void reply(id, started.then(() => handle(message))));
}
