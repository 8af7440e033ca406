/**
 * Node hosts: count co-occurrences with the C kernel of native/kernels.c when the addon is built
 * (and MORPHOPROF_NATIVE is not 0). Importing this module registers it; the measurement modules
 * themselves import nothing Node-specific and run their TypeScript twin otherwise (bitwise-equal
 * counts: test/cells/measure-native.test.ts).
 */
import { native } from '../native.js';
import { useCooccurrenceKernel } from './texture.js';

useCooccurrenceKernel(native?.cooccurrence ?? null);

/** Whether the C co-occurrence kernel is in use. */
export const nativeCooccurrence = native !== null;
