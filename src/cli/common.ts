import { Option } from 'commander';
import type { NucleiOptions } from '../cells/types.js';
import { invalidParameter } from '../errors.js';
import { DEFAULT_SHARD_SIZE } from '../embed/store.js';

/** Options shared by the commands that read a screen. */
export const screenOptions = [
  () => new Option('--metadata <csv>', 'image table: BBBC021_v1_image.csv or a CellProfiler LoadData CSV (for OME-Zarr plates: the platemap)').makeOptionMandatory(),
  () => new Option('--images <root>', 'folder the table\'s PathName columns are relative to; or OME-Zarr plates: a.zarr,b.zarr or a folder of *.zarr').makeOptionMandatory(),
  () => new Option('--moa <csv>', 'MOA table (compound,concentration,moa), e.g. BBBC021_v1_moa.csv'),
  () => new Option('--controls <compound>', 'negative-control compound').default('DMSO'),
];

export function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw invalidParameter(name, 'a positive integer', value);
    return n;
  };
}

/** Print one line for humans on stderr, keeping stdout for results. */
export function note(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Options that decide how fields become features (shared by embed, run and the queue). */
export const embedOptions = [
  () => new Option('--model <name|file.onnx>', 'network: a name from `morphoprof models list`, or your own ONNX file').default('resnet50'),
  () => new Option('--layer <name>', 'hidden layer of a built-in network to use (global-average-pooled) as the embedding'),
  () => new Option('--precision <p>', 'inference precision').choices(['fp32', 'int8']).default('fp32'),
  () => new Option('--channels <mode>', 'grey: each stain alone, embeddings concatenated; rgb: one pass with --rgb-mapping').choices(['grey', 'rgb']).default('grey'),
  () => new Option('--rgb-mapping <r,g,b>', 'stains mapped to R,G,B in rgb mode (default: the first three, e.g. DAPI,Tubulin,Actin)').argParser(rgbMapping),
  () => new Option('--illum <dir|auto>', 'illumination functions folder (morphoprof illum), or auto to compute them into <out>/illum'),
  () => new Option('--input-size <px>', 'your ONNX file: square input size').argParser(positiveInt('--input-size')),
  () => new Option('--preprocess <mode>', 'your ONNX file: pixel preprocessing').choices(['caffe', 'tf', 'torch']),
  () => new Option('--output <name>', 'your ONNX file: the output node holding the embedding'),
  () => new Option('--batch-size <n>', 'fields per inference batch (int8: split between its two sessions, one per core)').default(8).argParser(positiveInt('--batch-size')),
  () => new Option('--shard-size <n>', 'fields per committed shard of the feature store').default(DEFAULT_SHARD_SIZE).argParser(positiveInt('--shard-size')),
];

function rgbMapping(value: string): [string, string, string] {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.length !== 3 || parts.some((p) => !p)) throw invalidParameter('--rgb-mapping', 'three stain names separated by commas', value);
  return parts as [string, string, string];
}

/** The embedding options of a parsed command, as library options. */
export function embedSettingsFrom(o: Record<string, unknown>) {
  return {
    model: o.model as string,
    layer: o.layer as string | undefined,
    precision: o.precision as 'fp32' | 'int8',
    channels: o.channels as 'grey' | 'rgb',
    rgbMapping: o.rgbMapping as [string, string, string] | undefined,
    illum: o.illum as string | undefined,
    inputSize: o.inputSize as number | undefined,
    preprocess: o.preprocess as 'caffe' | 'tf' | 'torch' | undefined,
    output: o.output as string | undefined,
    batchSize: o.batchSize as number,
    shardSize: o.shardSize as number,
  };
}

/** The screen options of a parsed command, as library options. */
export function screenArgs(o: Record<string, unknown>): { metadata: string; images: string; moa?: string; controlCompound: string } {
  return { metadata: o.metadata as string, images: o.images as string, moa: o.moa as string | undefined, controlCompound: o.controls as string };
}

/** `a, b,c` -> ['a', 'b', 'c'] */
export const commaList = (value: string): string[] => value.split(',').map((s) => s.trim()).filter(Boolean);

function diameterRange(value: string): [number, number] {
  const parts = value.split(',').map((s) => Number(s.trim()));
  if (parts.length !== 2 || parts.some((n) => !Number.isFinite(n) || n <= 0) || parts[0]! > parts[1]!)
    throw invalidParameter('--diameter', 'MIN,MAX nucleus diameters in pixels, e.g. 15,60', value);
  return parts as [number, number];
}

