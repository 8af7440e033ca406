/**
 * Static int8 quantization of an fp32 ONNX image model, in the QDQ format that onnxruntime fuses
 * into integer kernels (QLinearConv, QLinearAdd, QLinearConcat, QLinearAveragePool; VNNI on CPUs
 * that have it):
 * - Conv weights: int8, symmetric, one scale per output channel; biases int32 at
 *   (input scale x weight scale); as DequantizeLinear on constant initializers.
 * - Activations: uint8, asymmetric, one scale per tensor, calibrated on a batch of real inputs by
 *   running the fp32 model with every quantized tensor exposed as an extra output (min-max, or
 *   percentiles to ignore rare outliers). A QuantizeLinear/DequantizeLinear pair is put on every
 *   tensor that a Conv, Add, Concat, pooling or Pad reads (keeping Inception's AveragePools in
 *   fp32 measured slower: NCHWc reorders and dequantization). Relu outputs have zero point 0,
 *   so onnxruntime folds the Relu into the preceding integer op.
 * Written here because onnxruntime's own quantizer is Python-only.
 *
 * Portable: the graph rewriting and the calibration statistics run in Node and in the browser
 * page alike; the calibration's fp32 runs go through a `CalibrationRuntime` the host gives
 * (onnxruntime-node in quantize-node.ts, with the CLI's file cache; onnxruntime-web in
 * web/src/session.ts).
 */
import onnxProto from 'onnx-proto';
import { invalidParameter, MorphoprofError } from '../errors.js';

const { onnx } = onnxProto;
const DT = onnx.TensorProto.DataType;

/** Bump when the quantizer's output changes, so cached int8 files are rebuilt. */
export const QUANTIZER_VERSION = 2;

export type CalibrationMethod = 'minmax' | 'percentile';

/** One fp32 session of the calibration run, opened by the host's onnxruntime. */
export interface CalibrationSession {
  readonly inputName: string;
  /** Run an NCHW float32 input of `dims`; the named outputs as float32 arrays (owned by the caller). */
  run(input: Float32Array, dims: readonly number[], outputs: readonly string[]): Promise<Record<string, Float32Array>>;
  release(): Promise<void>;
}

/** The host's onnxruntime for calibration: opens a model's bytes with basic graph optimizations. */
export interface CalibrationRuntime {
  open(bytes: Uint8Array, opts: { intraOpNumThreads?: number }): Promise<CalibrationSession>;
}

export interface QuantizeOptions {
  /** Preprocessed NCHW float32 images, `calibrationCount` x 3 x S x S. */
  calibration: Float32Array;
  calibrationCount: number;
  /** Square input side S. */
  inputSize: number;
  /** Activation ranges: min-max over the batch (default) or percentiles. */
  method?: CalibrationMethod;
  /** Upper percentile for `percentile` (default 99.99; the lower one is 100 - p). */
  percentile?: number;
  /** Threads of the calibration run. */
  intraOpNumThreads?: number;
  /** Fold zero Pads into the Conv/MaxPool reading them (default true; false only to measure what it saves). */
  foldPads?: boolean;
  /**
   * Graph outputs to keep (default: all). The others, and the nodes only they need, are dropped:
   * onnxruntime runs every node whatever is fetched (e.g. ResNet-50's classifier, ~1-3% of int8 time
   * at 96 px, when only the embedding is read).
   */
  outputs?: readonly string[];
}

export interface QuantizeReport {
  /** Conv nodes given int8 weights. */
  convs: number;
  /** Activation tensors given uint8 QuantizeLinear/DequantizeLinear pairs. */
  activations: number;
  /** Zero Pad nodes folded into the Conv or MaxPool reading them (see `foldPadsOnnx`). */
  padsFolded: number;
}

/** Ops whose activation inputs are quantized (index list; `all` = every non-constant input). */
const QUANTIZED_INPUTS: Readonly<Record<string, readonly number[] | 'all'>> = Object.freeze({
  Conv: [0],
  Add: 'all',
  Sum: 'all',
  Concat: 'all',
  MaxPool: [0],
  AveragePool: [0],
  Pad: [0],
});

