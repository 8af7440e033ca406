/*
 * morphoprof's per-image kernels in C (Node-API), used when built; src/image/resample.ts holds the
 * same algorithm in TypeScript and is used otherwise. Both do the same IEEE double operations in
 * the same order (no fast-math, no FMA contraction), so their results are bitwise equal: features
 * do not depend on whether this addon was built. Why C: the area downsample of a 1280x1024 field
 * runs once per image beside the network, and on a 2-core machine every millisecond of CPU it
 * takes is taken from inference (JS: 2-3 ms per image; C: a fraction of that).
 */
#include <math.h>
#include <node_api.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  int *start, *end;
  double *first, *last, *norm;
} cover_t;

static int cover_make(cover_t *c, int src, int dst) {
  c->start = malloc(sizeof(int) * dst);
  c->end = malloc(sizeof(int) * dst);
  c->first = malloc(sizeof(double) * dst);
  c->last = malloc(sizeof(double) * dst);
  c->norm = malloc(sizeof(double) * dst);
  if (!c->start || !c->end || !c->first || !c->last || !c->norm) return 0;
  double scale = (double)src / (double)dst;
  for (int i = 0; i < dst; i++) {
    double a = i * scale;
    double b = fmin((double)src, (i + 1) * scale);
    int s = (int)fmin((double)(src - 1), floor(a));
    int e = (int)fmax((double)(s + 1), fmin((double)src, ceil(b)));
    c->start[i] = s;
    c->end[i] = e;
    c->first[i] = fmin(b, (double)(s + 1)) - fmax(a, (double)s);
    c->last[i] = e - 1 > s ? fmin(b, (double)e) - fmax(a, (double)(e - 1)) : 0;
    c->norm[i] = 1 / (b - a);
  }
  return 1;
}

static void cover_free(cover_t *c) {
  free(c->start);
  free(c->end);
  free(c->first);
  free(c->last);
  free(c->norm);
}

#define HPASS(T)                                                        \
  for (int y = 0; y < sh; y++) {                                        \
    const T *row = (const T *)data + (size_t)y * sw;                    \
    double *out = rows + (size_t)y * w;                                 \
    for (int x = 0; x < w; x++) {                                       \
      int s = cx.start[x], e = cx.end[x] - 1;                           \
      double acc = cx.first[x] * (double)row[s];                        \
      if (e > s) {                                                      \
        for (int k = s + 1; k < e; k++) acc += (double)row[k];          \
        acc += cx.last[x] * (double)row[e];                             \
      }                                                                 \
      out[x] = acc * cx.norm[x];                                        \
    }                                                                   \
  }

/* A typed-array argument of a pixel type the kernels take (Uint8, Uint16, Float32, Float64); on
   anything else a TypeError naming the argument is thrown and false returned. */
static bool pixels_arg(napi_env env, napi_value v, const char *message, napi_typedarray_type *type, size_t *n, void **data) {
  bool is_ta = false;
  napi_is_typedarray(env, v, &is_ta);
  if (is_ta) napi_get_typedarray_info(env, v, type, n, data, NULL, NULL);
  if (!is_ta || (*type != napi_uint8_array && *type != napi_uint16_array && *type != napi_float32_array && *type != napi_float64_array)) {
    napi_throw_type_error(env, NULL, message);
    return false;
  }
  return true;
}

#define PIXEL_TYPES "a Uint8Array, Uint16Array, Float32Array or Float64Array"

