/*
 * morphoprof's per-image kernels in C (Node-API), used when built; the whole-field ones live in
 * native/field.h, shared with the page's WebAssembly build (native/wasm.c). src/image/resample.ts
 * holds the same algorithm in TypeScript and is used otherwise. Both do the same IEEE double operations in
 * the same order (no fast-math, no FMA contraction), so their results are bitwise equal: features
 * do not depend on whether this addon was built. Why C: the area downsample of a 1280x1024 field
 * runs once per image beside the network, and on a 2-core machine every millisecond of CPU it
 * takes is taken from inference (JS: 2-3 ms per image; C: a fraction of that).
 */
#include <math.h>
#include <node_api.h>
#include <stdlib.h>
#include <string.h>

#include "field.h"


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
      napi_throw_type_error(env, NULL, "out must be a Float32Array of width*height values");
      return NULL;
    }
    result = argv[5];
  } else {
    napi_create_arraybuffer(env, sizeof(float) * (size_t)w * h, (void **)&out, &buffer);
  }
  if (!area_resize_core(type == napi_uint8_array ? PIXELS_U8 : type == napi_uint16_array ? PIXELS_U16 : type == napi_float32_array ? PIXELS_F32 : PIXELS_F64, data, sw, sh, w, h, out)) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  if (!result) napi_create_typedarray(env, napi_float32_array, (size_t)w * h, buffer, 0, &result);
  return result;
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
  /* the lists' lengths and the shifts in locals, the arrays restrict: no store to cnt or tch makes
     the compiler reload them */
  int32_t n[12];
  int64_t sh[4] = {shift[0], shift[1], shift[2], shift[3]};
  for (size_t t = 0; t < tables; t++) n[t] = nt[t];
  const int32_t *restrict px = pixel;
  const uint8_t *restrict mk = mask;
  const uint8_t *restrict gr = gray;
  const int32_t *restrict nu = nucleus;
  int32_t *restrict ct = cnt;
  int32_t *restrict tl = tch;
  int bad = 0;
  for (int32_t i = i0; i < i1; i++) {
    int bits = mk[i];
    if (bits == 0) continue;
    int64_t p = px[i];
    if (p < 0 || (size_t)p >= ngray) { bad = 1; break; }
    int a = gr[p];
    if (a == 0) continue;
    int an = nu ? nu[p] != 0 : 0;
    for (int d = 0; d < 4; d++) {
      if (((bits >> d) & 1) == 0) continue;
      int64_t q = p + sh[d];
      if (q < 0 || (size_t)q >= ngray) { bad = 1; break; }
      int b = gr[q];
      if (b == 0) continue;
      int lo = a < b ? a : b;
      int hi = a + b - lo;
      if (hi >= size) { bad = 1; break; }
      int off = lo * size + hi;
      int ab = (lo << 8) | hi;
      int32_t *c = ct + (size_t)d * COOC_KEYS + off;
      if ((*c)++ == 0) tl[(size_t)d * COOC_KEYS + n[d]++] = ab;
      if (nu && an == (nu[q] != 0)) {
        int t = (an ? 4 : 8) + d;
        c = ct + (size_t)t * COOC_KEYS + off;
        if ((*c)++ == 0) tl[(size_t)t * COOC_KEYS + n[t]++] = ab;
      }
    }
    if (bad) break;
  }
  for (size_t t = 0; t < tables; t++) nt[t] = n[t];
  if (!bad) return NULL;
  napi_throw_range_error(env, NULL, "cooccurrence: a pixel, its partner or its gray level (>= size) is out of range");
  return NULL;
}

/*
 * Per-object intensity statistics of one stain: the C twin of measureIntensity in
 * src/cells/intensity.ts (same double operations in the same order, same bucketed selection of
 * quartiles and MAD), except the mass displacement, which needs Math.hypot: the object's sums of
 * x, p, x v and p v go to moments[4 (k-1) ..] and TypeScript finishes it.
 */
typedef struct {
  int32_t *counts, *slot_of;
  size_t cap;
  double *scratch;
  size_t scap;
  int last;
  double scale;
} ostats_t;

static _Thread_local ostats_t os_state = {NULL, NULL, 0, NULL, 0, 0, 0};

static int os_prepare(ostats_t *o, int n, double lo, double hi, double *scale) {
  int buckets = n >> 2;
  if (buckets < 1) buckets = 1;
  if (o->cap < (size_t)buckets) {
    size_t cap = (size_t)buckets > 2 * o->cap ? (size_t)buckets : 2 * o->cap;
    int32_t *c = realloc(o->counts, sizeof(int32_t) * cap);
    if (!c) return 0;
    o->counts = c;
    int32_t *s = realloc(o->slot_of, sizeof(int32_t) * cap);
    if (!s) return 0;
    o->slot_of = s;
    for (size_t i = 0; i < cap; i++) o->slot_of[i] = -1;
    o->cap = cap;
  }
  memset(o->counts, 0, sizeof(int32_t) * buckets);
  o->last = buckets - 1;
  o->scale = buckets / (hi - lo);
  *scale = o->scale;
  return 1;
}

static inline int os_bucket(double v, double lo, double scale, int last) {
  double t = (v - lo) * scale;
  if (!(t >= 0)) return 0;
  return t < last ? (int)t : last;
}

static inline void dswap(double *a, int i, int j) {
  double t = a[i];
  a[i] = a[j];
  a[j] = t;
}

static void multi_select(double *a, int lo, int hi, const int32_t *targets, int t0, int t1) {
  while (t0 < t1) {
    if (hi - lo < 24) {
      for (int i = lo + 1; i <= hi; i++) {
        double v = a[i];
        int j = i - 1;
        while (j >= lo && a[j] > v) {
          a[j + 1] = a[j];
          j--;
        }
        a[j + 1] = v;
      }
      return;
    }
    int mid = (int)(((unsigned)lo + (unsigned)hi) >> 1);
    if (a[mid] < a[lo]) dswap(a, mid, lo);
    if (a[hi] < a[lo]) dswap(a, hi, lo);
    if (a[hi] < a[mid]) dswap(a, hi, mid);
    double pivot = a[mid];
    int i = lo, j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        dswap(a, i, j);
        i++;
        j--;
      }
    }
    int tl = t0;
    while (tl < t1 && targets[tl] <= j) tl++;
    int tr = tl;
    while (tr < t1 && targets[tr] < i) tr++;
    if (tl - t0 < t1 - tr) {
      multi_select(a, lo, j, targets, t0, tl);
      lo = i;
      t0 = tr;
    } else {
      multi_select(a, i, hi, targets, tr, t1);
      hi = j;
      t1 = tl;
    }
  }
}

static int quantile_ranks(int n, double fraction, int32_t *ranks, int t) {
  double q = n * fraction;
  double i = floor(q);
  if (t == 0 || ranks[t - 1] != (int32_t)i) ranks[t++] = (int32_t)i;
  if (q - i > 0 && i < n - 1) ranks[t++] = (int32_t)i + 1;
  return t;
}

static double quantile_of(const int32_t *ranks, const double *at, int t, int n, double fraction) {
  double q = n * fraction;
  double i = floor(q);
  double f = q - i;
  int j = 0;
  while (j < t && ranks[j] != (int32_t)i) j++;
  return f == 0 || i >= n - 1 ? at[j] : at[j] * (1 - f) + at[j + 1] * f;
}

static int os_select(ostats_t *o, const double *values, int i0, int n, int deviations, double centre, double lo, double hi, const int32_t *ranks, int t,
                     double *at, int counted) {
  if (!(hi > lo)) {
    for (int j = 0; j < t; j++) at[j] = lo;
    return 1;
  }
  double scale = o->scale;
  if (!counted && !os_prepare(o, n, lo, hi, &scale)) return 0;
  int32_t *counts = o->counts, *slot_of = o->slot_of;
  int last = o->last;
  int i1 = i0 + n;
  if (!counted) {
    if (deviations)
      for (int i = i0; i < i1; i++) counts[os_bucket(fabs(values[i] - centre), lo, scale, last)]++;
    else
      for (int i = i0; i < i1; i++) counts[os_bucket(values[i], lo, scale, last)]++;
  }
  int32_t slot_bucket[8], slot_start[9], slot_fill[8], local[8];
  slot_start[0] = 0;
  int slots = 0, cum = 0, b = 0;
  for (int j = 0; j < t; j++) {
    int r = ranks[j];
    while (cum + counts[b] <= r) cum += counts[b++];
    if (slots == 0 || slot_bucket[slots - 1] != b) {
      slot_bucket[slots] = b;
      slot_start[slots + 1] = slot_start[slots] + counts[b];
      slot_fill[slots] = 0;
      slot_of[b] = slots;
      slots++;
    }
    local[j] = slot_start[slots - 1] + (r - cum);
  }
  size_t size = (size_t)slot_start[slots];
  if (o->scap < size) {
    size_t cap = size > 2 * o->scap ? size : 2 * o->scap;
    double *sc = realloc(o->scratch, sizeof(double) * cap);
    if (!sc) return 0;
    o->scratch = sc;
    o->scap = cap;
  }
  double *scratch = o->scratch;
  for (int i = i0; i < i1; i++) {
    double v = deviations ? fabs(values[i] - centre) : values[i];
    int s = slot_of[os_bucket(v, lo, scale, last)];
    if (s >= 0) scratch[slot_start[s] + slot_fill[s]++] = v;
  }
  for (int s = 0; s < slots; s++) {
    slot_of[slot_bucket[s]] = -1;
    int j0 = 0;
    while (local[j0] < slot_start[s]) j0++;
    int j1 = j0;
    while (j1 < t && local[j1] < slot_start[s + 1]) j1++;
    multi_select(scratch, slot_start[s], slot_start[s + 1] - 1, local, j0, j1);
  }
  for (int j = 0; j < t; j++) at[j] = scratch[local[j]];
  return 1;
}

