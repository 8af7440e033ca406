/**
 * Node hosts: index label images, measure shapes' pixel passes, make texture neighbour masks, gather stain values and gray levels, count co-occurrences and compute intensity statistics
 * and sum co-occurrence tables with the C kernels of native/kernels.c when the addon is built
 * (and MORPHOPROF_NATIVE is not 0). Importing this module registers it; the measurement modules
 * themselves import nothing Node-specific and run their TypeScript twin otherwise (bitwise-equal
 * results: test/cells/measure-native.test.ts).
 */
import { native } from '../native.js';
import { useGatherKernel, useIntensityKernel } from './intensity.js';
import { useIndexKernel, useShapeKernel } from './shape.js';
import { useCooccurrenceKernel, useHaralickKernel, useMaskKernel } from './texture.js';

useCooccurrenceKernel(native?.cooccurrence ?? null);
useHaralickKernel(native?.haralickSums ?? null);
useIntensityKernel(native?.intensityStats ?? null);
useGatherKernel(native?.gatherValues ?? null);
useIndexKernel(native?.labelCounts && native.labelFill ? { counts: native.labelCounts, fill: native.labelFill } : null);
useShapeKernel(native?.shapePixels ?? null);
useMaskKernel(native?.neighbourMask ?? null);

/** Whether the C kernels are in use. */
export const nativeCooccurrence = native?.cooccurrence !== undefined;
export const nativeIntensity = native?.intensityStats !== undefined && native.gatherValues !== undefined;