/** The parts of the decoded protobuf messages used here (protobufjs decodes to these shapes). */
interface Attribute {
  name: string;
  type?: number;
  i?: unknown;
  s?: Uint8Array;
  ints?: unknown[];
}
interface Node {
  opType: string;
  name: string;
  domain?: string;
  input: string[];
  output: string[];
  attribute: Attribute[];
}
interface TensorProto {
  name: string;
  dataType: number;
  dims: unknown[];
  rawData?: Uint8Array;
  floatData?: number[];
  int64Data?: unknown[];
}
interface Model {
  graph: { node: Node[]; initializer: TensorProto[]; input: { name: string }[]; output: { name: string }[]; valueInfo: unknown[] };
  opsetImport: { domain?: string; version: unknown }[];
  producerName?: string;
  docString?: string;
}
const decodeModel = (bytes: Uint8Array) => onnx.ModelProto.decode(bytes) as unknown as Model;
const encodeModel = (model: Model) => onnx.ModelProto.encode(model as unknown as Parameters<typeof onnx.ModelProto.encode>[0]).finish();

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const num = (v: unknown): number => (typeof v === 'number' ? v : typeof (v as { toNumber?: unknown })?.toNumber === 'function' ? (v as { toNumber(): number }).toNumber() : Number(v));

function floatData(t: TensorProto): Float32Array {
  if (t.dataType !== DT.FLOAT) throw new MorphoprofError('BAD_MODEL', `Initializer ${t.name} is not float32 (data type ${t.dataType})`, 'int8 quantization needs float32 Conv weights');
  if (t.rawData && t.rawData.length) return new Float32Array(Uint8Array.from(t.rawData).buffer);
  return Float32Array.from(t.floatData ?? []);
}