static napi_value intensity_stats(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const char *usage = "intensityStats(values: Float64Array, start: Int32Array, pixel: Int32Array, x: Int32Array, edge: Uint8Array, count, "
                      "out: Float64Array, stride, offset, moments: Float64Array)";
  if (argc != 10) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  size_t nv, ns, np, nx, ne, no, nm;
  const double *values = typed_arg(env, argv[0], napi_float64_array, &nv, usage);
  if (!values) return NULL;
  const int32_t *start = typed_arg(env, argv[1], napi_int32_array, &ns, usage);
  if (!start) return NULL;
  const int32_t *pixel = typed_arg(env, argv[2], napi_int32_array, &np, usage);
  if (!pixel) return NULL;
  const int32_t *xs = typed_arg(env, argv[3], napi_int32_array, &nx, usage);
  if (!xs) return NULL;
  const uint8_t *edge = typed_arg(env, argv[4], napi_uint8_array, &ne, usage);
  if (!edge) return NULL;
  double *out = typed_arg(env, argv[6], napi_float64_array, &no, usage);
  if (!out) return NULL;
  double *moments = typed_arg(env, argv[9], napi_float64_array, &nm, usage);
  if (!moments) return NULL;
  int32_t count, stride, offset;
  napi_get_value_int32(env, argv[5], &count);
  napi_get_value_int32(env, argv[7], &stride);
  napi_get_value_int32(env, argv[8], &offset);
  int ok = count >= 0 && ns >= (size_t)count + 1 && offset >= 0 && offset + 15 <= stride && no >= (size_t)count * stride && nm >= 4 * (size_t)count && start[0] == 0;
  for (int k = 1; ok && k <= count; k++) ok = start[k] >= start[k - 1];
  if (ok && count > 0) {
    size_t total = (size_t)start[count];
    ok = total <= nv && total <= np && total <= nx && total <= ne;
  }
  if (!ok) {
    napi_throw_range_error(env, NULL, "intensityStats: start must rise from 0 over count + 1 entries within values, pixel, x and edge; out hold count rows of stride >= offset + 15");
    return NULL;
  }
  ostats_t *st = &os_state;
  int32_t ranks[6];
  double at[6];
  for (int k = 1; k <= count; k++) {
    double *o = out + (size_t)(k - 1) * stride + offset;
    int i0 = start[k - 1], i1 = start[k], n = i1 - i0;
    double *mo = moments + 4 * (size_t)(k - 1);
    if (n == 0) {
      for (int f = 0; f < 15; f++) o[f] = 0;
      mo[0] = mo[1] = mo[2] = mo[3] = 0;
      continue;
    }
    double sum = 0, min = INFINITY, max = -INFINITY, sx = 0, sp = 0, sxv = 0, spv = 0, en = 0, esum = 0, emin = INFINITY, emax = -INFINITY;
    for (int i = i0; i < i1; i++) {
      double v = values[i];
      double x = xs[i];
      double p = pixel[i];
      sum += v;
      if (v < min) min = v;
      if (v > max) max = v;
      sx += x;
      sp += p;
      sxv += x * v;
      spv += p * v;
      if (edge[i] == 1) {
        en++;
        esum += v;
        if (v < emin) emin = v;
        if (v > emax) emax = v;
      }
    }
    double mean = sum / n;
    double emean = en > 0 ? esum / en : 0;
    double ss = 0, ess = 0;
    int spread = max > min;
    double scale = 0;
    if (spread && !os_prepare(st, n, min, max, &scale)) goto no_memory;
    int32_t *counts = st->counts;
    int last = st->last;
    for (int i = i0; i < i1; i++) {
      double v = values[i];
      ss += (v - mean) * (v - mean);
      if (edge[i] == 1) ess += (v - emean) * (v - emean);
      if (spread) counts[os_bucket(v, min, scale, last)]++;
    }
    int t = quantile_ranks(n, 0.25, ranks, 0);
    t = quantile_ranks(n, 0.5, ranks, t);
    t = quantile_ranks(n, 0.75, ranks, t);
    if (!os_select(st, values, i0, n, 0, 0, min, max, ranks, t, at, 1)) goto no_memory;
    double lower = quantile_of(ranks, at, t, n, 0.25);
    double median = quantile_of(ranks, at, t, n, 0.5);
    double upper = quantile_of(ranks, at, t, n, 0.75);
    t = quantile_ranks(n, 0.5, ranks, 0);
    double a = max - median, b = median - min;
    if (!os_select(st, values, i0, n, 1, median, 0, a > b ? a : b, ranks, t, at, 0)) goto no_memory;
    double mad = quantile_of(ranks, at, t, n, 0.5);
    o[0] = sum;
    o[1] = mean;
    o[2] = sqrt(ss / n);
    o[3] = min;
    o[4] = max;
    o[5] = esum;
    o[6] = emean;
    o[7] = en > 0 ? sqrt(ess / en) : 0;
    o[8] = en > 0 ? emin : 0;
    o[9] = en > 0 ? emax : 0;
    o[10] = 0;
    o[11] = lower;
    o[12] = median;
    o[13] = mad;
    o[14] = upper;
    mo[0] = sx;
    mo[1] = sp;
    mo[2] = sxv;
    mo[3] = spv;
  }
  return NULL;
no_memory:
  napi_throw_error(env, NULL, "intensityStats: out of memory");
  return NULL;
}

/* numpy.rint(v x 255) clipped to 0..255, as toUbyte in src/cells/texture.ts */
static inline int to_ubyte(double v) {
  double t = v * 255;
  if (!(t > 0)) return 0;
  if (t >= 255) return 255;
  int g = (int)(t + 0.5);
  return g - t == 0.5 && (g & 1) == 1 ? g - 1 : g;
}

#define GATHER(T)                                                                      \
  {                                                                                    \
    const T *d = (const T *)data;                                                      \
    if (!image)                                                                        \
      for (size_t i = 0; i < total; i++) out[i] = d[pixel[i]] * scale;                 \
    else if (filled)                                                                   \
      for (int k = 1; k <= count; k++) {                                               \
        int m = 0;                                                                     \
        for (int i = start[k - 1]; i < start[k]; i++) {                                \
          int p = pixel[i];                                                            \
          out[i] = d[p] * scale;                                                       \
          int g = image[p];                                                            \
          if (g > m) m = g;                                                            \
        }                                                                              \
        max[k - 1] = (uint8_t)m;                                                       \
      }                                                                                \
    else                                                                               \
      for (int k = 1; k <= count; k++) {                                               \
        int m = 0;                                                                     \
        for (int i = start[k - 1]; i < start[k]; i++) {                                \
          int p = pixel[i];                                                            \
          double v = d[p] * scale;                                                     \
          out[i] = v;                                                                  \
          int g = lut[to_ubyte(v)];                                                    \
          image[p] = (uint8_t)g;                                                       \
          if (g > m) m = g;                                                            \
        }                                                                              \
        max[k - 1] = (uint8_t)m;                                                       \
      }                                                                                \
  }

/*
 * The C twin of gatherValues (src/cells/intensity.ts): a stain's value x scale at every object
 * pixel, in index order; with `image` (and max, lut), the gray levels too (or, `filled`, only each
 * object's largest level read from image).
 */
