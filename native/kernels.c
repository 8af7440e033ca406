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
  int *dist = malloc(sizeof(int) * n);
  unsigned short *costs = malloc(sizeof(unsigned short) * 4 * n);
  int *head = malloc(sizeof(int) * (size_t)buckets);
  size_t cap = 2 * n + 1024, entries = 0, pending = 0;
  int *ent = malloc(sizeof(int) * 2 * cap);
  if (!dist || !costs || !head || !ent) {
    free(dist); free(costs); free(head); free(ent);
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
      int *bigger = realloc(ent, sizeof(int) * 2 * cap);
      if (!bigger) {
        free(dist); free(costs); free(head); free(ent);
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
  free(dist);
  free(costs);
  free(head);
  free(ent);
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
  napi_create_function(env, "segPropagate", NAPI_AUTO_LENGTH, seg_propagate, NULL, &fn);
  napi_set_named_property(env, exports, "segPropagate", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