static napi_value area_resize(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5) {
    napi_throw_type_error(env, NULL, "areaResize(data, srcWidth, srcHeight, width, height)");
    return NULL;
  }
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (!pixels_arg(env, argv[0], "data must be " PIXEL_TYPES, &type, &length, &data)) return NULL;
  int32_t sw, sh, w, h;
  napi_get_value_int32(env, argv[1], &sw);
  napi_get_value_int32(env, argv[2], &sh);
  napi_get_value_int32(env, argv[3], &w);
  napi_get_value_int32(env, argv[4], &h);
  if (sw < 1 || sh < 1 || w < 1 || h < 1 || length < (size_t)sw * sh) {
    napi_throw_range_error(env, NULL, "sizes must be positive and data must hold srcWidth*srcHeight values");
    return NULL;
  }
  cover_t cx, cy;
  /* scratch kept per thread (worker threads may each load the addon): a fresh 1.8 MB block per
     image would be mapped and zeroed by the kernel every time */
  static _Thread_local double *scratch = NULL;
  static _Thread_local size_t scratch_len = 0;
  size_t need = (size_t)w * sh + (size_t)w;
  if (scratch_len < need) {
    free(scratch);
    scratch = malloc(sizeof(double) * need);
    scratch_len = scratch ? need : 0;
  }
  double *rows = scratch;
  double *acc = scratch ? scratch + (size_t)w * sh : NULL;
  if (!rows || !cover_make(&cx, sw, w) || !cover_make(&cy, sh, h)) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  if (type == napi_uint8_array) { HPASS(unsigned char) }
  else if (type == napi_uint16_array) { HPASS(unsigned short) }
  else if (type == napi_float32_array) { HPASS(float) }
  else { HPASS(double) }

  napi_value buffer, result = NULL;
  float *out = NULL;
  if (argc >= 6) {
    /* the caller's Float32Array of w*h values (reused: fresh memory costs page faults) */
    bool dest = false;
    napi_is_typedarray(env, argv[5], &dest);
    napi_typedarray_type dtype;
    size_t dlen = 0;
    if (dest) napi_get_typedarray_info(env, argv[5], &dtype, &dlen, (void **)&out, NULL, NULL);
    if (!dest || dtype != napi_float32_array || dlen != (size_t)w * h) {
      cover_free(&cx);
      cover_free(&cy);
      napi_throw_type_error(env, NULL, "out must be a Float32Array of width*height values");
      return NULL;
    }
    result = argv[5];
  } else {
    napi_create_arraybuffer(env, sizeof(float) * (size_t)w * h, (void **)&out, &buffer);
  }
  for (int y = 0; y < h; y++) {
    int s = cy.start[y], e = cy.end[y] - 1;
    double wf = cy.first[y];
    const double *rs = rows + (size_t)s * w;
    for (int x = 0; x < w; x++) acc[x] = wf * rs[x];
    for (int r = s + 1; r < e; r++) {
      const double *rr = rows + (size_t)r * w;
      for (int x = 0; x < w; x++) acc[x] += rr[x];
    }
    if (e > s) {
      double wl = cy.last[y];
      const double *re = rows + (size_t)e * w;
      for (int x = 0; x < w; x++) acc[x] += wl * re[x];
    }
    double n = cy.norm[y];
    float *o = out + (size_t)y * w;
    for (int x = 0; x < w; x++) o[x] = (float)(acc[x] * n);
  }
  cover_free(&cx);
  cover_free(&cy);
  if (!result) napi_create_typedarray(env, napi_float32_array, (size_t)w * h, buffer, 0, &result);
  return result;
}

/* ---- exact order statistics: the same algorithm as src/util/select.ts (histogram over [min, max],
   then only the wanted bin sorted), so the same values ---- */

#define BINS 4096

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

#define AS_DOUBLE(T) ((const T *)data)[i]

static double value_at(const void *data, napi_typedarray_type type, size_t i) {
  switch (type) {
    case napi_uint8_array: return AS_DOUBLE(unsigned char);
    case napi_uint16_array: return AS_DOUBLE(unsigned short);
    case napi_float32_array: return AS_DOUBLE(float);
    default: return AS_DOUBLE(double);
  }
}

