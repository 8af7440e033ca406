/**
 * Node hosts: the segmentation blurs, the seeded watershed and the threshold histograms run in C
 * (native/kernels.c segBinomialBlur, segBoxBlur, segWatershed, segHistogram) when the addon is
 * built (and MORPHOPROF_NATIVE is not 0). Importing this module registers them; the segmentation
 * modules import nothing Node-specific and run their TypeScript twin otherwise (bitwise-equal
 * results: test/cells/segment-native.test.ts). The cells worker and bench/segment import it.
 */
import { native } from '../native.js';
import { useBlurKernel } from './filters.js';
import { useHistogramKernel } from './threshold.js';
import { useWatershedKernel } from './watershed.js';

const binomial = native?.segBinomialBlur;
const box = native?.segBoxBlur;
useBlurKernel(binomial && box ? { binomial, box } : null);

useWatershedKernel(native?.segWatershed ?? null);
useHistogramKernel(native?.segHistogram ?? null);

/** Whether the segmentation blurs run in C. */
export const nativeBlur = binomial !== undefined && box !== undefined;
/** Whether the seeded watershed runs in C. */
export const nativeWatershed = native?.segWatershed !== undefined;
/** Whether histograms (of thresholds) are counted in C. */
export const nativeHistogram = native?.segHistogram !== undefined;