static napi_value gather_values(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const char *usage = "gatherValues(data: " PIXEL_TYPES ", pixel: Int32Array, start: Int32Array, count, scale, out: Float64Array, "
                      "image: Uint8Array | null, max: Uint8Array | null, lut: Uint8Array | null, filled: boolean)";
  if (argc != 10) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  napi_typedarray_type type;
  size_t nd, np, ns, no, ni = 0, nm = 0, nl = 0;
  void *data;
  if (!pixels_arg(env, argv[0], usage, &type, &nd, &data)) return NULL;
  const int32_t *pixel = typed_arg(env, argv[1], napi_int32_array, &np, usage);
  if (!pixel) return NULL;
  const int32_t *start = typed_arg(env, argv[2], napi_int32_array, &ns, usage);
  if (!start) return NULL;
  double *out = typed_arg(env, argv[5], napi_float64_array, &no, usage);
  if (!out) return NULL;
  napi_valuetype vt;
  napi_typeof(env, argv[6], &vt);
  uint8_t *image = NULL, *max = NULL;
  const uint8_t *lut = NULL;
  if (vt != napi_null) {
    if (!(image = typed_arg(env, argv[6], napi_uint8_array, &ni, usage))) return NULL;
    if (!(max = typed_arg(env, argv[7], napi_uint8_array, &nm, usage))) return NULL;
    if (!(lut = typed_arg(env, argv[8], napi_uint8_array, &nl, usage))) return NULL;
  }
  int32_t count;
  double scale;
  bool filled = false;
  napi_get_value_int32(env, argv[3], &count);
  napi_get_value_double(env, argv[4], &scale);
  napi_get_value_bool(env, argv[9], &filled);
  int ok = count >= 0 && ns >= (size_t)count + 1 && start[0] == 0 && (!image || (nm >= (size_t)count && nl >= 256 && ni >= nd));
  for (int k = 1; ok && k <= count; k++) ok = start[k] >= start[k - 1];
  size_t total = ok ? (size_t)start[count] : 0;
  ok = ok && total <= np && total <= no;
  for (size_t i = 0; ok && i < total; i++) ok = pixel[i] >= 0 && (size_t)pixel[i] < nd;
  if (!ok) {
    napi_throw_range_error(env, NULL, "gatherValues: start must rise from 0 over count + 1 entries within pixel and out, pixels lie in data, "
                                      "the gray image cover data, max hold count levels and lut 256");
    return NULL;
  }
  if (type == napi_float32_array) GATHER(float)
  else if (type == napi_uint16_array) GATHER(uint16_t)
  else if (type == napi_uint8_array) GATHER(uint8_t)
  else GATHER(double)
  return NULL;
}

/*
 * indexObjects' two raster passes (src/cells/shape.ts, integer work: identical results).
 * labelCounts: start[k] += pixels of object k, euler[k-1] += the 2x2-window scores; returns -1,
 * or the index of the first pixel whose label is outside 0..count (nothing is valid then).
 * labelFill: object pixels into pixel/x/edge at start[k-1]++ (start = write positions).
 */
static int label_images(napi_env env, napi_callback_info info, size_t want, napi_value *argv, const char *usage, int32_t **labels, size_t *nl,
                        int32_t *w, int32_t *h) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != want) {
    napi_throw_type_error(env, NULL, usage);
    return 0;
  }
  if (!(*labels = typed_arg(env, argv[0], napi_int32_array, nl, usage))) return 0;
  napi_get_value_int32(env, argv[1], w);
  napi_get_value_int32(env, argv[2], h);
  if (*w < 1 || *h < 1 || *nl != (size_t)*w * *h) {
    napi_throw_range_error(env, NULL, "labels must hold width*height values");
    return 0;
  }
  return 1;
}

static napi_value label_counts(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  const char *usage = "labelCounts(labels: Int32Array, width, height, count, start: Int32Array(count + 1), euler: Float64Array(count))";
  int32_t *labels, w, h, count;
  size_t nl, ns, ne;
  if (!label_images(env, info, 6, argv, usage, &labels, &nl, &w, &h)) return NULL;
  napi_get_value_int32(env, argv[3], &count);
  int32_t *start = typed_arg(env, argv[4], napi_int32_array, &ns, usage);
  if (!start) return NULL;
  double *euler = typed_arg(env, argv[5], napi_float64_array, &ne, usage);
  if (!euler) return NULL;
  if (count < 0 || ns < (size_t)count + 1 || ne < (size_t)count) {
    napi_throw_range_error(env, NULL, "labelCounts: start must hold count + 1 entries, euler count");
    return NULL;
  }
  napi_value result;
  for (size_t p = 0; p < nl; p++) {
    if (labels[p] < 0 || labels[p] > count) {
      napi_create_double(env, (double)p, &result);
      return result;
    }
  }
  for (int y = 0; y <= h; y++) {
    const int32_t *cur = y < h ? labels + (size_t)y * w : NULL;
    const int32_t *up = y > 0 ? labels + (size_t)(y - 1) * w : NULL;
    int a = 0, c = 0;
    for (int x = 0; x <= w; x++) {
      int b = up && x < w ? up[x] : 0;
      int d = cur && x < w ? cur[x] : 0;
      if (d != 0) start[d]++;
      if (a != 0 && d != a) {
        if (b != a && c != a) euler[a - 1]++;
        else if (b == a && c == a) euler[a - 1]--;
      }
      if (b != 0 && b == c && a != b && d != b) euler[b - 1]--;
      a = b;
      c = d;
    }
  }
  napi_create_double(env, -1, &result);
  return result;
}

static napi_value label_fill(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  const char *usage = "labelFill(labels: Int32Array, width, height, start: Int32Array, pixel: Int32Array, x: Int32Array, edge: Uint8Array)";
  int32_t *labels, w, h;
  size_t nl, ns, np, nx, ne;
  if (!label_images(env, info, 7, argv, usage, &labels, &nl, &w, &h)) return NULL;
  int32_t *start = typed_arg(env, argv[3], napi_int32_array, &ns, usage);
  if (!start) return NULL;
  int32_t *pixel = typed_arg(env, argv[4], napi_int32_array, &np, usage);
  if (!pixel) return NULL;
  int32_t *xs = typed_arg(env, argv[5], napi_int32_array, &nx, usage);
  if (!xs) return NULL;
  uint8_t *edge = typed_arg(env, argv[6], napi_uint8_array, &ne, usage);
  if (!edge) return NULL;
  /* every write position must stay inside pixel/x/edge: object k writes start[k-1] .. start[k]-1 */
  int ok = ns >= 1 && np == nx && np == ne;
  size_t count = ns - 1;
  for (size_t k = 1; ok && k <= count; k++) ok = start[k] >= start[k - 1] && start[k - 1] >= 0;
  ok = ok && (size_t)start[count] <= np;
  for (size_t p = 0; ok && p < nl; p++) ok = labels[p] >= 0 && (size_t)labels[p] <= count;
  if (!ok) {
    napi_throw_range_error(env, NULL, "labelFill: start must rise over count + 1 entries within pixel, x and edge (of equal length), labels lie in 0..count");
    return NULL;
  }
  for (int y = 0; y < h; y++) {
    const int32_t *row = labels + (size_t)y * w;
    for (int x = 0; x < w; x++) {
      int l = row[x];
      if (l == 0) continue;
      int32_t i = start[l - 1]++;
      if (i >= start[l]) {
        napi_throw_range_error(env, NULL, "labelFill: an object has more pixels than its start entries leave room for");
        return NULL;
      }
      pixel[i] = y * w + x;
      xs[i] = x;
      edge[i] = (x > 0 && row[x - 1] != l) || (x < w - 1 && row[x + 1] != l) || (y > 0 && row[x - w] != l) || (y < h - 1 && row[x + w] != l);
    }
  }
  return NULL;
}

/*
 * The sums behind the Haralick features of tables 0..tables-1 of one object: the C twin of
 * haralickSums in src/cells/texture.ts (same double operations in the same order; c log2 c from
 * the caller's table `clog2`, so every count and marginal must be below its length). Counts are
 * cleared as read.
 */
