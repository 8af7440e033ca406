/**
 * A small mutable ONNX graph under construction, serialised with `onnx-proto` (the protobufjs
 * bindings of the ONNX schema). Nodes and float initializers stay plain JS objects until
 * `toBytes()`, so a converter can still rewrite them (e.g. fold a BatchNormalization into the
 * Conv before it).
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** Opset 13: supported by every onnxruntime of the last years (1.30 included). */
export const ONNX_OPSET = 13;
/** IR version 7 is the one that goes with opset 13. */
const IR_VERSION = 7;

export type AttrValue = number | number[] | string | { float: number };

export interface GraphNode {
  opType: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
}

export interface FloatInitializer {
  name: string;
  dims: number[];
  data: Float32Array;
}

/** Tensor dims as ONNX sees them; `null` is the dynamic batch dimension. */
export type OnnxDims = (number | null)[];

export interface GraphIO {
  name: string;
  dims: OnnxDims;
}

export class OnnxGraphBuilder {
  readonly nodes: GraphNode[] = [];
  readonly floats = new Map<string, FloatInitializer>();
  private readonly int64s = new Map<string, { dims: number[]; data: BigInt64Array }>();
  private readonly usedNames = new Set<string>();

  /** A node name/tensor name that is not used yet, derived from `base`. */
  unique(base: string): string {
    let name = base;
    for (let i = 1; this.usedNames.has(name); i++) name = `${base}_${i}`;
    this.usedNames.add(name);
    return name;
  }

  node(opType: string, inputs: string[], output: string, attrs: Record<string, AttrValue> = {}): GraphNode {
    const node: GraphNode = { opType, name: this.unique(`${output}/${opType}`), inputs, outputs: [output], attrs };
    this.nodes.push(node);
    return node;
  }

  float(name: string, dims: number[], data: Float32Array): string {
    const unique = this.unique(name);
    this.floats.set(unique, { name: unique, dims, data });
    return unique;
  }

  int64(name: string, values: number[]): string {
    const unique = this.unique(name);
    this.int64s.set(unique, { dims: [values.length], data: BigInt64Array.from(values.map(BigInt)) });
    return unique;
  }

  /** Serialise the whole model. Inputs and outputs are float32 tensors. */
  toBytes(opts: { name: string; inputs: GraphIO[]; outputs: GraphIO[]; docString?: string; metadata?: Record<string, string> }): Uint8Array {
    const valueInfo = (io: GraphIO) => ({
      name: io.name,
      type: {
        tensorType: {
          elemType: onnx.TensorProto.DataType.FLOAT,
          shape: { dim: io.dims.map((d) => (d === null ? { dimParam: 'N' } : { dimValue: d })) },
        },
      },
    });
    const rawBytes = (a: Float32Array | BigInt64Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const initializer = [
      ...[...this.floats.values()].map((t) => ({ name: t.name, dims: t.dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: rawBytes(t.data) })),
      ...[...this.int64s].map(([name, t]) => ({ name, dims: t.dims, dataType: onnx.TensorProto.DataType.INT64, rawData: rawBytes(t.data) })),
    ];
    const model = {
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: ONNX_OPSET }],
      producerName: 'morphoprof',
      docString: opts.docString ?? '',
      metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: {
        name: opts.name,
        node: this.nodes.map(encodeNode),
        initializer,
        input: opts.inputs.map(valueInfo),
        output: opts.outputs.map(valueInfo),
      },
    };
    return onnx.ModelProto.encode(model).finish();
  }
}

function encodeNode(n: GraphNode) {
  const T = onnx.AttributeProto.AttributeType;
  const attribute = Object.entries(n.attrs).map(([name, v]) => {
    if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
    if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
    if (typeof v === 'object') return { name, type: T.FLOAT, f: v.float };
    return { name, type: T.INT, i: v };
  });
  return { opType: n.opType, name: n.name, input: n.inputs, output: n.outputs, attribute };
}
