/*
 * The whole-field kernels (native/field.h) as a WebAssembly module for the page: the same C the
 * Node addon runs, compiled by web/build.mjs (clang --target=wasm32-wasi -msimd128, wasi-libc for
 * malloc and qsort; the module imports nothing). Pointers are offsets into the module's memory;
 * src/wasm-kernels.ts copies arrays in and out and gives the FieldKernels of src/native.ts.
 */
#include "field.h"

#define EXPORT(name) __attribute__((export_name(name)))

EXPORT("alloc") void *mp_alloc(size_t bytes) { return malloc(bytes); }
EXPORT("release") void mp_release(void *p) { free(p); }

EXPORT("areaResize") int mp_area_resize(int type, const void *data, int sw, int sh, int w, int h, float *out) {
  return area_resize_core(type, data, sw, sh, w, h, out);
}

EXPORT("percentilesF32") int mp_percentiles_f32(const float *data, size_t n, const double *ranks, size_t nr, double *out) {
  return nr <= 16 && percentiles_f32_core(data, n, ranks, nr, out);
}

EXPORT("scaleTo255F32") void mp_scale_to_255_f32(float *data, size_t n, double lo, double hi) { scale_to_255_core(data, n, lo, hi); }

EXPORT("preprocessF32") void mp_preprocess_f32(float *dst, size_t plane, const float *s0, const float *s1, const float *s2, const double *mean, const double *scale) {
  const float *const src[3] = {s0, s1, s2};
  preprocess_core(dst, plane, src, mean, scale);
}