static napi_value haralick_sums(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const char *usage = "haralickSums(cnt: Int32Array, tch: Int32Array, nt: Int32Array, tables, keySize, sizes: Int32Array, clog2: Float64Array, sums: Float64Array)";
  if (argc != 8) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  size_t ncnt, ntch, nnt, nsz, nlog, nsums;
  int32_t *cnt = typed_arg(env, argv[0], napi_int32_array, &ncnt, usage);
  if (!cnt) return NULL;
  const int32_t *tch = typed_arg(env, argv[1], napi_int32_array, &ntch, usage);
  if (!tch) return NULL;
  const int32_t *nt = typed_arg(env, argv[2], napi_int32_array, &nnt, usage);
  if (!nt) return NULL;
  const int32_t *sizes = typed_arg(env, argv[5], napi_int32_array, &nsz, usage);
  if (!sizes) return NULL;
  const double *clog2 = typed_arg(env, argv[6], napi_float64_array, &nlog, usage);
  if (!clog2) return NULL;
  double *sums = typed_arg(env, argv[7], napi_float64_array, &nsums, usage);
  if (!sums) return NULL;
  int32_t tables, key_size;
  napi_get_value_int32(env, argv[3], &tables);
  napi_get_value_int32(env, argv[4], &key_size);
  int ok = tables >= 0 && (size_t)tables <= nnt && (size_t)tables <= nsz && nsums >= 14 * (size_t)tables && ncnt >= (size_t)tables * COOC_KEYS &&
           ntch >= (size_t)tables * COOC_KEYS && key_size >= 1 && key_size <= 256;
  for (int t = 0; ok && t < tables; t++) ok = nt[t] >= 0 && nt[t] <= COOC_KEYS && sizes[t] >= 1 && sizes[t] <= key_size;
  if (!ok) {
    napi_throw_range_error(env, NULL, "haralickSums: tables of 65536 entries in cnt/tch, nt/sizes/sums for each, sizes in 1..keySize <= 256");
    return NULL;
  }
  double px[256], plus[512], minus[256];
  memset(px, 0, sizeof px);
  memset(plus, 0, sizeof plus);
  memset(minus, 0, sizeof minus);
#define XLOG2X(c) ((size_t)(c) < nlog ? clog2[(size_t)(c)] : (bad = 1, 0.0))
  int bad = 0;
  for (int tb = 0; tb < tables; tb++) {
    int m = nt[tb];
    if (m == 0) continue;
    size_t base = (size_t)tb * COOC_KEYS;
    int size = sizes[tb];
    double pairs = 0, asm_ = 0, contrast = 0, sij = 0, idm = 0, hsum = 0;
    for (int j = 0; j < m; j++) {
      int ab = tch[base + j];
      int a = ab >> 8, b = ab & 255;
      if (b >= key_size || a >= size || b >= size) {
        bad = 1;
        break;
      }
      size_t key = base + (size_t)a * key_size + b;
      double c = cnt[key];
      cnt[key] = 0;
      pairs += c;
      if (a == b) {
        double c2 = 2 * c;
        asm_ += c2 * c2;
        sij += c2 * a * a;
        idm += c2;
        px[a] += c2;
        plus[2 * a] += c2;
        minus[0] += c2;
        hsum += XLOG2X(c2);
      } else {
        int diff = b - a;
        asm_ += 2 * c * c;
        contrast += 2 * c * diff * diff;
        sij += 2 * c * a * b;
        idm += (2 * c) / (1 + diff * diff);
        px[a] += c;
        px[b] += c;
        plus[a + b] += 2 * c;
        minus[diff] += 2 * c;
        hsum += 2 * XLOG2X(c);
      }
    }
    double t = 2 * pairs, ux = 0, exx = 0, hxsum = 0, hmsum = 0;
    double m_mean = 1.0 / size, m_dev = 0;
    for (int g = 0; g < size; g++) {
      double c = px[g];
      if (c != 0) {
        ux += g * c;
        exx += g * g * c;
        hxsum += XLOG2X(c);
        px[g] = 0;
      }
      double e = minus[g];
      m_dev += (e / t - m_mean) * (e / t - m_mean);
      if (e != 0) {
        hmsum += XLOG2X(e);
        minus[g] = 0;
      }
    }
    double sa = 0, sss = 0, hpsum = 0;
    for (int g = 0; g < 2 * size; g++) {
      double c = plus[g];
      if (c == 0) continue;
      sa += g * c;
      sss += g * g * c;
      hpsum += XLOG2X(c);
      plus[g] = 0;
    }
    double *s = sums + 14 * (size_t)tb;
    s[0] = pairs;
    s[1] = asm_;
    s[2] = contrast;
    s[3] = sij;
    s[4] = idm;
    s[5] = hsum;
    s[6] = ux;
    s[7] = exx;
    s[8] = hxsum;
    s[9] = hmsum;
    s[10] = m_dev;
    s[11] = sa;
    s[12] = sss;
    s[13] = hpsum;
    if (bad) break;
  }
#undef XLOG2X
  if (bad) {
    napi_throw_range_error(env, NULL, "haralickSums: a gray level beyond its table's size, or a count beyond the c log2 c table");
    return NULL;
  }
  return NULL;
}

/* ---- segmentation: CellProfiler's propagation (src/cells/watershed.ts `propagate` is the TS twin) ----
 * Same algorithm, same operations in the same order: step costs from float32 boxed differences
 * summed in double, rounded to units of the quantum; Dial's circular bucket queue, last in first
 * out within a bucket; so the labels are bitwise equal to the TypeScript path's. */

/* row r of |image(q) - image(q + d)| summed over 3 horizontal neighbours (edges repeat) */
static void seg_boxed_row(const float *image, int w, int h, int r, int dx, int dy, float *a, float *dst) {
  const long row = (long)r * w;
  const long row2 = (long)(r + dy >= h ? h - 1 : r + dy) * w;
  const int from = dx < 0 ? 1 : 0;
  const int to = dx > 0 ? w - 1 : w;
  for (int x = from; x < to; x++) {
    double d = (double)image[row + x] - (double)image[row2 + dx + x];
    a[x] = (float)(d < 0 ? -d : d);
  }
  if (dx != 0) {
    const int x = dx < 0 ? 0 : w - 1;
    double d = (double)image[row + x] - (double)image[row2 + x];
    a[x] = (float)(d < 0 ? -d : d);
  }
  if (w == 1) {
    dst[0] = (float)(3 * (double)a[0]);
    return;
  }
  dst[0] = (float)(2 * (double)a[0] + (double)a[1]);
  for (int x = 1; x < w - 1; x++) dst[x] = (float)((double)a[x - 1] + (double)a[x] + (double)a[x + 1]);
  dst[w - 1] = (float)((double)a[w - 2] + 2 * (double)a[w - 1]);
}

static void seg_step_costs(const float *image, int w, int h, double lambda2, double inv, const int *dist, unsigned short *costs) {
  static const int DX[4] = {1, 0, 1, -1}, DY[4] = {0, 1, 1, 1};
  float *buf = malloc(sizeof(float) * (size_t)w * 13);
  float *a = buf;
  float *ring[4][3];
  for (int k = 0; k < 4; k++)
    for (int m = 0; m < 3; m++) ring[k][m] = buf + (size_t)w * (1 + 3 * k + m);
  for (int k = 0; k < 4; k++) {
    seg_boxed_row(image, w, h, 0, DX[k], DY[k], a, ring[k][1]);
    memcpy(ring[k][0], ring[k][1], sizeof(float) * w);
  }
  for (int y = 0; y < h; y++) {
    for (int k = 0; k < 4; k++) {
      if (y + 1 < h) seg_boxed_row(image, w, h, y + 1, DX[k], DY[k], a, ring[k][2]);
      else memcpy(ring[k][2], ring[k][1], sizeof(float) * w);
      float *prev = ring[k][0], *cur = ring[k][1], *next = ring[k][2];
      const long row = (long)y * w;
      for (int x = 0; x < w; x++) {
        if (dist[row + x] < 0) continue;
        double g = (double)prev[x] + (double)cur[x] + (double)next[x];
        double v = sqrt(g * g + lambda2) * inv + 0.5;
        long c = (long)v; /* v >= 0.5: truncation is JS's |0 here (v < 2^31 as the quantum bounds it) */
        costs[4 * (row + x) + k] = (unsigned short)(c > 65535 ? 65535 : c);
      }
      ring[k][0] = cur;
      ring[k][1] = next;
      ring[k][2] = prev;
    }
  }
  free(buf);
}

static void *seg_scratch(int slot, size_t bytes, bool keep); /* fastcells block, at the end */