/** Options of the cells stage (segment, and embed/run with --features classical). */
export const cellOptions = [
  () => new Option('--nuclei-channel <stain>', 'stain the nuclei are found on (default: the channel named like DAPI/DNA/Hoechst, else the first)'),
  () => new Option('--cell-channel <stain|none>', 'stain the cell bodies are grown on from the nuclei (default: the channel named like Actin, else none)'),
  () => new Option('--diameter <min,max>', 'typical nucleus diameter range in pixels; objects outside are dropped').argParser(diameterRange),
  () => new Option('--threshold <method>', 'global threshold of the nuclei stain').choices(['li', 'otsu']),
  () => new Option('--declump <method>', 'how touching nuclei are split').choices(['intensity', 'shape', 'none']),
  () => new Option('--discard-border', 'drop nuclei touching the image border'),
  () => new Option('--threads <n>', 'worker threads for segmentation and measurement (default: one per core)').argParser(positiveInt('--threads')),
];

function cropInput(value: string): 'native' | number {
  if (value === 'native') return 'native';
  const n = Number(value);
  if (!Number.isInteger(n) || n < 32) throw invalidParameter('--crop-input', 'native (the box size) or a network input size in px, e.g. 224', value);
  return n;
}

/** Options of embed and run that choose classical features or single-cell crops instead of whole fields. */
export const featureOptions = [
  () => new Option('--features <kind>', 'deep: a network embeds each field (the paper); classical: nuclei and cells found and measured, CellProfiler-style').choices(['deep', 'classical']).default('deep'),
  () => new Option('--mode <what>', 'deep: fields = whole fields (the paper); cells = a box around every nucleus embedded, cells averaged per field (DeepProfiler)').choices(['fields', 'cells']).default('fields'),
  () => new Option('--box-size <px>', 'cells: side of the box around each nucleus').default(96).argParser(positiveInt('--box-size')),
  () => new Option('--crop-input <size|native>', 'cells: network input of a crop: the network\'s own size (default, 224 for ResNet-50; crops enlarged bilinearly) or native (the box size)').argParser(cropInput),
  () => new Option('--locations <csv|parquet>', 'cells: nucleus centres per field (Metadata_Plate/Well/Site, Nuclei_Location_Center_X/Y) instead of finding nuclei'),
  () => new Option('--crop-batch <n>', 'cells: crop-stain images per network batch (default ~24 at 224 px, more when smaller)').argParser(positiveInt('--crop-batch')),
  () => new Option('--cell-aggregate <method>', 'classical and cells: how a field\'s objects are summarized').choices(['mean', 'median']).default('mean'),
  () => new Option('--keep-cells', 'classical and cells: also write one row per object to <out>/cells/'),
  ...cellOptions,
];

/** The single-cell deep options of a parsed command (`--mode cells`), as library options. */
export function cellDeepFrom(o: Record<string, unknown>) {
  return {
    boxSize: o.boxSize as number | undefined,
    ...(o.cropInput !== undefined ? { cropInput: o.cropInput as 'native' | number } : {}),
    aggregate: (o.cellAggregate as 'mean' | 'median' | undefined) ?? 'mean',
    locations: (o.locations as string | undefined) ?? null,
    ...(o.cropBatch !== undefined ? { cropBatch: o.cropBatch as number } : {}),
    segmentation: cellSettingsFrom(o),
  };
}

/** The cells options of a parsed command, as library settings (unset ones left to the defaults). */
export function cellSettingsFrom(o: Record<string, unknown>) {
  const nuclei: Record<string, unknown> = {};
  if (o.threshold) nuclei.threshold = o.threshold;
  if (o.declump) nuclei.declump = o.declump;
  if (o.discardBorder) nuclei.discardBorder = true;
  const cellChannel = o.cellChannel === undefined ? undefined : o.cellChannel === 'none' ? null : (o.cellChannel as string);
  return {
    ...(o.nucleiChannel ? { nucleiChannel: o.nucleiChannel as string } : {}),
    ...(cellChannel !== undefined ? { cellChannel } : {}),
    ...(o.diameter ? { diameter: o.diameter as [number, number] } : {}),
    ...(o.cellAggregate ? { aggregate: o.cellAggregate as 'mean' | 'median' } : {}),
    ...(o.illum && o.illum !== 'auto' ? { illum: o.illum as string } : {}),
    nuclei: nuclei as Partial<NucleiOptions>,
  };
}