static napi_value values_at_ranks(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool is_arr = false;
  if (argc == 2) napi_is_array(env, argv[1], &is_arr);
  if (!is_arr) {
    napi_throw_type_error(env, NULL, "valuesAtRanks(data, ranks[])");
    return NULL;
  }
  napi_typedarray_type type;
  size_t n;
  void *data;
  if (!pixels_arg(env, argv[0], "data must be " PIXEL_TYPES, &type, &n, &data)) return NULL;
  uint32_t nr;
  napi_get_array_length(env, argv[1], &nr);
  napi_value result;
  napi_create_array_with_length(env, nr, &result);
  double min = INFINITY, max = -INFINITY;
  for (size_t i = 0; i < n; i++) {
    double v = value_at(data, type, i);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (n == 0 || !(max > min)) {
    for (uint32_t j = 0; j < nr; j++) {
      napi_value v;
      napi_create_double(env, n == 0 ? NAN : min, &v);
      napi_set_element(env, result, j, v);
    }
    return result;
  }
  double k = (BINS - 1) / (max - min);
  static _Thread_local unsigned int counts[BINS];
  memset(counts, 0, sizeof(counts));
  for (size_t i = 0; i < n; i++) counts[(int)floor((value_at(data, type, i) - min) * k)]++;
  for (uint32_t j = 0; j < nr; j++) {
    napi_value rv;
    double rank_d;
    napi_get_element(env, argv[1], j, &rv);
    napi_get_value_double(env, rv, &rank_d);
    size_t r = rank_d < 0 ? 0 : (size_t)rank_d > n - 1 ? n - 1 : (size_t)rank_d;
    int bin = 0;
    size_t below = 0;
    while (below + counts[bin] <= r) below += counts[bin++];
    double *in_bin = malloc(sizeof(double) * (counts[bin] ? counts[bin] : 1));
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
      double v = value_at(data, type, i);
      if ((int)floor((v - min) * k) == bin) in_bin[m++] = v;
    }
    qsort(in_bin, m, sizeof(double), cmp_double);
    napi_value v;
    napi_create_double(env, in_bin[r - below], &v);
    free(in_bin);
    napi_set_element(env, result, j, v);
  }
  return result;
}

/* sum[i] += data[i]: the running sum of a plate's images for its illumination function */
static napi_value accumulate(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const char *usage = "accumulate(sum: Float64Array, data: " PIXEL_TYPES " of the same length)";
  if (argc != 2) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  napi_typedarray_type st, dt;
  size_t sn = 0, dn = 0;
  double *sum = NULL;
  void *data = NULL;
  if (!pixels_arg(env, argv[0], usage, &st, &sn, (void **)&sum) || !pixels_arg(env, argv[1], usage, &dt, &dn, &data)) return NULL;
  if (st != napi_float64_array || sn != dn) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  if (dt == napi_uint16_array) for (size_t i = 0; i < sn; i++) sum[i] += ((const unsigned short *)data)[i];
  else if (dt == napi_uint8_array) for (size_t i = 0; i < sn; i++) sum[i] += ((const unsigned char *)data)[i];
  else if (dt == napi_float32_array) for (size_t i = 0; i < sn; i++) sum[i] += ((const float *)data)[i];
  else for (size_t i = 0; i < sn; i++) sum[i] += ((const double *)data)[i];
  return NULL;
}


/* A typed array argument of the given type (NULL and a thrown TypeError otherwise). */
static void *typed_arg(napi_env env, napi_value v, napi_typedarray_type want, size_t *n, const char *usage) {
  bool is_ta = false;
  napi_typedarray_type type;
  void *data = NULL;
  napi_is_typedarray(env, v, &is_ta);
  if (is_ta) napi_get_typedarray_info(env, v, &type, n, &data, NULL, NULL);
  if (!is_ta || type != want) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  return data ? data : (void *)"";
}

#define COOC_KEYS 65536

/*
 * Co-occurrence counting of one object's pixels (src/cells/texture.ts countPairs is the
 * TypeScript twin; integer counts, so the tables are identical): for entries i0..i1 of `pixel`,
 * each direction d whose bit is set in mask[i] and whose partner p + shift[d] has a nonzero gray
 * level, pair (lo, hi) is counted in table d at lo x size + hi, listed in tch on its first count,
 * nt[d] counting the listed pairs. With `nucleus` (not null), the pair is also counted in table
 * 4 + d when both pixels are in a nucleus (nucleus != 0) and in table 8 + d when neither is.
 */
