/**
 * The Node side of the int8 quantizer (quantize.ts is the portable core): calibration runs on
 * onnxruntime-node, and quantized files are cached on disk by a hash of what makes them.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { checkCalibration, quantizeKeyText, quantizeOnnxWith, type CalibrationRuntime, type QuantizeOptions, type QuantizeReport } from './quantize.js';
import { cacheDirectory, writeFileAtomic } from './registry.js';

/** Calibration sessions on onnxruntime-node. */
export const nodeCalibrationRuntime: CalibrationRuntime = {
  async open(bytes, opts) {
    const session = await ort.InferenceSession.create(bytes, { ...opts, graphOptimizationLevel: 'basic' });
    return {
      inputName: session.inputNames[0]!,
      async run(input, dims, outputs) {
        const result = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', input, [...dims]) }, [...outputs]);
        return Object.fromEntries(outputs.map((o) => [o, result[o]!.data as Float32Array]));
      },
      release: () => session.release(),
    };
  },
};

/** `quantizeOnnxWith` on onnxruntime-node. */
export function quantizeOnnx(bytes: Uint8Array, opts: QuantizeOptions, label = 'model'): Promise<{ bytes: Uint8Array; report: QuantizeReport }> {
  return quantizeOnnxWith(nodeCalibrationRuntime, bytes, opts, label);
}

/**
 * Path of the int8 version of an fp32 ONNX file, quantized on first use and cached by
 * (fp32 file content, quantizer version, calibration method and images).
 */
export async function ensureQuantizedOnnx(fp32Path: string, opts: QuantizeOptions & { cacheDir?: string }): Promise<string> {
  checkCalibration(opts);
  const bytes = readFileSync(fp32Path);
  const n = opts.calibrationCount * 3 * opts.inputSize * opts.inputSize;
  const calib = opts.calibration.subarray(0, n);
  const method = opts.method ?? 'minmax';
  const key = createHash('sha256')
    .update(bytes)
    .update(quantizeKeyText(opts))
    .update(new Uint8Array(calib.buffer, calib.byteOffset, calib.byteLength))
    .digest('hex')
    .slice(0, 16);
  const file = path.join(cacheDirectory(opts.cacheDir), `${path.basename(fp32Path, '.onnx')}-int8-${method}-${key}.onnx`);
  if (existsSync(file)) return file;
  const { bytes: q } = await quantizeOnnx(bytes, opts, fp32Path);
  await writeFileAtomic(file, q);
  return file;
}
