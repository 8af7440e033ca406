/**
 * The inference worker's side of the reading worker (reader.ts): open it on the screen, then
 * `start` reading batches and `embed` them. The reader works `ahead` batches in front of the
 * network, so the next batch is read while this thread runs the current one; memory holds
 * ahead + 1 batches.
 */
import type { AssembledBatch, EmbedSettings, FieldEmbedder } from '../../src/embed/embedder.js';
import type { FieldError } from '../../src/embed/field-errors.js';
import { MorphoprofError } from '../../src/errors.js';
import type { NetworkInfo } from '../../src/models/session-core.js';
import type { Field, Screen } from '../../src/screen/types.js';
import type { ProfileTable } from '../../src/table/types.js';
import type { FromReader, PickedFile, ToReader } from './protocol.js';

type Reply = Extract<FromReader, { type: 'read' }>;

/** Groups of fields being read ahead (ReadingWorker.start). */
export interface ReadAhead<T> {
  embed(embedder: FieldEmbedder, onBatch: (batch: T, part: { table: ProfileTable; errors: FieldError[] }) => void | Promise<void>): Promise<void>;
}

export class ReadingWorker {
  private readonly worker: Worker;
  private readonly waiting = new Map<number | null, { resolve: (m: FromReader) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private readonly indexOf: Map<Field, number>;
  /** what reads the images there (WebAssembly SIMD kernels, or the TypeScript twins and why) */
  kernels = '';

  private constructor(url: URL, private readonly screen: Screen) {
    this.indexOf = new Map(screen.fields.map((f, i) => [f, i]));
    this.worker = new Worker(url, { type: 'module' });
    this.worker.onmessage = (event: MessageEvent<FromReader>) => {
      const m = event.data;
      const id = m.type === 'opened' ? null : m.id;
      const w = this.waiting.get(id);
      this.waiting.delete(id);
      if (m.type === 'failed') w?.reject(new MorphoprofError(m.code, m.message, m.hint));
      else w?.resolve(m);
    };
    // an uncaught failure of the worker itself (e.g. it ran out of memory) fails every request
    this.worker.onerror = (event) => {
      event.preventDefault();
      const err = new MorphoprofError('INTERNAL', `the page's reading worker failed: ${event.message || 'unknown error'}`);
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
  }

  private ask(msg: ToReader, transfer: Transferable[] = []): Promise<FromReader> {
    const id = msg.type === 'open' ? null : msg.id;
    const reply = new Promise<FromReader>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    this.worker.postMessage(msg, transfer);
    return reply;
  }

  /** A reading worker (the bundle at `url`) over the picked files, reading for `network`. */
  static async open(url: URL, opts: { files: PickedFile[]; screen: Screen; settings: EmbedSettings; network: NetworkInfo; geometryFrom: readonly Field[] }): Promise<ReadingWorker> {
    const r = new ReadingWorker(url, opts.screen);
    try {
      const opened = await r.ask({ type: 'open', files: opts.files, screen: opts.screen, settings: opts.settings, network: opts.network, geometryFrom: opts.geometryFrom.map((f) => r.indexOf.get(f)!) });
      if (opened.type === 'opened') r.kernels = opened.kernels;
    } catch (err) {
      r.close();
      throw err;
    }
    return r;
  }

  private read(fields: readonly Field[], spare?: ArrayBuffer): Promise<AssembledBatch> {
    const id = this.nextId++;
    return this.ask({ type: 'read', id, fields: fields.map((f) => this.indexOf.get(f)!), spare }, spare ? [spare] : []).then((m) => {
      const r = m as Reply;
      return { fields: r.fields.map((i) => this.screen.fields[i]!), errors: r.errors, inputs: r.inputs };
    });
  }

  /**
   * Start reading groups of fields, `ahead` of them at once (the first ones are read while the
   * caller does other work, e.g. the network's first run); `embed` then embeds them in order.
   */
  start<T extends { fields: readonly Field[] }>(batches: readonly T[], ahead = 2): ReadAhead<T> {
    const pending: Array<Promise<AssembledBatch>> = [];
    let next = 0;
    let spare: ArrayBuffer | undefined;
    const request = () => {
      if (next >= batches.length) return;
      const p = this.read(batches[next++]!.fields, spare);
      p.catch(() => {}); // surfaced when awaited
      pending.push(p);
      spare = undefined;
    };
    for (let i = 0; i < ahead; i++) request();
    return {
      // with `embedder`, whose session runs on this thread; `onBatch` as FieldEmbedder.stream's
      embed: async (embedder, onBatch) => {
        for (let b = 0; b < batches.length; b++) {
          const assembled = await pending.shift()!;
          request(); // keeps the reader busy while this batch is in inference
          const part = await embedder.embedAssembled(assembled);
          if (assembled.inputs.length) spare = assembled.inputs.buffer as ArrayBuffer;
          await onBatch(batches[b]!, part);
        }
      },
    };
  }

  close(): void {
    this.worker.terminate();
    for (const w of this.waiting.values()) w.reject(new MorphoprofError('INTERNAL', 'the reading worker was closed'));
    this.waiting.clear();
  }
}