/* segPropagate(image: Float32Array, labels: Int32Array, mask: Uint8Array, width, height, lambda2, inverseQuantum, buckets) */
static napi_value seg_propagate(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const char *usage = "segPropagate(image: Float32Array, labels: Int32Array, mask: Uint8Array, width, height, lambda2, inverseQuantum, buckets)";
  napi_typedarray_type it, lt, mt;
  size_t in = 0, ln = 0, mn = 0;
  float *image = NULL;
  int *labels = NULL;
  unsigned char *mask = NULL;
  int w = 0, h = 0, buckets = 0;
  double lambda2 = 0, inv = 0;
  if (argc != 8 || !pixels_arg(env, argv[0], usage, &it, &in, (void **)&image)) {
    if (argc != 8) napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  bool ok = true;
  {
    napi_value ab;
    size_t off;
    void *p;
    ok = napi_get_typedarray_info(env, argv[1], &lt, &ln, &p, &ab, &off) == napi_ok && lt == napi_int32_array;
    labels = p;
    ok = ok && napi_get_typedarray_info(env, argv[2], &mt, &mn, &p, &ab, &off) == napi_ok && mt == napi_uint8_array;
    mask = p;
  }
  ok = ok && it == napi_float32_array && napi_get_value_int32(env, argv[3], &w) == napi_ok && napi_get_value_int32(env, argv[4], &h) == napi_ok;
  ok = ok && napi_get_value_double(env, argv[5], &lambda2) == napi_ok && napi_get_value_double(env, argv[6], &inv) == napi_ok && napi_get_value_int32(env, argv[7], &buckets) == napi_ok;
  const size_t n = (size_t)w * (size_t)h;
  if (!ok || w < 1 || h < 1 || buckets < 1 || in != n || ln != n || mn != n) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  /* per-thread scratch kept between fields (every element written before it is read) */
  int *dist = seg_scratch(0, sizeof(int) * n, false);
  unsigned short *costs = seg_scratch(1, sizeof(unsigned short) * 4 * n, false);
  int *head = seg_scratch(2, sizeof(int) * (size_t)buckets, false);
  size_t cap = 2 * n + 1024, entries = 0, pending = 0;
  int *ent = seg_scratch(3, sizeof(int) * 2 * cap, false);
  if (!dist || !costs || !head || !ent) {
    napi_throw_error(env, NULL, "segPropagate: out of memory");
    return NULL;
  }
  for (size_t i = 0; i < n; i++) dist[i] = labels[i] != 0 ? 0 : mask[i] ? 0x7fffffff : -1;
  seg_step_costs(image, w, h, lambda2, inv, dist, costs);
  for (int b = 0; b < buckets; b++) head[b] = -1;
  for (size_t i = 0; i < n; i++) {
    if (labels[i] != 0) {
      ent[2 * entries] = (int)i;
      ent[2 * entries + 1] = head[0];
      head[0] = (int)entries++;
    }
  }
  pending = entries;
  int cur = 0;
  const long last = (long)n - w;
#define SEG_RELAX(J, COST)                         \
  do {                                             \
    const long j_ = (J);                           \
    const int s_ = (COST);                         \
    const int d_ = di + s_;                        \
    if (d_ < dist[j_]) {                           \
      dist[j_] = d_;                               \
      labels[j_] = lab;                            \
      int b_ = cur + s_;                           \
      if (b_ >= buckets) b_ -= buckets;            \
      ent[2 * entries] = (int)j_;                  \
      ent[2 * entries + 1] = head[b_];             \
      head[b_] = (int)entries++;                   \
      pending++;                                   \
    }                                              \
  } while (0)
  while (pending > 0) {
    const int e = head[cur];
    if (e == -1) {
      cur = cur + 1 == buckets ? 0 : cur + 1;
      continue;
    }
    head[cur] = ent[2 * e + 1];
    pending--;
    const long i = ent[2 * e];
    const int di = dist[i];
    if (di < 0) continue;
    dist[i] = -1;
    if (entries + 8 > cap) {
      cap *= 2;
      int *bigger = seg_scratch(3, sizeof(int) * 2 * cap, true);
      if (!bigger) {
        napi_throw_error(env, NULL, "segPropagate: out of memory");
        return NULL;
      }
      ent = bigger;
    }
    const int lab = labels[i];
    const long x = i % w;
    const bool hasW = x > 0, hasE = x < w - 1;
    const long c = 4 * i;
    if (hasE) SEG_RELAX(i + 1, costs[c]);
    if (hasW) SEG_RELAX(i - 1, costs[c - 4]);
    if (i < last) {
      SEG_RELAX(i + w, costs[c + 1]);
      if (hasE) SEG_RELAX(i + w + 1, costs[c + 2]);
      if (hasW) SEG_RELAX(i + w - 1, costs[c + 3]);
    }
    if (i >= w) {
      const long u = c - 4L * w;
      SEG_RELAX(i - w, costs[u + 1]);
      if (hasW) SEG_RELAX(i - w - 1, costs[u - 4 + 2]);
      if (hasE) SEG_RELAX(i - w + 1, costs[u + 4 + 3]);
    }
  }
#undef SEG_RELAX
  return NULL;
}

/* ==== mspeed2: measureShape's pixel passes ==================================================== */

/*
 * shapePixels(labels, w, h, pixel, x, edge, i0, i1, k, border, lo, hi, sums): the C twin of
 * shapePixels in src/cells/shape.ts (integer moments in doubles, exact; the perimeter's weights
 * summed in the same pixel order): row extremes into lo/hi, border flags, and sx, sy, sxx, syy,
 * sxy, xmin, xmax, perimeter into sums.
 */
static napi_value shape_pixels(napi_env env, napi_callback_info info) {
  size_t argc = 13;
  napi_value argv[13];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const char *usage = "shapePixels(labels: Int32Array, width, height, pixel: Int32Array, x: Int32Array, edge: Uint8Array, i0, i1, k, "
                      "border: Uint8Array, lo: Float64Array, hi: Float64Array, sums: Float64Array)";
  if (argc != 13) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  size_t nl, np, nx, ne, nb, nlo, nhi, ns;
  const int32_t *labels = typed_arg(env, argv[0], napi_int32_array, &nl, usage);
  if (!labels) return NULL;
  const int32_t *pixel = typed_arg(env, argv[3], napi_int32_array, &np, usage);
  if (!pixel) return NULL;
  const int32_t *xs = typed_arg(env, argv[4], napi_int32_array, &nx, usage);
  if (!xs) return NULL;
  const uint8_t *edge = typed_arg(env, argv[5], napi_uint8_array, &ne, usage);
  if (!edge) return NULL;
  uint8_t *border = typed_arg(env, argv[9], napi_uint8_array, &nb, usage);
  if (!border) return NULL;
  double *lo = typed_arg(env, argv[10], napi_float64_array, &nlo, usage);
  if (!lo) return NULL;
  double *hi = typed_arg(env, argv[11], napi_float64_array, &nhi, usage);
  if (!hi) return NULL;
  double *sums = typed_arg(env, argv[12], napi_float64_array, &ns, usage);
  if (!sums) return NULL;
  int32_t w, h, i0, i1, k;
  napi_get_value_int32(env, argv[1], &w);
  napi_get_value_int32(env, argv[2], &h);
  napi_get_value_int32(env, argv[6], &i0);
  napi_get_value_int32(env, argv[7], &i1);
  napi_get_value_int32(env, argv[8], &k);
  size_t size = (size_t)(w > 0 ? w : 0) * (size_t)(h > 0 ? h : 0);
  int ok = w > 0 && h > 0 && nl == size && nb >= size && ns >= 8 && i0 >= 0 && i1 > i0 && (size_t)i1 <= np && (size_t)i1 <= nx &&
           (size_t)i1 <= ne;
  int64_t ymin = 0, rows = 0;
  if (ok) {
    int64_t p0 = pixel[i0], p1 = pixel[i1 - 1];
    ok = p0 >= 0 && p1 >= p0 && (size_t)p1 < size && xs[i0] >= 0 && xs[i0] < w && xs[i1 - 1] >= 0 && xs[i1 - 1] < w;
    if (ok) {
      ymin = (p0 - xs[i0]) / w;
      rows = (p1 - xs[i1 - 1]) / w - ymin + 1;
      ok = rows >= 1 && (size_t)rows <= nlo && (size_t)rows <= nhi;
    }
  }
  if (!ok) {
  bad:
    napi_throw_range_error(env, NULL, "shapePixels: i0 < i1 within pixel, x and edge; pixels in rising raster order inside a width x height "
                                      "image, x their columns; border as large, lo/hi one entry per row, sums 8");
    return NULL;
  }
  const int x0 = xs[i0];
  for (int64_t r = 0; r < rows; r++) {
    lo[r] = INFINITY;
    hi[r] = -INFINITY;
  }
  /* rows are followed (pixels rise in raster order), no division; each pixel's column is checked */
  double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0, xmin = x0, xmax = x0;
  int64_t row = 0, rowStart = ymin * w, prev = -1;
  for (int32_t i = i0; i < i1; i++) {
    const int64_t p = pixel[i];
    const int x = xs[i];
    if (p <= prev || p > pixel[i1 - 1]) goto bad;
    prev = p;
    while (p >= rowStart + w) {
      rowStart += w;
      row++;
    }
    if (x != p - rowStart || row >= rows) goto bad;
    const int64_t y = ymin + row;
    const double dx = x - x0;
    const double dy = (double)row;
    sx += dx;
    sy += dy;
    sxx += dx * dx;
    syy += dy * dy;
    sxy += dx * dy;
    if (x < xmin) xmin = x;
    if (x > xmax) xmax = x;
    if (x < lo[row]) lo[row] = x;
    if (x > hi[row]) hi[row] = x;
    border[p] = edge[i] | (x == 0 || x == w - 1 || y == 0 || y == h - 1 ? 1 : 0);
  }
  /* scikit-image's perimeter weights (PERIMETER_WEIGHTS in shape.ts; 1.414... rounds to Math.SQRT2) */
  const double sqrt2 = 1.41421356237309504880;
  double wts[50] = {0};
  wts[5] = wts[7] = wts[15] = wts[17] = wts[25] = wts[27] = 1;
  wts[21] = wts[33] = sqrt2;
  wts[13] = wts[23] = (1 + sqrt2) / 2;
#define ON_BORDER(q) (labels[q] == k && border[q] == 1 ? 1 : 0)
  double perimeter = 0;
  row = 0;
  rowStart = ymin * w;
  for (int32_t i = i0; i < i1; i++) {
    const int64_t p = pixel[i];
    while (p >= rowStart + w) {
      rowStart += w;
      row++;
    }
    if (border[p] == 0) continue;
    const int x = xs[i];
    const int64_t y = ymin + row;
    const int l = x > 0, r = x < w - 1, u = y > 0, d = y < h - 1;
    const int four = (l ? ON_BORDER(p - 1) : 0) + (r ? ON_BORDER(p + 1) : 0) + (u ? ON_BORDER(p - w) : 0) + (d ? ON_BORDER(p + w) : 0);
    const int diag = (u && l ? ON_BORDER(p - w - 1) : 0) + (u && r ? ON_BORDER(p - w + 1) : 0) + (d && l ? ON_BORDER(p + w - 1) : 0) +
                     (d && r ? ON_BORDER(p + w + 1) : 0);
    perimeter += wts[1 + 2 * four + 10 * diag];
  }
#undef ON_BORDER
  sums[0] = sx;
  sums[1] = sy;
  sums[2] = sxx;
  sums[3] = syy;
  sums[4] = sxy;
  sums[5] = xmin;
  sums[6] = xmax;
  sums[7] = perimeter;
  return NULL;
}

/*
 * neighbourMask(labels, width, height, start, pixel, x, count, distance, mask): the C twin of
 * neighbourMask in src/cells/texture.ts (integer work: identical masks). Bit d of mask[i]: the
 * partner of object pixel i in texture direction d at `distance` carries the same label.
 */
static napi_value neighbour_mask(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const char *usage = "neighbourMask(labels: Int32Array, width, height, start: Int32Array, pixel: Int32Array, x: Int32Array, count, distance, "
                      "mask: Uint8Array)";
  if (argc != 9) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  size_t nl, ns, np, nx, nm;
  const int32_t *labels = typed_arg(env, argv[0], napi_int32_array, &nl, usage);
  if (!labels) return NULL;
  const int32_t *start = typed_arg(env, argv[3], napi_int32_array, &ns, usage);
  if (!start) return NULL;
  const int32_t *pixel = typed_arg(env, argv[4], napi_int32_array, &np, usage);
  if (!pixel) return NULL;
  const int32_t *xs = typed_arg(env, argv[5], napi_int32_array, &nx, usage);
  if (!xs) return NULL;
  uint8_t *mask = typed_arg(env, argv[8], napi_uint8_array, &nm, usage);
  if (!mask) return NULL;
  int32_t w, h, count, dist;
  napi_get_value_int32(env, argv[1], &w);
  napi_get_value_int32(env, argv[2], &h);
  napi_get_value_int32(env, argv[6], &count);
  napi_get_value_int32(env, argv[7], &dist);
  const int64_t size = (int64_t)(w > 0 ? w : 0) * (h > 0 ? h : 0);
  int ok = w > 0 && h > 0 && (int64_t)nl == size && dist >= 1 && count >= 0 && ns >= (size_t)count + 1 && start[0] == 0;
  for (int32_t k = 1; ok && k <= count; k++) ok = start[k] >= start[k - 1];
  ok = ok && (size_t)start[count] <= np && (size_t)start[count] <= nx && (size_t)start[count] <= nm;
  if (!ok) {
    napi_throw_range_error(env, NULL, "neighbourMask: a width x height label image, distance >= 1, start rising from 0 over count + 1 entries "
                                      "within pixel, x and mask");
    return NULL;
  }
  /* a partner outside the label image is no partner (TypeScript reads undefined there) */
#define SAME(q) ((q) >= 0 && (q) < size && labels[q] == k)
  const int64_t dw = (int64_t)dist * w;
  for (int32_t k = 1; k <= count; k++) {
    for (int32_t i = start[k - 1]; i < start[k]; i++) {
      const int64_t p = pixel[i];
      const int x = xs[i];
      const int right = x + dist < w;
      const int down = p + dw < size;
      int bits = 0;
      if (right && SAME(p + dist)) bits |= 1;
      if (down) {
        if (right && SAME(p + dw + dist)) bits |= 2;
        if (SAME(p + dw)) bits |= 4;
        if (x - dist >= 0 && SAME(p + dw - dist)) bits |= 8;
      }
      mask[i] = (uint8_t)bits;
    }
  }
#undef SAME
  return NULL;
}

/* ==== end mspeed2 ============================================================================= */
/* ---- segmentation: Gaussian blur passes (src/cells/filters.ts `gaussianBlur` is the TS twin) ----
 * Same passes in the same order and the same double operations, each result rounded to float32
 * as a Float32Array store rounds it: the blurred planes are bitwise equal to the TypeScript path's. */

static void seg_binomial_rows(const float *src, float *dst, int w, int h) {
  for (int y = 0; y < h; y++) {
    const long b = (long)y * w;
    if (w == 1) {
      dst[b] = src[b];
      continue;
    }
    double left = src[b], mid = left;
    for (int x = 0; x < w - 1; x++) {
      double right = src[b + x + 1];
      dst[b + x] = (float)(0.25 * (left + right) + 0.5 * mid);
      left = mid;
      mid = right;
    }
    dst[b + w - 1] = (float)(0.25 * left + 0.75 * mid);
  }
}

static void seg_binomial_columns(const float *src, float *dst, int w, int h) {
  for (int y = 0; y < h; y++) {
    const long b = (long)y * w;
    const long up = y > 0 ? b - w : b, down = y < h - 1 ? b + w : b;
    for (int x = 0; x < w; x++) dst[b + x] = (float)(0.25 * ((double)src[up + x] + (double)src[down + x]) + 0.5 * (double)src[b + x]);
  }
}

static void seg_box_rows(const float *src, float *dst, int w, int h, int width) {
  const int r = (width - 1) >> 1;
  const double inv = 1.0 / width;
  for (int y = 0; y < h; y++) {
    const long b = (long)y * w;
    const double first = src[b], last = src[b + w - 1];
    double acc = 0;
    for (int j = -r; j <= r; j++) acc += (double)src[b + (j < 0 ? 0 : j >= w ? w - 1 : j)];
    const int mid0 = r < w ? r : w, mid1 = w - r - 1 > mid0 ? w - r - 1 : mid0;
    int x = 0;
    for (; x < mid0; x++) {
      dst[b + x] = (float)(acc * inv);
      const int add = x + r + 1;
      acc += (add < w ? (double)src[b + add] : last) - first;
    }
    for (; x < mid1; x++) {
      dst[b + x] = (float)(acc * inv);
      acc += (double)src[b + x + r + 1] - (double)src[b + x - r];
    }
    for (; x < w; x++) {
      dst[b + x] = (float)(acc * inv);
      const int sub = x - r;
      acc += last - (sub >= 0 ? (double)src[b + sub] : first);
    }
  }
}

static inline long seg_row(int y, int w, int h) { return (long)(y < 0 ? 0 : y >= h ? h - 1 : y) * w; }

static void seg_box_columns(const float *src, float *dst, int w, int h, int width, double *acc) {
  const int r = (width - 1) >> 1;
  const double inv = 1.0 / width;
  for (int x = 0; x < w; x++) acc[x] = 0;
  for (int j = -r; j <= r; j++) {
    const long b = seg_row(j, w, h);
    for (int x = 0; x < w; x++) acc[x] = acc[x] + (double)src[b + x];
  }
  for (int y = 0; y < h; y++) {
    const long out = (long)y * w, add = seg_row(y + r + 1, w, h), sub = seg_row(y - r, w, h);
    for (int x = 0; x < w; x++) {
      const double a = acc[x];
      dst[out + x] = (float)(a * inv);
      acc[x] = a + (double)src[add + x] - (double)src[sub + x];
    }
  }
}

/* The three Float32Array arguments src, out, tmp of width x height (out may be src). */
static int seg_blur_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, float **src, float **out, float **tmp, int *w, int *h, const char *usage) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < want) {
    napi_throw_type_error(env, NULL, usage);
    return 0;
  }
  size_t ns, no, nt;
  if (!(*src = typed_arg(env, argv[0], napi_float32_array, &ns, usage))) return 0;
  if (!(*out = typed_arg(env, argv[1], napi_float32_array, &no, usage))) return 0;
  if (!(*tmp = typed_arg(env, argv[2], napi_float32_array, &nt, usage))) return 0;
  int32_t iw = 0, ih = 0;
  napi_get_value_int32(env, argv[3], &iw);
  napi_get_value_int32(env, argv[4], &ih);
  if (iw < 1 || ih < 1 || ns != (size_t)iw * ih || no != ns || nt != ns) {
    napi_throw_range_error(env, NULL, usage);
    return 0;
  }
  *w = iw;
  *h = ih;
  return 1;
}