function tensor(name: string, dataType: number, dims: number[], data: ArrayBufferView): TensorProto {
  return { name, dataType, dims, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

function node(opType: string, inputs: string[], output: string, axis?: number): Node {
  const attribute = axis === undefined ? [] : [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: axis }];
  return { opType, name: `${output}/${opType}`, input: inputs, output: [output], attribute };
}

function decode(bytes: Uint8Array, label: string): Model {
  let model: Model;
  try {
    model = decodeModel(bytes);
  } catch (err) {
    throw new MorphoprofError('BAD_MODEL', `${label} is not an ONNX model: ${(err as Error).message}`, 'Give an .onnx file', { cause: err });
  }
  const opset = model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx');
  if (!model.graph || !opset) throw new MorphoprofError('BAD_MODEL', `${label} has no graph or no default-domain opset`, 'Give an .onnx model file');
  if (num(opset.version) < 13) {
    throw new MorphoprofError('BAD_MODEL', `${label} uses opset ${num(opset.version)}; int8 quantization needs opset 13 or newer (per-channel DequantizeLinear)`, 'Re-export the model with opset >= 13, or use precision fp32');
  }
  return model;
}

/** Values of an int64 initializer (e.g. Pad's pads), or null if it is not one. */
function int64Data(t: TensorProto | undefined): number[] | null {
  if (!t || t.dataType !== DT.INT64) return null;
  if (t.rawData && t.rawData.length) return Array.from(new BigInt64Array(Uint8Array.from(t.rawData).buffer), Number);
  return (t.int64Data ?? []).map(num);
}

/**
 * Fold explicit zero Pads into the Conv or MaxPool that reads them (the `pads` attribute): TF-style
 * 'same' padding converted from Keras comes as Pad nodes, and between a QuantizeLinear/
 * DequantizeLinear pair a Pad runs in float (measured: ResNet-50's pool1_pad, with its
 * DequantizeLinear and QuantizeLinear, took 8% of int8 inference at 96 px). The result is the
 * same: a Conv's own padding is zeros, and a MaxPool's padding is never the maximum when it reads
 * a Relu (values >= 0, and every window holds a real pixel when the padding is smaller than the
 * kernel). Returns the number of Pads folded.
 */
function foldPads(model: Model): number {
  const graph = model.graph;
  const inits = new Map(graph.initializer.map((t) => [t.name, t]));
  const producer = new Map(graph.node.flatMap((n) => n.output.map((o) => [o, n] as const)));
  const readers = new Map<string, Node[]>();
  for (const n of graph.node) for (const i of n.input) readers.set(i, [...(readers.get(i) ?? []), n]);
  const outputs = new Set(graph.output.map((o) => o.name));
  const removed = new Set<Node>();
  for (const pad of graph.node) {
    if (pad.opType !== 'Pad' || (pad.domain && pad.domain !== 'ai.onnx')) continue;
    const mode = pad.attribute.find((a) => a.name === 'mode')?.s;
    if (mode && text(mode) !== 'constant') continue;
    const value = pad.input[2] ? inits.get(pad.input[2]) : undefined;
    if (pad.input[2] && (!value || floatData(value).some((v) => v !== 0))) continue;
    if (pad.input.length > 3 || pad.attribute.some((a) => a.name !== 'mode')) continue;
    const pads = int64Data(inits.get(pad.input[1]!));
    const out = pad.output[0]!;
    const users = readers.get(out) ?? [];
    if (!pads || pads.length !== 8 || pads[0] || pads[1] || pads[4] || pads[5] || pads.some((p) => p < 0) || users.length !== 1 || outputs.has(out)) continue;
    const user = users[0]!;
    const [t, l, b, r] = [pads[2]!, pads[3]!, pads[6]!, pads[7]!];
    if (user.opType === 'MaxPool') {
      const kernel = (user.attribute.find((a) => a.name === 'kernel_shape')?.ints ?? []).map(num);
      const nonNegative = producer.get(pad.input[0]!)?.opType === 'Relu';
      if (!nonNegative || kernel.length !== 2 || Math.max(t, b) >= kernel[0]! || Math.max(l, r) >= kernel[1]!) continue;
    } else if (user.opType !== 'Conv') continue;
    if (user.input[0] !== out || user.attribute.some((a) => a.name === 'auto_pad' && a.s && !['NOTSET', ''].includes(text(a.s)))) continue;
    const attr = user.attribute.find((a) => a.name === 'pads');
    const had = (attr?.ints ?? [0, 0, 0, 0]).map(num);
    const ints = [had[0]! + t, had[1]! + l, had[2]! + b, had[3]! + r];
    if (attr) attr.ints = ints;
    else user.attribute.push({ name: 'pads', type: onnx.AttributeProto.AttributeType.INTS, ints });
    user.input[0] = pad.input[0]!;
    removed.add(pad);
  }
  graph.node = graph.node.filter((n) => !removed.has(n));
  const read = new Set(graph.node.flatMap((n) => n.input));
  const padInputs = new Set([...removed].flatMap((n) => n.input.slice(1)));
  graph.initializer = graph.initializer.filter((t) => read.has(t.name) || !padInputs.has(t.name));
  return removed.size;
}

/** Keep only the graph outputs `keep` and the nodes and initializers they need. */
function pruneOutputs(model: Model, keep: readonly string[], label: string): void {
  const graph = model.graph;
  const names = graph.output.map((o) => o.name);
  const unknown = keep.filter((k) => !names.includes(k));
  if (unknown.length || keep.length === 0)
    throw new MorphoprofError('BAD_ARGUMENT', `${label} has no output ${JSON.stringify(unknown[0] ?? '')} to keep (its outputs: ${names.join(', ')})`, 'Name outputs the model has');
  graph.output = graph.output.filter((o) => keep.includes(o.name));
  const needed = new Set(keep);
  const nodes: Node[] = [];
  for (const n of [...graph.node].reverse()) {
    if (!n.output.some((o) => needed.has(o))) continue;
    nodes.push(n);
    for (const i of n.input) needed.add(i);
  }
  graph.node = nodes.reverse();
  graph.initializer = graph.initializer.filter((t) => needed.has(t.name));
}

/** `foldPads` on an ONNX model's bytes: the model without the folded Pads, and how many. */
export function foldPadsOnnx(bytes: Uint8Array, label = 'model'): { bytes: Uint8Array; folded: number } {
  const model = decode(bytes, label);
  const folded = foldPads(model);
  return { bytes: folded ? encodeModel(model) : bytes, folded };
}

/** Activation tensors to quantize: the quantized inputs of QUANTIZED_INPUTS ops, in graph order. */
function activationTensors(model: Model): string[] {
  const constants = new Set(model.graph!.initializer.map((t) => t.name));
  const found = new Set<string>();
  for (const n of model.graph!.node) {
    const which = QUANTIZED_INPUTS[n.opType!];
    if (!which || (n.domain && n.domain !== 'ai.onnx')) continue;
    const indices = which === 'all' ? n.input.map((_, i) => i) : which;
    for (const i of indices) {
      const name = n.input[i];
      if (name && !constants.has(name)) found.add(name);
    }
  }
  return [...found];
}

/** Lower and upper bound of each tensor, from a run of the fp32 model over the calibration images. */
async function calibrate(runtime: CalibrationRuntime, bytes: Uint8Array, tensors: string[], opts: QuantizeOptions): Promise<Map<string, [number, number]>> {
  const probe = decodeModel(bytes);
  const outputs = new Set(probe.graph!.output.map((o) => o.name));
  for (const t of tensors) {
    if (!outputs.has(t)) probe.graph.output.push({ name: t, type: { tensorType: { elemType: DT.FLOAT } } } as { name: string });
  }
  const session = await runtime.open(encodeModel(probe), opts.intraOpNumThreads !== undefined ? { intraOpNumThreads: opts.intraOpNumThreads } : {});
  const per = 3 * opts.inputSize * opts.inputSize;
  const percentile = opts.method === 'percentile' ? (opts.percentile ?? 99.99) : null;
  const lo = new Map<string, number>();
  const hi = new Map<string, number>();
  const samples = new Map<string, number[]>();
  const step = 2; // images per run: bounds the memory of the exposed activations
  try {
    for (let i = 0; i < opts.calibrationCount; i += step) {
      const n = Math.min(step, opts.calibrationCount - i);
      const result = await session.run(opts.calibration.subarray(i * per, (i + n) * per), [n, 3, opts.inputSize, opts.inputSize], tensors);
      for (const t of tensors) {
        const data = result[t]!;
        if (percentile === null) {
          let a = lo.get(t) ?? Infinity;
          let b = hi.get(t) ?? -Infinity;
          for (let k = 0; k < data.length; k++) {
            const v = data[k]!;
            if (v < a) a = v;
            if (v > b) b = v;
          }
          lo.set(t, a);
          hi.set(t, b);
        } else {
          // A strided sample of at most ~2^16 values per run keeps percentiles cheap.
          const s = samples.get(t) ?? [];
          const stride = Math.max(1, Math.floor(data.length / 65536));
          for (let k = (i * 7919) % stride; k < data.length; k += stride) s.push(data[k]!);
          samples.set(t, s);
        }
      }
    }
  } finally {
    await session.release();
  }
  const ranges = new Map<string, [number, number]>();
  for (const t of tensors) {
    if (percentile === null) {
      ranges.set(t, [lo.get(t)!, hi.get(t)!]);
    } else {
      const s = Float32Array.from(samples.get(t)!).sort();
      const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.round((p / 100) * (s.length - 1))))]!;
      ranges.set(t, [at(100 - percentile), at(percentile)]);
    }
  }
  return ranges;
}

