/**
 * The page's reading worker. The network's WebAssembly runs on the inference worker's own thread
 * (worker.ts), so nothing else can happen there while a batch is in inference; reading the next
 * batch here instead lets reading overlap inference, as the CLI's main thread reads while its
 * inference threads run. It reads, downsamples, scales and preprocesses with the CLI's own modules
 * (`FieldEmbedder.reading`, `load`, `assemble`), and reads each batch's files ahead all at once
 * (vfs `preload`). The kernels of those stages are the CLI's C compiled to WebAssembly SIMD
 * (kernels.ts). One request at a time, in order.
 */
import { FieldEmbedder } from '../../src/embed/embedder.js';
import { errorMessage, MorphoprofError } from '../../src/errors.js';
import { imageRefFile } from '../../src/image/source.js';
import type { Field } from '../../src/screen/types.js';
import { mountFiles, preload, unmountAll } from './host/vfs.js';
import { installKernels } from './kernels.js';
import type { FromReader, ToReader } from './protocol.js';

const post = (message: FromReader, transfer: Transferable[] = []): void => (self as unknown as Worker).postMessage(message, transfer);

let embedder: FieldEmbedder | null = null;
let fields: Field[] = [];
let indexOf = new Map<Field, number>();
/** batch buffers given back by the inference worker */
const spare: ArrayBuffer[] = [];

function take(length: number): Float32Array {
  const i = spare.findIndex((b) => b.byteLength >= length * 4);
  return i >= 0 ? new Float32Array(spare.splice(i, 1)[0]!, 0, length) : new Float32Array(length);
}

async function handle(msg: ToReader): Promise<void> {
  if (msg.type === 'open') {
    unmountAll();
    mountFiles(msg.files);
    fields = msg.screen.fields;
    indexOf = new Map(fields.map((f, i) => [f, i]));
    const kernels = await installKernels(self.location.href);
    embedder = await FieldEmbedder.reading(msg.screen, msg.settings, msg.network, msg.geometryFrom.map((i) => fields[i]!));
    post({ type: 'opened', kernels });
    return;
  }
  if (!embedder) throw new MorphoprofError('INTERNAL', 'the reading worker was asked to read before it was opened');
  if (msg.spare) spare.push(msg.spare);
  const batch = msg.fields.map((i) => fields[i]!);
  const reader = embedder;
  await preload(batch.flatMap((f) => reader.screen.channels.flatMap((c) => (f.images[c] ? [imageRefFile(f.images[c])] : []))));
  const assembled = reader.assemble(await reader.loadAll(batch), take);
  post({ type: 'read', id: msg.id, fields: assembled.fields.map((f) => indexOf.get(f)!), errors: assembled.errors, inputs: assembled.inputs }, assembled.inputs.length ? [assembled.inputs.buffer as ArrayBuffer] : []);
}

let queue: Promise<void> = Promise.resolve();
self.onmessage = (event: MessageEvent<ToReader>) => {
  const msg = event.data;
  queue = queue.then(() =>
    handle(msg).catch((err: unknown) => {
      const e = err instanceof MorphoprofError ? err : null;
      post({ type: 'failed', id: msg.type === 'read' ? msg.id : null, code: e?.code ?? 'INTERNAL', message: e ? e.message : errorMessage(err), hint: e?.hint });
    }),
  );
};
