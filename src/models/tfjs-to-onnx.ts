/**
 * TF.js layers model (Keras topology in model.json + weightsManifest shards) -> ONNX ModelProto.
 *
 * Written here because no maintained JS package does this (tf2onnx and onnxmltools are Python and
 * need TensorFlow). The conversion is driven by the layer graph (`inbound_nodes`), so any
 * functional or Sequential Keras model made of the supported layers converts, not just ResNet-50.
 *
 * Layout: Keras tensors are NHWC; the ONNX graph is NCHW throughout. The ONNX input is NCHW
 * float32 [N, C, H, W] with a dynamic batch, already preprocessed. 4-D outputs are NCHW,
 * 2-D outputs are [N, features]. Every layer's output tensor is named after the layer, so any
 * layer can be exposed as a graph output.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { MorphoprofError } from '../errors.js';
import { OnnxGraphBuilder, type AttrValue, type GraphNode, type OnnxDims } from './onnx-builder.js';

/** Bump when the converter's output changes, so cached ONNX files are rebuilt. */
export const CONVERTER_VERSION = 1;

/** One entry of a TF.js weights manifest (model.json `weightsManifest[].weights[]`). */
export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: 'uint8' | 'uint16' | 'float16'; scale?: number; min?: number };
}

/** What a TF.js layers model is made of, in memory (compatible with tfjs `ModelArtifacts`). */
export interface TfjsLayersArtifacts {
  modelTopology: unknown;
  weightSpecs: TfjsWeightSpec[];
  weightData: ArrayBuffer | ArrayBuffer[];
}

export interface ConvertOptions {
  /** Name of the ONNX graph input (default `input`). */
  inputName?: string;
  /** Layers exposed as graph outputs, in this order (default: the model's own outputs). */
  outputs?: string[];
  /**
   * Layers exposed global-average-pooled, after `outputs`: an image layer [N, C, H, W] becomes
   * an output `pooledOutputName(layer)` of [N, C]; a layer that is already a vector [N, C] is
   * exposed as itself. Layers that no output needs are left out of the graph.
   */
  pooledOutputs?: string[];
  /** Graph name and doc string written into the model. */
  graphName?: string;
  docString?: string;
  metadata?: Record<string, string>;
}

/** Read model.json and its weight shards from disk. */
export function loadTfjsLayersArtifacts(modelJsonPath: string): TfjsLayersArtifacts {
  let json: { modelTopology?: unknown; weightsManifest?: { paths: string[]; weights: TfjsWeightSpec[] }[]; format?: string };
  try {
    json = JSON.parse(readFileSync(modelJsonPath, 'utf8'));
  } catch (err) {
    throw new MorphoprofError('BAD_MODEL', `Cannot read TF.js model ${modelJsonPath}: ${(err as Error).message}`, 'Check that the file exists and is a TF.js model.json', { cause: err });
  }
  if (!json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new MorphoprofError('BAD_MODEL', `${modelJsonPath} has no modelTopology or weightsManifest`, 'Expected a TF.js layers model (format "layers-model"), as written by tensorflowjs_converter');
  }
  const dir = path.dirname(modelJsonPath);
  const buffers: ArrayBuffer[] = [];
  const weightSpecs: TfjsWeightSpec[] = [];
  for (const group of json.weightsManifest) {
    weightSpecs.push(...group.weights);
    for (const p of group.paths) {
      const file = path.join(dir, p);
      try {
        const b = readFileSync(file);
        buffers.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
      } catch (err) {
        throw new MorphoprofError('FILE_NOT_FOUND', `Weight shard ${file} listed in ${modelJsonPath} cannot be read`, 'Reinstall the model package; all shards must sit beside model.json', { cause: err });
      }
    }
  }
  return { modelTopology: json.modelTopology, weightSpecs, weightData: buffers };
}

// ---------------------------------------------------------------------------------------------
// Weights

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
const BYTES: Record<string, number> = { float32: 4, int32: 4, uint8: 1, uint16: 2, float16: 2, bool: 1 };

function concatBuffers(data: ArrayBuffer | ArrayBuffer[]): Uint8Array {
  if (!Array.isArray(data)) return new Uint8Array(data);
  const total = data.reduce((s, b) => s + b.byteLength, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const b of data) {
    out.set(new Uint8Array(b), o);
    o += b.byteLength;
  }
  return out;
}