/** uint8 asymmetric parameters of a range (widened to contain 0, so zero and padding are exact). */
function activationParams([min, max]: [number, number]): { scale: number; zeroPoint: number } {
  const a = Math.min(0, Number.isFinite(min) ? min : 0);
  const b = Math.max(0, Number.isFinite(max) ? max : 0);
  const scale = b - a > 0 ? (b - a) / 255 : 1;
  return { scale, zeroPoint: Math.min(255, Math.max(0, Math.round(-a / scale))) };
}

/**
 * Quantize an fp32 ONNX model (bytes) to QDQ int8, calibrated on `opts.calibration` with the
 * host's onnxruntime (`quantizeOnnx` in quantize-node.ts binds Node's).
 * The input and outputs keep their names, shapes and float32 type.
 */
export async function quantizeOnnxWith(runtime: CalibrationRuntime, bytes: Uint8Array, opts: QuantizeOptions, label = 'model'): Promise<{ bytes: Uint8Array; report: QuantizeReport }> {
  checkCalibration(opts);
  const model = decode(bytes, label);
  if (opts.outputs) pruneOutputs(model, opts.outputs, label);
  const folded = opts.foldPads === false ? 0 : foldPads(model);
  if (folded || opts.outputs) bytes = encodeModel(model);
  const graph = model.graph!;
  const tensors = activationTensors(model);
  const ranges = await calibrate(runtime, bytes, tensors, opts);

  const inits = new Map(graph.initializer.map((t) => [t.name!, t]));
  const added: TensorProto[] = [];
  const params = new Map<string, { scale: number; zeroPoint: number; dq: string; nodes: Node[] }>();
  for (const t of tensors) {
    const p = activationParams(ranges.get(t)!);
    const s = `${t}/act_scale`;
    const z = `${t}/act_zero_point`;
    added.push(tensor(s, DT.FLOAT, [], Float32Array.of(p.scale)), tensor(z, DT.UINT8, [], Uint8Array.of(p.zeroPoint)));
    const q = `${t}/quantized`;
    const dq = `${t}/dequantized`;
    params.set(t, { ...p, dq, nodes: [node('QuantizeLinear', [t, s, z], q), node('DequantizeLinear', [q, s, z], dq)] });
  }

  // Conv weights per output channel (int8, symmetric) and biases (int32 at input x weight scale).
  let convs = 0;
  const replacedInits = new Set<string>();
  const weightNodes: Node[] = [];
  for (const n of graph.node) {
    if (n.opType !== 'Conv') continue;
    const x = params.get(n.input[0]!);
    const w = inits.get(n.input[1]!);
    if (!x || !w) continue;
    const dims = w.dims.map(num);
    const data = floatData(w);
    const channels = dims[0]!;
    const per = data.length / channels;
    const scales = new Float32Array(channels);
    const q = new Int8Array(data.length);
    for (let c = 0; c < channels; c++) {
      let m = 0;
      for (let k = c * per; k < (c + 1) * per; k++) m = Math.max(m, Math.abs(data[k]!));
      const s = m > 0 ? m / 127 : 1;
      scales[c] = s;
      for (let k = c * per; k < (c + 1) * per; k++) q[k] = Math.round(data[k]! / s);
    }
    const wName = `${n.name}/weight`;
    added.push(tensor(`${wName}_int8`, DT.INT8, dims, q), tensor(`${wName}_scale`, DT.FLOAT, [channels], scales), tensor(`${wName}_zero_point`, DT.INT8, [channels], new Int8Array(channels)));
    weightNodes.push(node('DequantizeLinear', [`${wName}_int8`, `${wName}_scale`, `${wName}_zero_point`], `${wName}_dequantized`, 0));
    replacedInits.add(n.input[1]!);
    n.input[1] = `${wName}_dequantized`;
    const b = n.input[2] ? inits.get(n.input[2]) : undefined;
    if (b) {
      const bias = floatData(b);
      const bScales = scales.map((s) => s * x.scale);
      const bq = Int32Array.from(bias, (v, c) => Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(v / bScales[c]!))));
      const bName = `${n.name}/bias`;
      added.push(tensor(`${bName}_int32`, DT.INT32, [channels], bq), tensor(`${bName}_scale`, DT.FLOAT, [channels], bScales), tensor(`${bName}_zero_point`, DT.INT32, [channels], new Int32Array(channels)));
      weightNodes.push(node('DequantizeLinear', [`${bName}_int32`, `${bName}_scale`, `${bName}_zero_point`], `${bName}_dequantized`, 0));
      replacedInits.add(n.input[2]!);
      n.input[2] = `${bName}_dequantized`;
    }
    convs++;
  }

  // Readers of a quantized tensor read its DequantizeLinear output; graph outputs keep fp32.
  for (const n of graph.node) n.input = n.input.map((i) => params.get(i)?.dq ?? i);
  const nodes: Node[] = [...weightNodes];
  for (const i of graph.input) nodes.push(...(params.get(i.name!)?.nodes ?? []));
  for (const n of graph.node) {
    nodes.push(n);
    for (const o of n.output) nodes.push(...(params.get(o)?.nodes ?? []));
  }
  const stillRead = new Set(nodes.flatMap((n) => n.input));
  graph.node = nodes;
  graph.initializer = [...graph.initializer.filter((t) => !replacedInits.has(t.name!) || stillRead.has(t.name!)), ...added];
  graph.valueInfo = [];
  model.producerName = 'morphoprof';
  model.docString = `${model.docString ?? ''} Quantized to int8 (QDQ) by morphoprof quantizer v${QUANTIZER_VERSION}.`.trim();
  return { bytes: encodeModel(model), report: { convs, activations: tensors.length, padsFolded: folded } };
}