/* segBinomialBlur(src, out, tmp: Float32Array, width, height, passes): `passes` x ([1 2 1] / 4 rows into tmp, then columns into out), from src then from out */
static napi_value seg_binomial_blur(napi_env env, napi_callback_info info) {
  static const char *usage = "segBinomialBlur(src, out, tmp: Float32Array of width*height, width, height, passes)";
  napi_value argv[6];
  float *src, *out, *tmp;
  int w, h;
  if (!seg_blur_args(env, info, 6, argv, &src, &out, &tmp, &w, &h, usage)) return NULL;
  int32_t passes = 0;
  napi_get_value_int32(env, argv[5], &passes);
  const float *from = src;
  for (int p = 0; p < passes; p++) {
    seg_binomial_rows(from, tmp, w, h);
    seg_binomial_columns(tmp, out, w, h);
    from = out;
  }
  return NULL;
}

/* segBoxBlur(src, out, tmp: Float32Array, width, height, w0, w1, w2): box rows src -> tmp -> out -> tmp, columns tmp -> out -> tmp -> out (odd widths) */
static napi_value seg_box_blur(napi_env env, napi_callback_info info) {
  static const char *usage = "segBoxBlur(src, out, tmp: Float32Array of width*height, width, height, w0, w1, w2: odd box widths)";
  napi_value argv[8];
  float *src, *out, *tmp;
  int w, h;
  if (!seg_blur_args(env, info, 8, argv, &src, &out, &tmp, &w, &h, usage)) return NULL;
  int32_t widths[3];
  for (int k = 0; k < 3; k++) {
    napi_get_value_int32(env, argv[5 + k], &widths[k]);
    if (widths[k] < 1 || (widths[k] & 1) == 0) {
      napi_throw_range_error(env, NULL, usage);
      return NULL;
    }
  }
  double *acc = malloc(sizeof(double) * (size_t)w);
  if (!acc) {
    napi_throw_error(env, NULL, "segBoxBlur: out of memory");
    return NULL;
  }
  seg_box_rows(src, tmp, w, h, widths[0]);
  seg_box_rows(tmp, out, w, h, widths[1]);
  seg_box_rows(out, tmp, w, h, widths[2]);
  seg_box_columns(tmp, out, w, h, widths[0], acc);
  seg_box_columns(out, tmp, w, h, widths[1], acc);
  seg_box_columns(tmp, out, w, h, widths[2], acc);
  free(acc);
  return NULL;
}

