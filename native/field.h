/*
 * The whole-field kernels beside the network (area downsample, percentiles, scaling, network
 * preprocessing), in plain C without Node-API: native/kernels.c wraps them for Node (the addon),
 * native/wasm.c exports them as WebAssembly for the page (web/build.mjs compiles it with clang).
 * One source, so the page and the CLI compute the same doubles; the TypeScript twins
 * (src/image/resample.ts, src/util/select.ts, src/embed/scale.ts, src/models/preprocess.ts) do the
 * same IEEE double operations in the same order (no fast-math, no FMA contraction), so all three
 * give bitwise-equal results (tested).
 */
#ifndef MORPHOPROF_FIELD_H
#define MORPHOPROF_FIELD_H
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* scratch kept per thread (worker threads may each load the addon); WebAssembly without threads
   has one */
#if defined(__wasm__)
#define FIELD_TLS
#else
#define FIELD_TLS _Thread_local
#endif

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

/* The horizontal pass from row y0 on: output x of a row is first*p[s] + p[s+1] + ... + last*p[e],
   then *norm, in that order (the TypeScript twin's order). */
#define HPASS(T, y0)                                                    \
  for (int y = (y0); y < sh; y++) {                                     \
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

/* The horizontal pass of a 16-bit field (every real TIFF), two rows per 128-bit register: the two
   rows are interleaved into doubles (t[2k] = row y, t[2k+1] = row y+1) with vector conversions,
   then each lane does exactly the scalar operations (first*p[s] + p[s+1] + ... + last*p[e], then
   *norm, in that order; the vector add and mul are per-lane IEEE operations, never fused), so the
   results are the same doubles as HPASS and the TypeScript twin. One loop for x86 (SSE2, in the
   addon) and WebAssembly SIMD (in the page), over the few primitives each spells its own way. */
#if defined(__SSE2__)
#include <emmintrin.h>
#define FIELD_SIMD 1
typedef __m128d pair_t;
#define PAIR_LOAD(p) _mm_loadu_pd(p)
#define PAIR_SPLAT(v) _mm_set1_pd(v)
#define PAIR_ADD(a, b) _mm_add_pd(a, b)
#define PAIR_MUL(a, b) _mm_mul_pd(a, b)
#define PAIR_LO(a) _mm_cvtsd_f64(a)
#define PAIR_HI(a) _mm_cvtsd_f64(_mm_unpackhi_pd(a, a))
/* the field comes from DRAM (the page cache, not the CPU cache): the next rows are asked for early */
#define PREFETCH(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)

/* rows r0 and r1 interleaved into doubles: t[2k] = r0[k], t[2k+1] = r1[k] */
static void interleave_u16(const unsigned short *r0, const unsigned short *r1, int sw, double *t) {
  const __m128i zero = _mm_setzero_si128();
  int k = 0;
  for (; k + 8 <= sw; k += 8) {
    __m128i p0 = _mm_loadu_si128((const __m128i *)(r0 + k)), p1 = _mm_loadu_si128((const __m128i *)(r1 + k));
    __m128i v = _mm_unpacklo_epi16(p0, p1), u = _mm_unpackhi_epi16(p0, p1);
    __m128i q[4] = {_mm_unpacklo_epi16(v, zero), _mm_unpackhi_epi16(v, zero), _mm_unpacklo_epi16(u, zero), _mm_unpackhi_epi16(u, zero)};
    double *d = t + 2 * (size_t)k;
    for (int i = 0; i < 4; i++) {
      _mm_storeu_pd(d + 4 * i, _mm_cvtepi32_pd(q[i]));
      _mm_storeu_pd(d + 4 * i + 2, _mm_cvtepi32_pd(_mm_shuffle_epi32(q[i], 0x4e)));
    }
  }
  for (; k < sw; k++) {
    t[2 * (size_t)k] = (double)r0[k];
    t[2 * (size_t)k + 1] = (double)r1[k];
  }
}
#elif defined(__wasm_simd128__)
#include <wasm_simd128.h>
#define FIELD_SIMD 1
typedef v128_t pair_t;
#define PAIR_LOAD(p) wasm_v128_load(p)
#define PAIR_SPLAT(v) wasm_f64x2_splat(v)
#define PAIR_ADD(a, b) wasm_f64x2_add(a, b)
#define PAIR_MUL(a, b) wasm_f64x2_mul(a, b)
#define PAIR_LO(a) wasm_f64x2_extract_lane(a, 0)
#define PAIR_HI(a) wasm_f64x2_extract_lane(a, 1)
#define PREFETCH(p) ((void)(p))

static void interleave_u16(const unsigned short *r0, const unsigned short *r1, int sw, double *t) {
  int k = 0;
  for (; k + 8 <= sw; k += 8) {
    v128_t p0 = wasm_v128_load(r0 + k), p1 = wasm_v128_load(r1 + k);
    v128_t v = wasm_i16x8_shuffle(p0, p1, 0, 8, 1, 9, 2, 10, 3, 11), u = wasm_i16x8_shuffle(p0, p1, 4, 12, 5, 13, 6, 14, 7, 15);
    v128_t q[4] = {wasm_u32x4_extend_low_u16x8(v), wasm_u32x4_extend_high_u16x8(v), wasm_u32x4_extend_low_u16x8(u), wasm_u32x4_extend_high_u16x8(u)};
    double *d = t + 2 * (size_t)k;
    for (int i = 0; i < 4; i++) {
      wasm_v128_store(d + 4 * i, wasm_f64x2_convert_low_u32x4(q[i]));
      wasm_v128_store(d + 4 * i + 2, wasm_f64x2_convert_low_u32x4(wasm_i32x4_shuffle(q[i], q[i], 2, 3, 0, 1)));
    }
  }
  for (; k < sw; k++) {
    t[2 * (size_t)k] = (double)r0[k];
    t[2 * (size_t)k + 1] = (double)r1[k];
  }
}
#endif

#if defined(FIELD_SIMD)
/* Returns the first row it did not do (HPASS does the rest). */
static int hpass_u16_simd(const unsigned short *data, int sw, int sh, int w, const cover_t *cx, double *rows, double *t) {
  int y = 0;
  double *t2 = t + 2 * (size_t)sw;
  for (; y + 4 <= sh; y += 4) {
    const unsigned short *r0 = data + (size_t)y * sw;
    interleave_u16(r0, r0 + sw, sw, t);
    interleave_u16(r0 + 2 * (size_t)sw, r0 + 3 * (size_t)sw, sw, t2);
    double *o0 = rows + (size_t)y * w, *o1 = o0 + w, *o2 = o1 + w, *o3 = o2 + w;
    /* the next four rows, a cache line per output, asked for while these are summed */
    const char *next = (const char *)(r0 + 4 * (size_t)sw);
    size_t ahead = y + 8 <= sh ? 4 * (size_t)sw * sizeof(unsigned short) : 0;
    for (int x = 0; x < w; x++) {
      if ((size_t)x * 64 < ahead) PREFETCH(next + (size_t)x * 64);
      int s = cx->start[x], e = cx->end[x] - 1;
      pair_t f = PAIR_SPLAT(cx->first[x]);
      pair_t a = PAIR_MUL(f, PAIR_LOAD(t + 2 * (size_t)s));
      pair_t b = PAIR_MUL(f, PAIR_LOAD(t2 + 2 * (size_t)s));
      if (e > s) {
        for (int j = s + 1; j < e; j++) {
          a = PAIR_ADD(a, PAIR_LOAD(t + 2 * (size_t)j));
          b = PAIR_ADD(b, PAIR_LOAD(t2 + 2 * (size_t)j));
        }
        pair_t l = PAIR_SPLAT(cx->last[x]);
        a = PAIR_ADD(a, PAIR_MUL(l, PAIR_LOAD(t + 2 * (size_t)e)));
        b = PAIR_ADD(b, PAIR_MUL(l, PAIR_LOAD(t2 + 2 * (size_t)e)));
      }
      pair_t n = PAIR_SPLAT(cx->norm[x]);
      a = PAIR_MUL(a, n);
      b = PAIR_MUL(b, n);
      o0[x] = PAIR_LO(a);
      o1[x] = PAIR_HI(a);
      o2[x] = PAIR_LO(b);
      o3[x] = PAIR_HI(b);
    }
  }
  return y;
}
#endif

/* Pixel types of the kernels' inputs. */
enum { PIXELS_U8 = 0, PIXELS_U16 = 1, PIXELS_F32 = 2, PIXELS_F64 = 3 };

/* Area-average resampling of sw x sh pixels of `type` into w x h floats at `out` (the TypeScript
   twin: areaResizeJs in src/image/resample.ts). Returns 0 when out of memory. */
static int area_resize_core(int type, const void *data, int sw, int sh, int w, int h, float *out) {
  cover_t cx, cy;
  /* a fresh 1.8 MB block per image would be mapped and zeroed by the kernel every time */
  static FIELD_TLS double *scratch = NULL;
  static FIELD_TLS size_t scratch_len = 0;
  /* rows of the horizontal pass, one row of vertical sums, four source rows interleaved in pairs (SIMD) */
  size_t need = (size_t)w * sh + (size_t)w + 4 * (size_t)sw;
  if (scratch_len < need) {
    free(scratch);
    scratch = malloc(sizeof(double) * need);
    scratch_len = scratch ? need : 0;
  }
  double *rows = scratch;
  double *acc = scratch ? scratch + (size_t)w * sh : NULL;
  if (!rows) return 0;
  if (!cover_make(&cx, sw, w)) return 0;
  if (!cover_make(&cy, sh, h)) {
    cover_free(&cx);
    return 0;
  }
  if (type == PIXELS_U8) { HPASS(unsigned char, 0) }
  else if (type == PIXELS_U16) {
#if defined(FIELD_SIMD)
    int y0 = hpass_u16_simd((const unsigned short *)data, sw, sh, w, &cx, rows, acc + w);
#else
    int y0 = 0;
#endif
    HPASS(unsigned short, y0)
  }
  else if (type == PIXELS_F32) { HPASS(float, 0) }
  else { HPASS(double, 0) }
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
  return 1;
}

/* ---- exact order statistics: the same algorithm as src/util/select.ts (histogram over [min, max],
   then only the wanted bin sorted), so the same values ---- */

#define BINS 4096

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The values at nr <= 16 ranks of n floats (valuesAtRanksJs in src/util/select.ts is the twin).
   Returns 0 when out of memory. */
static int percentiles_f32_core(const float *data, size_t n, const double *ranks, size_t nr, double *out) {
  double min = INFINITY, max = -INFINITY;
  for (size_t i = 0; i < n; i++) {
    double v = data[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (n == 0 || !(max > min)) {
    for (size_t j = 0; j < nr; j++) out[j] = n == 0 ? NAN : min;
    return 1;
  }
  double k = (BINS - 1) / (max - min);
  static FIELD_TLS unsigned int counts[BINS];
  memset(counts, 0, sizeof(counts));
  /* (v - min) * k >= 0, so truncation is floor (as the twin's Math.floor) */
  for (size_t i = 0; i < n; i++) counts[(int)(((double)data[i] - min) * k)]++;
  int bin[16];
  size_t below[16], at[16], rank[16];
  for (size_t j = 0; j < nr; j++) {
    double rd = ranks[j];
    size_t r = rd < 0 ? 0 : (size_t)rd > n - 1 ? n - 1 : (size_t)rd;
    int b = 0;
    size_t s = 0;
    while (s + counts[b] <= r) s += counts[b++];
    bin[j] = b;
    below[j] = s;
    rank[j] = r;
  }
  /* one pass gathers the values of every wanted bin (bins may repeat: each gathered once) */
  int first[16];
  size_t total = 0;
  for (size_t j = 0; j < nr; j++) {
    first[j] = (int)j;
    for (size_t q = 0; q < j; q++)
      if (bin[q] == bin[j]) {
        first[j] = (int)q;
        break;
      }
    if (first[j] == (int)j) {
      at[j] = total;
      total += counts[bin[j]];
    } else at[j] = at[first[j]];
  }
  double *vals = malloc(sizeof(double) * (total ? total : 1));
  if (!vals) return 0;
  size_t fill[16];
  for (size_t j = 0; j < nr; j++) fill[j] = at[j];
  for (size_t i = 0; i < n; i++) {
    double v = data[i];
    int b = (int)((v - min) * k);
    for (size_t j = 0; j < nr; j++)
      if (first[j] == (int)j && bin[j] == b) {
        vals[fill[j]++] = v;
        break;
      }
  }
  for (size_t j = 0; j < nr; j++)
    if (first[j] == (int)j) qsort(vals + at[j], counts[bin[j]], sizeof(double), cmp_double);
  for (size_t j = 0; j < nr; j++) out[j] = vals[at[j] + (rank[j] - below[j])];
  free(vals);
  return 1;
}

/* [lo, hi] -> [0, 255] in place, clipped (scaleTo255Js in src/embed/scale.ts is the twin) */
static void scale_to_255_core(float *data, size_t n, double lo, double hi) {
  double span = hi - lo;
  double k = span > 0 ? 255 / span : 0;
  for (size_t i = 0; i < n; i++) {
    double v = ((double)data[i] - lo) * k;
    data[i] = (float)(v < 0 ? 0 : v > 255 ? 255 : v);
  }
}

/* dst[c*plane + i] = (src_c[i] - mean[c]) * scale[c] (preprocessIntoJs in src/models/preprocess.ts is the twin) */
static void preprocess_core(float *dst, size_t plane, const float *const src[3], const double *mean, const double *scale) {
  for (int c = 0; c < 3; c++) {
    float *o = dst + (size_t)c * plane;
    const float *s = src[c];
    double m = mean[c], k = scale[c];
    for (size_t i = 0; i < plane; i++) o[i] = (float)(((double)s[i] - m) * k);
  }
}

#endif