/** Throws a clear error on calibration options that cannot work. */
export function checkCalibration(opts: QuantizeOptions): void {
  const { calibration, calibrationCount: n, inputSize: s } = opts;
  if (!(calibration instanceof Float32Array)) throw invalidParameter('calibration', 'a Float32Array of preprocessed NCHW images', typeof calibration);
  if (!Number.isInteger(n) || n < 1) throw invalidParameter('calibrationCount', 'a positive integer', n);
  if (calibration.length < n * 3 * s * s) throw invalidParameter('calibration', `at least ${n * 3 * s * s} values (${n} x 3 x ${s} x ${s})`, `${calibration.length} values`);
  if (opts.method !== undefined && opts.method !== 'minmax' && opts.method !== 'percentile') throw invalidParameter('calibrationMethod', 'minmax or percentile', opts.method);
  const p = opts.percentile;
  if (p !== undefined && !(p > 50 && p <= 100)) throw invalidParameter('calibrationPercentile', 'a number in (50, 100]', p);
}

/** The part of the int8 cache key (besides the fp32 bytes and calibration images) that the options make. */
export function quantizeKeyText(opts: QuantizeOptions): string {
  const method = opts.method ?? 'minmax';
  return `q${QUANTIZER_VERSION} ${method} ${opts.percentile ?? ''} ${opts.calibrationCount} ${opts.inputSize}${opts.foldPads === false ? ' unfolded' : ''}${opts.outputs ? ` outputs ${opts.outputs.join(',')}` : ''}`;
}