/* segWatershed(cost: Float32Array, markers: Int32Array, mask: Uint8Array, width, height, levels):
 * src/cells/watershed.ts `watershed` is the TS twin (same quantized levels from the same double
 * operations, first in first out within a level): bitwise-equal labels. */
static napi_value seg_watershed(napi_env env, napi_callback_info info) {
  static const char *usage = "segWatershed(cost: Float32Array, markers: Int32Array, mask: Uint8Array of width*height, width, height, levels)";
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 6) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  size_t nc, nm, nk;
  const float *cost = typed_arg(env, argv[0], napi_float32_array, &nc, usage);
  if (!cost) return NULL;
  int32_t *markers = typed_arg(env, argv[1], napi_int32_array, &nm, usage);
  if (!markers) return NULL;
  const uint8_t *mask = typed_arg(env, argv[2], napi_uint8_array, &nk, usage);
  if (!mask) return NULL;
  int32_t w = 0, h = 0, levels = 0;
  napi_get_value_int32(env, argv[3], &w);
  napi_get_value_int32(env, argv[4], &h);
  napi_get_value_int32(env, argv[5], &levels);
  const long n = (long)w * h;
  if (w < 1 || h < 1 || levels < 1 || nc != (size_t)n || nm != (size_t)n || nk != (size_t)n) {
    napi_throw_range_error(env, NULL, usage);
    return NULL;
  }
  double lo = INFINITY, hi = -INFINITY;
  for (long i = 0; i < n; i++) {
    if (!mask[i]) continue;
    const double c = cost[i];
    if (c < lo) lo = c;
    if (c > hi) hi = c;
  }
  if (!(lo <= hi)) return NULL;
  const double scale = hi > lo ? (levels - 1) / (hi - lo) : 0;
  int32_t *head = malloc(sizeof(int32_t) * (2 * (size_t)levels + (size_t)n));
  if (!head) {
    napi_throw_error(env, NULL, "segWatershed: out of memory");
    return NULL;
  }
  int32_t *tail = head + levels, *next = tail + levels;
  for (int l = 0; l < levels; l++) head[l] = tail[l] = -1;
  for (long i = 0; i < n; i++) {
    if (markers[i] == 0 || !mask[i]) continue;
    const int l = (int)(((double)cost[i] - lo) * scale);
    next[i] = -1;
    if (tail[l] == -1) head[l] = (int32_t)i;
    else next[tail[l]] = (int32_t)i;
    tail[l] = (int32_t)i;
  }
  const long offsets[8] = {-w - 1, -w, -w + 1, -1, 1, w - 1, w, w + 1};
  for (int l = 0; l < levels; l++) {
    while (head[l] != -1) {
      const long i = head[l];
      head[l] = next[i];
      if (head[l] == -1) tail[l] = -1;
      const int32_t lab = markers[i];
      const long x = i % w;
      const int interior = x > 0 && x < w - 1 && i >= w && i < n - w;
      for (int k = 0; k < 8; k++) {
        const long j = i + offsets[k];
        if (!interior) {
          if (j < 0 || j >= n) continue;
          const long xj = j % w;
          if (xj - x > 1 || x - xj > 1) continue;
        }
        if (markers[j] != 0 || !mask[j]) continue;
        markers[j] = lab;
        int lj = (int)(((double)cost[j] - lo) * scale);
        if (lj < l) lj = l;
        next[j] = -1;
        if (tail[lj] == -1) head[lj] = (int32_t)j;
        else next[tail[lj]] = (int32_t)j;
        tail[lj] = (int32_t)j;
      }
    }
  }
  free(head);
  return NULL;
}

/* segHistogram(values: Float32Array, counts: Float64Array (zeroed; its length is the number of bins),
 * range: Float64Array(2)): src/cells/threshold.ts `histogram` without a mask is the TS twin (same
 * range, same bins: JS's `| 0` of a non-finite bin position is 0). range = [lo, hi] ([Inf, -Inf]
 * and no counts when no value is a number). */
static napi_value seg_histogram(napi_env env, napi_callback_info info) {
  static const char *usage = "segHistogram(values: Float32Array, counts: Float64Array (bins), range: Float64Array(2))";
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  size_t n, bins, nr;
  const float *a = typed_arg(env, argv[0], napi_float32_array, &n, usage);
  if (!a) return NULL;
  double *counts = typed_arg(env, argv[1], napi_float64_array, &bins, usage);
  if (!counts) return NULL;
  double *range = typed_arg(env, argv[2], napi_float64_array, &nr, usage);
  if (!range) return NULL;
  if (bins < 1 || bins > 0x7fffffff || nr < 2) {
    napi_throw_range_error(env, NULL, usage);
    return NULL;
  }
  double lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < n; i++) {
    const double v = a[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  range[0] = lo;
  range[1] = hi;
  if (!(lo <= hi)) return NULL;
  const double step = (hi - lo) / (double)bins;
  const double scale = step > 0 ? 1 / step : 0;
  const int last = (int)bins - 1;
  for (size_t i = 0; i < n; i++) {
    const double d = ((double)a[i] - lo) * scale;
    int b = isfinite(d) ? (int)d : 0;
    if (b > last) b = last;
    counts[b] += 1;
  }
  return NULL;
}

/* ==== issue 12 (int8 end to end): the whole-field stages beside the network ====
   threadCpuMs: this thread's CPU time (the stage breakdown of bench/embed.ts --breakdown).
   percentilesF32: valuesAtRanks for a Float32Array (src/util/select.ts is the TS twin) in four
   passes at most (min/max, histogram, one gather of every wanted bin, a sort of each): exact order
   statistics, so the same values as sorting.
   scaleTo255F32 / preprocessF32: twins of scaleTo255 (src/embed/scale.ts) and preprocessInto
   (src/models/preprocess.ts), the same double operations in the same order.
   mapFile / unmapFile: a file's bytes mapped read-only (no copy out of the page cache), the
   ArrayBuffer detached when unmapped. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifndef MAP_POPULATE
#ifdef __linux__
#define MAP_POPULATE 0x08000 /* hidden by -std=c11 (no _GNU_SOURCE): Linux's value */
#else
#define MAP_POPULATE 0
#endif
#endif

static napi_value thread_cpu_ms(napi_env env, napi_callback_info info) {
  (void)info;
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  napi_value v;
  napi_create_double(env, (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6, &v);
  return v;
}

static float *f32_arg(napi_env env, napi_value v, size_t *n, const char *message) {
  bool is_ta = false;
  napi_typedarray_type type;
  void *data = NULL;
  napi_is_typedarray(env, v, &is_ta);
  if (is_ta) napi_get_typedarray_info(env, v, &type, n, &data, NULL, NULL);
  if (!is_ta || type != napi_float32_array) {
    napi_throw_type_error(env, NULL, message);
    return NULL;
  }
  return data ? (float *)data : (float *)"";
}

static double *f64_arg(napi_env env, napi_value v, size_t *n, const char *message) {
  bool is_ta = false;
  napi_typedarray_type type;
  void *data = NULL;
  napi_is_typedarray(env, v, &is_ta);
  if (is_ta) napi_get_typedarray_info(env, v, &type, n, &data, NULL, NULL);
  if (!is_ta || type != napi_float64_array) {
    napi_throw_type_error(env, NULL, message);
    return NULL;
  }
  return (double *)data;
}

/* percentilesF32(data: Float32Array, ranks: Float64Array, out: Float64Array) */
static napi_value percentiles_f32(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) {
    napi_throw_type_error(env, NULL, "percentilesF32(data: Float32Array, ranks: Float64Array, out: Float64Array)");
    return NULL;
  }
  size_t n, nr, no;
  const float *data = f32_arg(env, argv[0], &n, "data must be a Float32Array");
  if (!data) return NULL;
  const double *ranks = f64_arg(env, argv[1], &nr, "ranks must be a Float64Array");
  if (!ranks) return NULL;
  double *out = f64_arg(env, argv[2], &no, "out must be a Float64Array");
  if (!out) return NULL;
  if (no < nr || nr > 16) {
    napi_throw_range_error(env, NULL, "out must hold a value per rank, and at most 16 ranks");
    return NULL;
  }
  if (!percentiles_f32_core(data, n, ranks, nr, out)) napi_throw_error(env, NULL, "out of memory");
  return NULL;
}

/* scaleTo255F32(data: Float32Array, lo, hi): [lo, hi] -> [0, 255] in place, clipped */
static napi_value scale_to_255_f32(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  size_t n;
  float *data = argc == 3 ? f32_arg(env, argv[0], &n, "data must be a Float32Array") : NULL;
  if (!data) {
    if (argc != 3) napi_throw_type_error(env, NULL, "scaleTo255F32(data, lo, hi)");
    return NULL;
  }
  double lo, hi;
  napi_get_value_double(env, argv[1], &lo);
  napi_get_value_double(env, argv[2], &hi);
  scale_to_255_core(data, n, lo, hi);
  return NULL;
}

/* preprocessF32(dst: Float32Array, offset, src0, src1, src2: Float32Array, mean: Float64Array(3), scale: Float64Array(3)):
   dst[offset + c*plane + i] = (src_c[i] - mean[c]) * scale[c] */
static napi_value preprocess_f32(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 7) {
    napi_throw_type_error(env, NULL, "preprocessF32(dst, offset, src0, src1, src2, mean, scale)");
    return NULL;
  }
  size_t nd, n[3], nm, ns;
  float *dst = f32_arg(env, argv[0], &nd, "dst must be a Float32Array");
  if (!dst) return NULL;
  double off;
  napi_get_value_double(env, argv[1], &off);
  const float *src[3];
  for (int c = 0; c < 3; c++)
    if (!(src[c] = f32_arg(env, argv[2 + c], &n[c], "sources must be Float32Arrays"))) return NULL;
  const double *mean = f64_arg(env, argv[5], &nm, "mean must be a Float64Array");
  if (!mean) return NULL;
  const double *scale = f64_arg(env, argv[6], &ns, "scale must be a Float64Array");
  if (!scale) return NULL;
  size_t plane = n[0];
  if (n[1] != plane || n[2] != plane || nm < 3 || ns < 3 || !(off >= 0) || (size_t)off + 3 * plane > nd) {
    napi_throw_range_error(env, NULL, "preprocessF32: planes of equal length, 3 means and scales, and room in dst");
    return NULL;
  }
  preprocess_core(dst + (size_t)off, plane, src, mean, scale);
  return NULL;
}