function float16ToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/** Decode all weights to float32 (dequantising uint8/uint16/float16 weights as TF.js does). */
function decodeWeights(artifacts: TfjsLayersArtifacts): Map<string, { shape: number[]; data: Float32Array }> {
  const bytes = concatBuffers(artifacts.weightData);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  let offset = 0;
  for (const spec of artifacts.weightSpecs) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const q = spec.quantization;
    const storedType = q?.dtype ?? spec.dtype;
    const width = BYTES[storedType];
    if (!width) throw new MorphoprofError('BAD_MODEL', `Weight ${spec.name} has unsupported dtype ${storedType}`, 'Only float32 and uint8/uint16/float16-quantised weights are supported');
    if (offset + size * width > bytes.byteLength) {
      throw new MorphoprofError('BAD_MODEL', `Weight ${spec.name} runs past the end of the weight shards (${bytes.byteLength} bytes)`, 'The shards are truncated or do not belong to this model.json');
    }
    const data = new Float32Array(size);
    if (spec.dtype !== 'float32') {
      // int32/bool weights are not used by the supported layers; skip their bytes.
    } else if (!q) {
      // Copy through bytes: the weight may sit at an offset that is not 4-aligned.
      new Uint8Array(data.buffer).set(bytes.subarray(offset, offset + 4 * size));
      if (!LITTLE_ENDIAN) for (let i = 0; i < size; i++) data[i] = view.getFloat32(offset + 4 * i, true);
    } else if (q.dtype === 'float16') {
      for (let i = 0; i < size; i++) data[i] = float16ToFloat32(view.getUint16(offset + 2 * i, true));
    } else {
      const scale = q.scale ?? 1;
      const min = q.min ?? 0;
      for (let i = 0; i < size; i++) data[i] = (q.dtype === 'uint8' ? view.getUint8(offset + i) : view.getUint16(offset + 2 * i, true)) * scale + min;
    }
    out.set(spec.name.replace(/:0$/, ''), { shape: spec.shape, data });
    offset += size * width;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Topology

interface KerasLayer {
  name: string;
  class_name: string;
  config: Record<string, any>;
  /** Each call of the layer: a list of [layerName, nodeIndex, tensorIndex, kwargs]. */
  inbound_nodes: [string, number, number, unknown?][][];
}

/** Functional or Sequential model config -> layers with explicit inbound nodes, plus inputs/outputs. */
function readTopology(modelTopology: unknown): { layers: KerasLayer[]; outputs: string[] } {
  const topo = modelTopology as Record<string, any>;
  const model = topo?.model_config ?? topo;
  const className: string = model?.class_name;
  const config = model?.config;
  const bad = (what: string) => new MorphoprofError('BAD_MODEL', `TF.js model topology: ${what}`, 'Expected a Keras Model or Sequential config as written by TF.js or tensorflowjs_converter');
  if (className === 'Model' || className === 'Functional') {
    if (!Array.isArray(config?.layers)) throw bad('no config.layers');
    const outputs = (config.output_layers as [string, number, number][]).map((o) => o[0]);
    return { layers: config.layers as KerasLayer[], outputs };
  }
  if (className === 'Sequential') {
    const list: any[] = Array.isArray(config) ? config : config?.layers;
    if (!Array.isArray(list) || list.length === 0) throw bad('empty Sequential model');
    const layers: KerasLayer[] = [];
    let prev: string;
    const first = list[0];
    if (first.class_name === 'InputLayer') {
      prev = first.config.name;
      layers.push({ name: prev, class_name: 'InputLayer', config: first.config, inbound_nodes: [] });
    } else {
      const shape = first.config.batch_input_shape ?? first.config.batchInputShape;
      if (!shape) throw bad(`first layer ${first.config.name} has no batch_input_shape`);
      prev = `${first.config.name}_input`;
      layers.push({ name: prev, class_name: 'InputLayer', config: { name: prev, batch_input_shape: shape }, inbound_nodes: [] });
    }
    for (const l of list) {
      if (l.class_name === 'InputLayer') continue;
      layers.push({ name: l.config.name, class_name: l.class_name, config: l.config, inbound_nodes: [[[prev, 0, 0, {}]]] });
      prev = l.config.name;
    }
    return { layers, outputs: [prev] };
  }
  throw bad(`unsupported model class ${JSON.stringify(className)}`);
}

// ---------------------------------------------------------------------------------------------
// Conversion

/**
 * A tensor during conversion. `shape` is the Keras shape without the batch: [H, W, C] for image
 * tensors (ONNX holds them as [N, C, H, W]) or [C] for feature vectors; null = unknown size.
 */
interface Tensor {
  name: string;
  shape: (number | null)[];
}

interface ConvInfo {
  node: GraphNode;
  weight: string;
  bias: string | null;
  outChannels: number;
}

interface Ctx {
  g: OnnxGraphBuilder;
  layer: KerasLayer;
  inputs: Tensor[];
  /** Output tensor name of this layer call. */
  out: string;
  weight(param: string, optional?: boolean): { shape: number[]; data: Float32Array } | undefined;
  /** Convs whose output may still absorb a following BatchNormalization, by output tensor. */
  convs: Map<string, ConvInfo>;
  /** How many layer calls (plus graph outputs) read a tensor. */
  readers: Map<string, number>;
}

type LayerConverter = (ctx: Ctx) => Tensor;

const pair = (v: number | number[] | null | undefined, dflt: number): [number, number] =>
  v == null ? [dflt, dflt] : Array.isArray(v) ? [v[0]!, v[1] ?? v[0]!] : [v, v];

function requireChannelsLast(ctx: Ctx): void {
  const f = ctx.layer.config.data_format;
  if (f && f !== 'channels_last') {
    throw new MorphoprofError('BAD_MODEL', `Layer ${ctx.layer.name} uses data_format ${f}`, 'Only channels_last TF.js models are supported');
  }
}

function requireImage(ctx: Ctx, t: Tensor): void {
  if (t.shape.length !== 3) {
    throw new MorphoprofError('BAD_MODEL', `Layer ${ctx.layer.name} (${ctx.layer.class_name}) expects an image tensor [H, W, C] but got shape [${t.shape.join(', ')}]`, 'Only 2-D image layers on rank-4 tensors are supported');
  }
}

/**
 * Spatial output size and explicit ONNX pads [top, left, bottom, right] of a window op.
 * TF "same": out = ceil(in / stride), total pad = max((out - 1) * stride + effectiveKernel - in, 0),
 * with the odd pixel at the end (bottom/right). Unknown input sizes fall back to auto_pad SAME_UPPER,
 * which is the same rule evaluated by onnxruntime.
 */
function windowGeometry(ctx: Ctx, shape: (number | null)[], kernel: [number, number], strides: [number, number], dilation: [number, number], padding: string) {
  const outHW: (number | null)[] = [];
  const before: number[] = [];
  const after: number[] = [];
  let known = true;
  for (let i = 0; i < 2; i++) {
    const size = shape[i]!;
    const k = (kernel[i]! - 1) * dilation[i]! + 1;
    const s = strides[i]!;
    if (padding === 'valid') {
      outHW.push(size === null ? null : Math.floor((size - k) / s) + 1);
      before.push(0);
      after.push(0);
    } else if (padding === 'same') {
      if (size === null) {
        known = false;
        outHW.push(null);
        continue;
      }
      const out = Math.ceil(size / s);
      const total = Math.max((out - 1) * s + k - size, 0);
      outHW.push(out);
      before.push(Math.floor(total / 2));
      after.push(total - Math.floor(total / 2));
    } else {
      throw new MorphoprofError('BAD_MODEL', `Layer ${ctx.layer.name} has padding ${JSON.stringify(padding)}`, 'Supported paddings: "valid", "same"');
    }
    if (outHW[i] !== null && outHW[i]! <= 0) {
      throw new MorphoprofError('BAD_MODEL', `Layer ${ctx.layer.name}: window ${k} larger than its input (${size})`, 'Use a larger input size');
    }
  }
  const padAttrs: Record<string, AttrValue> = known ? { pads: [before[0]!, before[1]!, after[0]!, after[1]!] } : { auto_pad: 'SAME_UPPER' };
  return { outHW, padAttrs };
}

/** Keras activations that are one ONNX op with default attributes. */
const UNARY_ACTIVATIONS: Readonly<Record<string, string>> = Object.freeze({ relu: 'Relu', sigmoid: 'Sigmoid', tanh: 'Tanh', elu: 'Elu', selu: 'Selu', softplus: 'Softplus' });

/** min(max(x, 0), maxValue), as ONNX Clip (opset 13 takes the bounds as inputs). */
function clip(g: OnnxGraphBuilder, input: string, out: string, maxValue: number): void {
  g.node('Clip', [input, g.float(`${out}/min`, [], Float32Array.of(0)), g.float(`${out}/max`, [], Float32Array.of(maxValue))], out);
}

/** Keras activation name -> ONNX node(s) on `input`, writing `out`; returns the result's name. */
function activation(ctx: Ctx, name: string | undefined, input: string, out: string, rank: number): string {
  const g = ctx.g;
  const act = name ?? 'linear';
  if (act === 'linear') return input;
  const unary = UNARY_ACTIVATIONS[act];
  if (unary) g.node(unary, [input], out);
  else if (act === 'relu6') clip(g, input, out, 6);
  // Keras hard_sigmoid is clip(0.2 x + 0.5, 0, 1): ONNX HardSigmoid with these constants.
  else if (act === 'hard_sigmoid') g.node('HardSigmoid', [input], out, { alpha: { float: 0.2 }, beta: { float: 0.5 } });
  else if (act === 'swish') {
    const sig = g.unique(`${out}/sigmoid`);
    g.node('Sigmoid', [input], sig);
    g.node('Mul', [input, sig], out);
  }
  // Keras softmax is over the last (channel) axis, which is axis 1 in NCHW and in [N, C].
  else if (act === 'softmax') g.node('Softmax', [input], out, { axis: rank === 3 ? 1 : -1 });
  else {
    throw new MorphoprofError('BAD_MODEL', `Layer ${ctx.layer.name} uses activation ${JSON.stringify(name)}`, `Supported activations: linear, relu6, hard_sigmoid, swish, softmax, ${Object.keys(UNARY_ACTIVATIONS).join(', ')}`);
  }
  return out;
}

/** Emit the layer's own activation (if any) after a linear op writing to `pre`. */
function withActivation(ctx: Ctx, build: (outName: string) => void, shape: (number | null)[]): Tensor {
  const act = ctx.layer.config.activation ?? 'linear';
  if (act === 'linear') {
    build(ctx.out);
    return { name: ctx.out, shape };
  }
  const pre = ctx.g.unique(`${ctx.out}/preact`);
  build(pre);
  activation(ctx, act, pre, ctx.out, shape.length);
  return { name: ctx.out, shape };
}

/** Conv2D and DepthwiseConv2D: kernel HWIO (or HWCM) -> ONNX OIHW, explicit pads, group. */
function convolution(ctx: Ctx, depthwise: boolean): Tensor {
  requireChannelsLast(ctx);
  const x = ctx.inputs[0]!;
  requireImage(ctx, x);
  const c = ctx.layer.config;
  const kw = ctx.weight(depthwise ? 'depthwise_kernel' : 'kernel')!;
  const [kh, kwid, cinPerGroup, m] = kw.shape as [number, number, number, number];
  const cin = x.shape[2] ?? (depthwise ? cinPerGroup : cinPerGroup * (c.groups ?? 1));
  const group = depthwise ? cin : (c.groups ?? 1);
  const cout = depthwise ? cin * m : m;
  // depthwise: [kh, kw, cin, m] -> [cin*m, 1, kh, kw] (output channel c*m + j, as in TF);
  // conv:      [kh, kw, cin/g, cout] -> [cout, cin/g, kh, kw]
  const inPerGroup = depthwise ? 1 : cinPerGroup;
  const w = new Float32Array(kw.data.length);
  for (let y = 0; y < kh; y++)
    for (let xk = 0; xk < kwid; xk++)
      for (let i = 0; i < cinPerGroup; i++)
        for (let o = 0; o < m; o++) {
          const src = ((y * kwid + xk) * cinPerGroup + i) * m + o;
          const oc = depthwise ? i * m + o : o;
          const ic = depthwise ? 0 : i;
          w[((oc * inPerGroup + ic) * kh + y) * kwid + xk] = kw.data[src]!;
        }
  const strides = pair(c.strides, 1);
  const dilations = pair(c.dilation_rate, 1);
  const { outHW, padAttrs } = windowGeometry(ctx, x.shape, [kh, kwid], strides, dilations, c.padding ?? 'valid');
  const weight = ctx.g.float(`${ctx.layer.name}/kernel`, [cout, inPerGroup, kh, kwid], w);
  const b = c.use_bias === false ? undefined : ctx.weight('bias');
  const bias = b ? ctx.g.float(`${ctx.layer.name}/bias`, [cout], b.data) : null;
  let node: GraphNode | undefined;
  const t = withActivation(
    ctx,
    (out) => {
      node = ctx.g.node('Conv', bias ? [x.name, weight, bias] : [x.name, weight], out, {
        kernel_shape: [kh, kwid],
        strides,
        dilations,
        group,
        ...padAttrs,
      });
    },
    [outHW[0]!, outHW[1]!, cout],
  );
  if ((c.activation ?? 'linear') === 'linear') ctx.convs.set(t.name, { node: node!, weight, bias, outChannels: cout });
  return t;
}

function batchNormParams(ctx: Ctx, channels: number) {
  const c = ctx.layer.config;
  const ones = () => new Float32Array(channels).fill(1);
  const gamma = c.scale === false ? ones() : ctx.weight('gamma')!.data;
  const beta = c.center === false ? new Float32Array(channels) : ctx.weight('beta')!.data;
  const mean = ctx.weight('moving_mean')!.data;
  const variance = ctx.weight('moving_variance')!.data;
  const eps: number = c.epsilon ?? 1e-3;
  return { gamma, beta, mean, variance, eps };
}

function batchNormalization(ctx: Ctx): Tensor {
  const x = ctx.inputs[0]!;
  const rank = x.shape.length + 1;
  const axes: number[] = ([] as number[]).concat(ctx.layer.config.axis ?? -1).map((a) => (a < 0 ? a + rank : a));
  if (axes.length !== 1 || axes[0] !== rank - 1) {
    throw new MorphoprofError('BAD_MODEL', `BatchNormalization ${ctx.layer.name} normalises axis ${JSON.stringify(ctx.layer.config.axis)}`, 'Only the channel (last) axis is supported');
  }
  const conv = ctx.convs.get(x.name);
  const channels = conv?.outChannels ?? (x.shape[x.shape.length - 1] as number);
  const p = batchNormParams(ctx, channels);
  if (conv && ctx.readers.get(x.name) === 1) {
    // Fold into the Conv: w' = w * s, b' = (b - mean) * s + beta with s = gamma / sqrt(var + eps).
    const w = ctx.g.floats.get(conv.weight)!;
    const per = w.data.length / channels;
    const bias = new Float32Array(channels);
    const oldBias = conv.bias ? ctx.g.floats.get(conv.bias)!.data : undefined;
    for (let o = 0; o < channels; o++) {
      const s = p.gamma[o]! / Math.sqrt(p.variance[o]! + p.eps);
      for (let k = o * per; k < (o + 1) * per; k++) w.data[k]! *= s;
      bias[o] = ((oldBias?.[o] ?? 0) - p.mean[o]!) * s + p.beta[o]!;
    }
    if (conv.bias) ctx.g.floats.get(conv.bias)!.data = bias;
    else conv.node.inputs.push(ctx.g.float(`${ctx.layer.name}/bias`, [channels], bias));
    conv.node.outputs[0] = ctx.out;
    ctx.convs.delete(x.name);
    ctx.convs.set(ctx.out, conv);
    return { name: ctx.out, shape: x.shape };
  }
  const name = ctx.layer.name;
  ctx.g.node(
    'BatchNormalization',
    [x.name, ctx.g.float(`${name}/gamma`, [channels], p.gamma), ctx.g.float(`${name}/beta`, [channels], p.beta), ctx.g.float(`${name}/moving_mean`, [channels], p.mean), ctx.g.float(`${name}/moving_variance`, [channels], p.variance)],
    ctx.out,
    { epsilon: { float: p.eps } },
  );
  return { name: ctx.out, shape: x.shape };
}

function pooling(op: 'MaxPool' | 'AveragePool'): LayerConverter {
  return (ctx) => {
    requireChannelsLast(ctx);
    const x = ctx.inputs[0]!;
    requireImage(ctx, x);
    const c = ctx.layer.config;
    const kernel = pair(c.pool_size, 2);
    const strides = c.strides == null ? kernel : pair(c.strides, 1);
    const { outHW, padAttrs } = windowGeometry(ctx, x.shape, kernel, strides, [1, 1], c.padding ?? 'valid');
    // AveragePool's default count_include_pad=0 matches TF: padded cells are not counted.
    ctx.g.node(op, [x.name], ctx.out, { kernel_shape: kernel, strides, ...padAttrs });
    return { name: ctx.out, shape: [outHW[0]!, outHW[1]!, x.shape[2]!] };
  };
}

function globalPooling(op: 'GlobalAveragePool' | 'GlobalMaxPool'): LayerConverter {
  return (ctx) => {
    requireChannelsLast(ctx);
    const x = ctx.inputs[0]!;
    requireImage(ctx, x);
    if (ctx.layer.config.keepdims) {
      ctx.g.node(op, [x.name], ctx.out);
      return { name: ctx.out, shape: [1, 1, x.shape[2]!] };
    }
    const pooled = ctx.g.unique(`${ctx.out}/pooled`);
    ctx.g.node(op, [x.name], pooled);
    ctx.g.node('Flatten', [pooled], ctx.out, { axis: 1 });
    return { name: ctx.out, shape: [x.shape[2]!] };
  };
}

/** Keras axis of a tensor with batch (NHWC or NC) -> ONNX axis (NCHW or NC). */
function onnxAxis(kerasAxis: number, rank: number): number {
  const a = kerasAxis < 0 ? kerasAxis + rank : kerasAxis;
  return rank === 4 ? [0, 2, 3, 1][a]! : a;
}

function elementwise(op: 'Add' | 'Sub' | 'Mul' | 'Max' | 'Min' | 'Mean'): LayerConverter {
  return (ctx) => {
    const names = ctx.inputs.map((t) => t.name);
    if (op === 'Max' || op === 'Min' || op === 'Mean' || names.length === 2) {
      ctx.g.node(op, names, ctx.out);
    } else if (op === 'Add') {
      ctx.g.node('Sum', names, ctx.out);
    } else if (op === 'Mul') {
      let acc = names[0]!;
      for (let i = 1; i < names.length; i++) {
        const out = i === names.length - 1 ? ctx.out : ctx.g.unique(`${ctx.out}/mul${i}`);
        ctx.g.node('Mul', [acc, names[i]!], out);
        acc = out;
      }
    } else {
      throw new MorphoprofError('BAD_MODEL', `Layer ${ctx.layer.name} (${ctx.layer.class_name}) needs exactly 2 inputs`, 'Check the model topology');
    }
    return { name: ctx.out, shape: ctx.inputs[0]!.shape };
  };
}

/** Layers that pass their input through unchanged at inference time. */
const identity: LayerConverter = (ctx) => ctx.inputs[0]!;

const CONVERTERS: Readonly<Record<string, LayerConverter>> = Object.freeze({
  Conv2D: (ctx) => convolution(ctx, false),
  DepthwiseConv2D: (ctx) => convolution(ctx, true),
  BatchNormalization: batchNormalization,
  Activation: (ctx) => {
    const x = ctx.inputs[0]!;
    const out = activation(ctx, ctx.layer.config.activation, x.name, ctx.out, x.shape.length);
    return { name: out, shape: x.shape };
  },
  ReLU: (ctx) => {
    const x = ctx.inputs[0]!;
    const c = ctx.layer.config;
    if ((c.negative_slope ?? 0) !== 0 || (c.threshold ?? 0) !== 0) {
      throw new MorphoprofError('BAD_MODEL', `ReLU ${ctx.layer.name} has negative_slope/threshold`, 'Only plain ReLU (optionally with max_value) is supported');
    }
    if (c.max_value == null) ctx.g.node('Relu', [x.name], ctx.out);
    else clip(ctx.g, x.name, ctx.out, c.max_value);
    return { name: ctx.out, shape: x.shape };
  },
  Add: elementwise('Add'),
  Subtract: elementwise('Sub'),
  Multiply: elementwise('Mul'),
  Average: elementwise('Mean'),
  Maximum: elementwise('Max'),
  Minimum: elementwise('Min'),
  Concatenate: (ctx) => {
    const rank = ctx.inputs[0]!.shape.length + 1;
    const kerasAxis: number = ctx.layer.config.axis ?? -1;
    const a = kerasAxis < 0 ? kerasAxis + rank : kerasAxis;
    ctx.g.node('Concat', ctx.inputs.map((t) => t.name), ctx.out, { axis: onnxAxis(a, rank) });
    const shape = [...ctx.inputs[0]!.shape];
    const sum = ctx.inputs.map((t) => t.shape[a - 1]);
    shape[a - 1] = sum.some((s) => s == null) ? null : sum.reduce((x, y) => x! + y!, 0)!;
    return { name: ctx.out, shape };
  },
  MaxPooling2D: pooling('MaxPool'),
  AveragePooling2D: pooling('AveragePool'),
  GlobalAveragePooling2D: globalPooling('GlobalAveragePool'),
  GlobalMaxPooling2D: globalPooling('GlobalMaxPool'),
  ZeroPadding2D: (ctx) => {
    requireChannelsLast(ctx);
    const x = ctx.inputs[0]!;
    requireImage(ctx, x);
    const p = ctx.layer.config.padding ?? 1;
    // int | [symH, symW] | [[top, bottom], [left, right]]
    const [[t, b], [l, r]] = typeof p === 'number' ? [[p, p], [p, p]] : (p as (number | number[])[]).map((v) => pair(v, 0));
    ctx.g.node('Pad', [x.name, ctx.g.int64(`${ctx.out}/pads`, [0, 0, t!, l!, 0, 0, b!, r!])], ctx.out, { mode: 'constant' });
    const grow = (s: number | null, n: number) => (s === null ? null : s + n);
    return { name: ctx.out, shape: [grow(x.shape[0]!, t! + b!), grow(x.shape[1]!, l! + r!), x.shape[2]!] };
  },
  Flatten: (ctx) => {
    const x = ctx.inputs[0]!;
    if (x.shape.length === 1) return x;
    requireImage(ctx, x);
    // Keras flattens NHWC order: transpose back before flattening so Dense weights line up.
    const nhwc = ctx.g.unique(`${ctx.out}/nhwc`);
    ctx.g.node('Transpose', [x.name], nhwc, { perm: [0, 2, 3, 1] });
    ctx.g.node('Flatten', [nhwc], ctx.out, { axis: 1 });
    const size = x.shape.some((s) => s === null) ? null : x.shape.reduce((a, b) => a! * b!, 1);
    return { name: ctx.out, shape: [size] };
  },
  Dense: (ctx) => {
    const x = ctx.inputs[0]!;
    if (x.shape.length !== 1) {
      throw new MorphoprofError('BAD_MODEL', `Dense ${ctx.layer.name} is applied to a tensor of shape [${x.shape.join(', ')}]`, 'Only Dense on feature vectors (after Flatten or global pooling) is supported');
    }
    const k = ctx.weight('kernel')!;
    const units = k.shape[1]!;
    const kernel = ctx.g.float(`${ctx.layer.name}/kernel`, k.shape, k.data);
    const b = ctx.layer.config.use_bias === false ? undefined : ctx.weight('bias');
    const inputs = [x.name, kernel, ...(b ? [ctx.g.float(`${ctx.layer.name}/bias`, [units], b.data)] : [])];
    return withActivation(ctx, (out) => ctx.g.node('Gemm', inputs, out), [units]);
  },
  Dropout: identity,
  SpatialDropout2D: identity,
  GaussianNoise: identity,
  GaussianDropout: identity,
  AlphaDropout: identity,
});

/** Name of the graph output holding layer `layer` global-average-pooled (see `pooledOutputs`). */
export function pooledOutputName(layer: string): string {
  return `${layer}_gap`;
}

/** Layer names of a TF.js layers model, in topological order (InputLayer first). */
export function tfjsLayerNames(modelTopology: unknown): string[] {
  return readTopology(modelTopology).layers.map((l) => l.name);
}

/** Layer classes the converter understands (besides InputLayer). */
export const SUPPORTED_LAYERS: readonly string[] = Object.freeze(Object.keys(CONVERTERS));

/**
 * Convert a TF.js layers model to ONNX bytes. The graph input is NCHW float32 with a dynamic
 * batch; outputs are the requested layers (named after them) or the model's own outputs.
 */
export function convertTfjsLayersToOnnx(artifacts: TfjsLayersArtifacts, opts: ConvertOptions = {}): Uint8Array {
  const { layers, outputs: modelOutputs } = readTopology(artifacts.modelTopology);
  const weights = decodeWeights(artifacts);
  const byName = new Map(layers.map((l) => [l.name, l]));
  const pooled = opts.pooledOutputs ?? [];
  const outputs = opts.outputs ?? (pooled.length ? [] : modelOutputs);
  for (const o of [...outputs, ...pooled]) {
    if (!byName.has(o)) {
      throw new MorphoprofError('BAD_MODEL', `Requested output layer ${JSON.stringify(o)} is not in the model`, `Layers near the end: ${layers.slice(-5).map((l) => l.name).join(', ')}`);
    }
  }
  const tensorName = (layer: string, node: number) => (node === 0 ? layer : `${layer}:${node}`);

  // Count readers of each tensor (layer calls + graph outputs), so folding never hides a needed tensor.
  const readers = new Map<string, number>();
  const bump = (name: string) => readers.set(name, (readers.get(name) ?? 0) + 1);
  const needed = neededLayers(layers, [...outputs, ...pooled]);
  for (const l of layers) if (needed.has(l.name)) for (const node of l.inbound_nodes) for (const [src, n] of node) bump(tensorName(src, n));
  for (const o of [...outputs, ...pooled]) bump(o);

  const g = new OnnxGraphBuilder();
  const inputName = opts.inputName ?? 'input';
  const tensors = new Map<string, Tensor>();
  const convs = new Map<string, ConvInfo>();
  let graphInput: { name: string; dims: OnnxDims } | undefined;

  // Layers in model.json are in topological order (Keras writes them so); check as we go.
  for (const layer of layers) {
    if (layer.class_name === 'InputLayer') {
      if (graphInput) throw new MorphoprofError('BAD_MODEL', `Model has more than one input (${layer.name})`, 'Only single-input models are supported');
      const shape: (number | null)[] = (layer.config.batch_input_shape ?? layer.config.batchInputShape).slice(1);
      graphInput = { name: inputName, dims: onnxDims(shape) };
      tensors.set(layer.name, { name: inputName, shape });
      continue;
    }
    if (!needed.has(layer.name)) continue;
    const convert = CONVERTERS[layer.class_name];
    if (!convert) {
      throw new MorphoprofError('BAD_MODEL', `Layer ${layer.name} has class ${layer.class_name}, which the TF.js->ONNX converter does not support`, `Supported layers: ${SUPPORTED_LAYERS.join(', ')}. Otherwise export the model to ONNX with other tools and use the .onnx file`);
    }
    layer.inbound_nodes.forEach((node, n) => {
      const inputs = node.map(([src, srcNode, idx]) => {
        const t = tensors.get(tensorName(src, srcNode));
        if (!t || idx !== 0) throw new MorphoprofError('BAD_MODEL', `Layer ${layer.name} reads ${src}[${srcNode}][${idx}], which is not produced before it`, 'The layer list must be topologically ordered, with single-output layers');
        return t;
      });
      const ctx: Ctx = {
        g,
        layer,
        inputs,
        out: tensorName(layer.name, n),
        convs,
        readers,
        weight: (param, optional) => findWeight(weights, layer.name, param, optional),
      };
      tensors.set(ctx.out, convert(ctx));
    });
  }
  if (!graphInput) throw new MorphoprofError('BAD_MODEL', 'Model has no InputLayer', 'Expected a Keras model with one input');

  const graphOutputs = outputs.map((o) => {
    const t = tensors.get(o)!;
    if (t.name !== o) g.node('Identity', [t.name], o); // e.g. a Dropout layer aliases its input
    return { name: o, dims: onnxDims(t.shape) };
  });
  for (const layer of pooled) {
    const t = tensors.get(layer)!;
    if (t.shape.length === 1) {
      if (t.name !== layer) g.node('Identity', [t.name], layer);
      if (!outputs.includes(layer)) graphOutputs.push({ name: layer, dims: onnxDims(t.shape) });
      continue;
    }
    if (t.shape.length !== 3) throw new MorphoprofError('BAD_MODEL', `Layer ${layer} has shape [${t.shape.join(', ')}], which cannot be pooled`, 'Pick an image layer [H, W, C] or a feature vector');
    const name = pooledOutputName(layer);
    const gap = g.unique(`${name}/pooled`);
    g.node('GlobalAveragePool', [t.name], gap);
    g.node('Flatten', [gap], name, { axis: 1 });
    graphOutputs.push({ name, dims: [null, t.shape[2]!] });
  }
  return g.toBytes({ name: opts.graphName ?? 'tfjs_layers_model', inputs: [graphInput], outputs: graphOutputs, docString: opts.docString, metadata: opts.metadata });
}

/** The layers that `outputs` depend on (walking inbound nodes back to the input). */
function neededLayers(layers: KerasLayer[], outputs: string[]): Set<string> {
  const byName = new Map(layers.map((l) => [l.name, l]));
  const needed = new Set<string>();
  const stack = [...outputs];
  while (stack.length) {
    const name = stack.pop()!;
    if (needed.has(name)) continue;
    needed.add(name);
    for (const node of byName.get(name)?.inbound_nodes ?? []) for (const [src] of node) stack.push(src);
  }
  return needed;
}

/** Keras shape without batch -> ONNX dims with dynamic batch ([H,W,C] -> [N,C,H,W]). */
function onnxDims(shape: (number | null)[]): OnnxDims {
  return shape.length === 3 ? [null, shape[2]!, shape[0]!, shape[1]!] : [null, ...shape];
}

function findWeight(weights: Map<string, { shape: number[]; data: Float32Array }>, layer: string, param: string, optional = false) {
  const exact = weights.get(`${layer}/${param}`);
  if (exact) return exact;
  // Some converters prefix the model scope ("model/conv1/kernel") or repeat the layer name.
  const suffix = `/${layer}/${param}`;
  for (const [name, w] of weights) if (name.endsWith(suffix)) return w;
  if (optional) return undefined;
  const near = [...weights.keys()].filter((n) => n.includes(layer)).slice(0, 6);
  throw new MorphoprofError('BAD_MODEL', `Weight ${layer}/${param} is missing from the weights manifest`, near.length ? `Weights named like the layer: ${near.join(', ')}` : 'The weight shards do not match model.json');
}