static napi_value cooccurrence(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const char *usage = "cooccurrence(pixel: Int32Array, i0, i1, mask: Uint8Array, gray: Uint8Array, nucleus: Int32Array | null, "
                      "shift: Int32Array(4), size, cnt: Int32Array, tch: Int32Array, nt: Int32Array)";
  if (argc != 11) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  size_t npix, nmask, ngray, nnuc = 0, nshift, ncnt, ntch, nnt;
  const int32_t *pixel = typed_arg(env, argv[0], napi_int32_array, &npix, usage);
  if (!pixel) return NULL;
  const uint8_t *mask = typed_arg(env, argv[3], napi_uint8_array, &nmask, usage);
  if (!mask) return NULL;
  const uint8_t *gray = typed_arg(env, argv[4], napi_uint8_array, &ngray, usage);
  if (!gray) return NULL;
  napi_valuetype nt_type;
  napi_typeof(env, argv[5], &nt_type);
  const int32_t *nucleus = NULL;
  if (nt_type != napi_null) {
    nucleus = typed_arg(env, argv[5], napi_int32_array, &nnuc, usage);
    if (!nucleus) return NULL;
  }
  const int32_t *shift = typed_arg(env, argv[6], napi_int32_array, &nshift, usage);
  if (!shift) return NULL;
  int32_t *cnt = typed_arg(env, argv[8], napi_int32_array, &ncnt, usage);
  if (!cnt) return NULL;
  int32_t *tch = typed_arg(env, argv[9], napi_int32_array, &ntch, usage);
  if (!tch) return NULL;
  int32_t *nt = typed_arg(env, argv[10], napi_int32_array, &nnt, usage);
  if (!nt) return NULL;
  int32_t i0, i1, size;
  napi_get_value_int32(env, argv[1], &i0);
  napi_get_value_int32(env, argv[2], &i1);
  napi_get_value_int32(env, argv[7], &size);
  size_t tables = nucleus ? 12 : 4;
  if (i0 < 0 || i1 < i0 || (size_t)i1 > npix || (size_t)i1 > nmask || nshift < 4 || size < 1 || size > 256 || ncnt < tables * COOC_KEYS ||
      ntch < tables * COOC_KEYS || nnt < tables || (nucleus && nnuc != ngray)) {
    napi_throw_range_error(env, NULL, "cooccurrence: i0..i1 must lie in pixel and mask, size in 1..256, shift hold 4 offsets, "
                                      "cnt/tch hold 4 (12 with nucleus) tables of 65536, nucleus as long as gray");
    return NULL;
  }
  for (int32_t i = i0; i < i1; i++) {
    int bits = mask[i];
    if (bits == 0) continue;
    int64_t p = pixel[i];
    if (p < 0 || (size_t)p >= ngray) goto out_of_range;
    int a = gray[p];
    if (a == 0) continue;
    int an = nucleus ? nucleus[p] != 0 : 0;
    for (int d = 0; d < 4; d++) {
      if (((bits >> d) & 1) == 0) continue;
      int64_t q = p + shift[d];
      if (q < 0 || (size_t)q >= ngray) goto out_of_range;
      int b = gray[q];
      if (b == 0) continue;
      int lo = a < b ? a : b;
      int hi = a + b - lo;
      if (hi >= size) goto out_of_range;
      int off = lo * size + hi;
      int ab = (lo << 8) | hi;
      int32_t *c = cnt + (size_t)d * COOC_KEYS + off;
      if ((*c)++ == 0) tch[(size_t)d * COOC_KEYS + nt[d]++] = ab;
      if (nucleus && an == (nucleus[q] != 0)) {
        int t = (an ? 4 : 8) + d;
        c = cnt + (size_t)t * COOC_KEYS + off;
        if ((*c)++ == 0) tch[(size_t)t * COOC_KEYS + nt[t]++] = ab;
      }
    }
  }
  return NULL;
out_of_range:
  napi_throw_range_error(env, NULL, "cooccurrence: a pixel, its partner or its gray level (>= size) is out of range");
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "areaResize", NAPI_AUTO_LENGTH, area_resize, NULL, &fn);
  napi_set_named_property(env, exports, "areaResize", fn);
  napi_create_function(env, "accumulate", NAPI_AUTO_LENGTH, accumulate, NULL, &fn);
  napi_set_named_property(env, exports, "accumulate", fn);
  napi_create_function(env, "valuesAtRanks", NAPI_AUTO_LENGTH, values_at_ranks, NULL, &fn);
  napi_set_named_property(env, exports, "valuesAtRanks", fn);
  napi_create_function(env, "cooccurrence", NAPI_AUTO_LENGTH, cooccurrence, NULL, &fn);
  napi_set_named_property(env, exports, "cooccurrence", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