/* Mappings of this thread not yet collected: unmapFile unmaps at once (a burst of reads would
   otherwise keep every file mapped, and counted in RSS, until V8 collects the buffers), the
   finalizer then only frees the record. */
typedef struct mapping {
  void *p;
  size_t size;
  int live;
  struct mapping *next;
} mapping_t;
static _Thread_local mapping_t *mappings = NULL;

static void unmap_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  mapping_t *m = hint;
  for (mapping_t **at = &mappings; *at; at = &(*at)->next)
    if (*at == m) {
      *at = m->next;
      break;
    }
  if (m->live) munmap(m->p, m->size);
  free(m);
}

/* mapFile(path): the file's bytes as an ArrayBuffer mapped read-only (MAP_POPULATE: no page
   faults later), or null when it cannot be mapped (the caller reads it instead, and says why) */
static napi_value map_file(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[4096];
  size_t len = 0;
  napi_value nul;
  napi_get_null(env, &nul);
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], path, sizeof(path), &len) != napi_ok || len >= sizeof(path) - 1) return nul;
  int fd = open(path, O_RDONLY);
  if (fd < 0) return nul;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
    close(fd);
    return nul;
  }
  size_t size = (size_t)st.st_size;
  void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  close(fd);
  if (p == MAP_FAILED) return nul;
  mapping_t *m = malloc(sizeof(mapping_t));
  napi_value ab;
  if (!m || napi_create_external_arraybuffer(env, p, size, unmap_finalize, m, &ab) != napi_ok) {
    munmap(p, size);
    free(m);
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value ex;
      napi_get_and_clear_last_exception(env, &ex);
    }
    return nul;
  }
  m->p = p;
  m->size = size;
  m->live = 1;
  m->next = mappings;
  mappings = m;
  return ab;
}

/* unmapFile(ab): unmap now; the buffer is detached first, so no view of it can read the
   unmapped pages (views become empty) */
static napi_value unmap_file(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool is_ab = false;
  if (argc == 1) napi_is_arraybuffer(env, argv[0], &is_ab);
  if (!is_ab) {
    napi_throw_type_error(env, NULL, "unmapFile(arrayBuffer from mapFile)");
    return NULL;
  }
  void *data = NULL;
  size_t size = 0;
  napi_get_arraybuffer_info(env, argv[0], &data, &size);
  mapping_t *m = mappings;
  while (m && !(m->live && m->p == data)) m = m->next;
  if (!m) return NULL; /* not ours, or unmapped already */
  /* the finalizer may run inside the detach (and free m): take what is needed first */
  void *p = m->p;
  size_t mapped = m->size;
  m->live = 0;
  napi_detach_arraybuffer(env, argv[0]);
  munmap(p, mapped);
  return NULL;
}

/* ==== fastcells: per-thread scratch of segPropagate ===========================================
 * Each worker thread keeps its buffers between fields: a fresh 1280x1024 field's ~35 MB came from
 * mmap and went back on free, so every call paid the first touch of every page again. Slot
 * `slot` grows to at least `bytes` (contents kept when `keep`, else undefined); NULL when out of
 * memory (the slot is then empty). Bounded by the largest field a thread has seen. */
static _Thread_local struct {
  void *p;
  size_t bytes;
} seg_slots[4];

static void *seg_scratch(int slot, size_t bytes, bool keep) {
  if (seg_slots[slot].bytes >= bytes) return seg_slots[slot].p;
  void *p = keep ? realloc(seg_slots[slot].p, bytes) : (free(seg_slots[slot].p), malloc(bytes));
  if (!p && keep) free(seg_slots[slot].p);
  seg_slots[slot].p = p;
  seg_slots[slot].bytes = p ? bytes : 0;
  return p;
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
  napi_create_function(env, "intensityStats", NAPI_AUTO_LENGTH, intensity_stats, NULL, &fn);
  napi_set_named_property(env, exports, "intensityStats", fn);
  napi_create_function(env, "gatherValues", NAPI_AUTO_LENGTH, gather_values, NULL, &fn);
  napi_set_named_property(env, exports, "gatherValues", fn);
  napi_create_function(env, "labelCounts", NAPI_AUTO_LENGTH, label_counts, NULL, &fn);
  napi_set_named_property(env, exports, "labelCounts", fn);
  napi_create_function(env, "labelFill", NAPI_AUTO_LENGTH, label_fill, NULL, &fn);
  napi_set_named_property(env, exports, "labelFill", fn);
  napi_create_function(env, "haralickSums", NAPI_AUTO_LENGTH, haralick_sums, NULL, &fn);
  napi_set_named_property(env, exports, "haralickSums", fn);
  napi_create_function(env, "segPropagate", NAPI_AUTO_LENGTH, seg_propagate, NULL, &fn);
  napi_set_named_property(env, exports, "segPropagate", fn);
  /* mspeed2 */
  napi_create_function(env, "shapePixels", NAPI_AUTO_LENGTH, shape_pixels, NULL, &fn);
  napi_set_named_property(env, exports, "shapePixels", fn);
  napi_create_function(env, "neighbourMask", NAPI_AUTO_LENGTH, neighbour_mask, NULL, &fn);
  napi_set_named_property(env, exports, "neighbourMask", fn);
  napi_create_function(env, "segBinomialBlur", NAPI_AUTO_LENGTH, seg_binomial_blur, NULL, &fn);
  napi_set_named_property(env, exports, "segBinomialBlur", fn);
  napi_create_function(env, "segBoxBlur", NAPI_AUTO_LENGTH, seg_box_blur, NULL, &fn);
  napi_set_named_property(env, exports, "segBoxBlur", fn);
  napi_create_function(env, "segWatershed", NAPI_AUTO_LENGTH, seg_watershed, NULL, &fn);
  napi_set_named_property(env, exports, "segWatershed", fn);
  napi_create_function(env, "segHistogram", NAPI_AUTO_LENGTH, seg_histogram, NULL, &fn);
  napi_set_named_property(env, exports, "segHistogram", fn);
  /* issue 12: the whole-field stages beside the network */
  napi_create_function(env, "threadCpuMs", NAPI_AUTO_LENGTH, thread_cpu_ms, NULL, &fn);
  napi_set_named_property(env, exports, "threadCpuMs", fn);
  napi_create_function(env, "percentilesF32", NAPI_AUTO_LENGTH, percentiles_f32, NULL, &fn);
  napi_set_named_property(env, exports, "percentilesF32", fn);
  napi_create_function(env, "scaleTo255F32", NAPI_AUTO_LENGTH, scale_to_255_f32, NULL, &fn);
  napi_set_named_property(env, exports, "scaleTo255F32", fn);
  napi_create_function(env, "preprocessF32", NAPI_AUTO_LENGTH, preprocess_f32, NULL, &fn);
  napi_set_named_property(env, exports, "preprocessF32", fn);
  napi_create_function(env, "mapFile", NAPI_AUTO_LENGTH, map_file, NULL, &fn);
  napi_set_named_property(env, exports, "mapFile", fn);
  napi_create_function(env, "unmapFile", NAPI_AUTO_LENGTH, unmap_file, NULL, &fn);
  napi_set_named_property(env, exports, "unmapFile", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
