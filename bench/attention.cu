// Lab 7 kernel variants, side by side on one GPU: the measurements behind reference/cuda/attention.cu.
// Build and run:  make bench-variants && build/bench/attention [--check-only] [--quick] [--waves] [--group G]
//
// 1. The FP32 FMA rate of this GPU, measured (the bar for version 1 is 65% of it).
// 2. A self-check of every variant against a float64 reference computed on the GPU from the same
//    inputs (one block per query row, scores, softmax and the weighted sum in double), on small
//    shapes chosen for their edges: n = m = 1, n or m not a multiple of 64, causal with n > m
//    (queries that see no key: o = 0) and n < m, large logits. Outputs are filled with NaN first,
//    so an element a kernel never writes fails. Worst error printed in units of the tolerance:
//    float32 |err| ≤ 1e-5·L + 1e-4·|o| (L: the shape's logit scale), bf16 5e-3·L + 1e-2·|o|.
//    Plain TF32 (one MMA per product) is there to fail the float32 tolerance.
// 3. Timings at the bar's size, b = 4, h = 16, n = m = 4096, d = 128 (and d = 64), causal and not,
//    and at part (a)'s GPU speed case, b = h = 1, n = m = 8192, d = 128 (less than one wave):
//    median of 22 runs (bench/common.cuh: CUDA events, L2 flushed before each), TFLOP/s =
//    4·b·h·n·m·d / time, half of it with the causal mask; each timed output is then checked on 8
//    rows of every head against the float64 reference.
// --group G: every kernel's causal grid in groups of G heads, longest tiles first across the group
// (attn_block); the library's is 8, and 1 is head by head, the order it had before.
// --waves: instead of 3, the cost of the grid's last, partly filled wave. The bar's shape is 4096
//    blocks of 64 queries; an H100 or H200 holds 2 blocks of versions 1 and 2 on each of its 132
//    SMs, so they run in 15.5 waves of 264, the last half empty. Times b = 1, n = m = 4096, d = 128
//    (not causal) at h = 62 to 68 heads: where h·64 blocks fill whole waves (h = 66 there) the rate
//    per head is the grid's without a tail, and the other rows say what the tail costs. The list-
//    scheduling model (bench/attention_grid_order.py) puts the bar's grid 3.1% past its work, and
//    1.2% with the last 136 blocks' keys split in thirds (in halves 3.3%: nothing won). On an H100
//    the tail cost 2.7%, and the split gained more than that (thirds 4.8%, halves 4.3%): an SM that
//    runs one block alone runs it faster than half its pace with two. The library's version 1
//    splits so at d = 128 without the mask (attn_fma_split_kernel, attn_fma_best_launch); "no
//    split" is the kernel as it was, timed beside it here and in 3. --quick's self-check runs the
//    split at every d (the shapes' few tiles all fall in the last wave, so every one is split).
// Exit status 1 when any check fails.
//
// Versions (reference/cuda/attention_kernels.cuh):
//   1  float32, FMAs, register-blocked (em_attention_cuda: a small grid with every tile's keys in
//      up to 32 pieces, attn_fma_pieces_run; at d = 128 without the mask the grid's last wave split
//      in thirds, attn_fma_split_kernel, and a grid of less than one wave in as many pieces as the
//      slots hold, at most thirds), the kernel without the split, its unrolling variants, the split
//      in halves and quarters, and pieces from 2 at every d (--decode);
//   2  float32 on the tensor cores, 3xTF32 (em_attention_tf32x3_cuda), S unrolled fully, and plain
//      TF32;
//   3  bf16 on the tensor cores, float32 accumulation (em_attention_bf16_cuda without sm_90a);
//   4  bf16 on Hopper's warpgroup MMA (wgmma, sm_90a), keys in tiles of 128 or 64, and 4b, its
//      softmax overlapped with the MMAs of the next tile over three stages (slower on an H100);
//   5  version 4b's tile fed by a producer warpgroup through the TMA, the two consumer warpgroups
//      taking turns at the tensor cores, keys by 128 or 64; and 5p, version 5 by 128 keys made
//      persistent, a block per SM taking query tiles from a queue, with two consumer warpgroups or
//      three (192 queries a block; keys by 64 at d = 128). em_attention_bf16_cuda runs 5p on Hopper,
//      with two at d = 128 and three at d = 64. Versions 4 and 5 are present where the bench is
//      built for sm_90a (EM_BENCH_SM90A, the Makefile's choice on an sm_90 target).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

// --group: the causal grid's heads per group (attn_block), the library's 8 unless told.
static __device__ int attn_group_order = 8;
#define EM_ATTN_GROUP attn_group_order
#include "../reference/cuda/attention_kernels.cuh"
#include "common.cuh"
#include "em/bf16.h"

namespace {

// ---- the FP32 FMA rate ---------------------------------------------------------------------------

// ---- inputs and the float64 reference --------------------------------------------------------------

// bfloat16 conversions: the library's (round to nearest even), so the bench rounds as the checker does.
uint16_t to_bf16(float f) { return em_f32_to_bf16(f); }
float from_bf16(uint16_t h) { return em_bf16_to_f32(h); }

// Uniform in [-1, 1) from a hash of (tensor, index): the same inputs on every run.
float hashed(uint64_t i, uint32_t salt) {
  uint64_t x = i * 0x9e3779b97f4a7c15ull + salt * 0xbf58476d1ce4e5b9ull;
  x ^= x >> 31, x *= 0x94d049bb133111ebull, x ^= x >> 29;
  return (float)((x >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

// One block (128 threads) per (checked row r, head): o[i] in double for i = rows[r]. Scores in
// dynamic shared memory (m doubles). It reads the float32 tensors: the inputs are bf16-exact, so
// they are the bf16 variant's inputs too.
__global__ void reference_rows_kernel(const float *q, const float *k, const float *v, double *out, int n, int m,
                                      int d, int causal, const int *rows, int nrows) {
  extern __shared__ double sc[];
  __shared__ double red[128];
  const int r = blockIdx.x, tid = threadIdx.x;
  const int64_t head = blockIdx.y, i = rows[r];
  const float *qi = q + (head * n + i) * d, *kh = k + head * m * d, *vh = v + head * m * d;
  const double scale = 1.0 / sqrt((double)d);
  double mx = -INFINITY;
  for (int j = tid; j < m; j += 128) {
    double s = -INFINITY;
    if (!causal || j <= i + m - n) {
      s = 0.0;
      for (int c = 0; c < d; ++c) s += (double)qi[c] * kh[(int64_t)j * d + c];
      s *= scale;
    }
    sc[j] = s;
    mx = fmax(mx, s);
  }
  red[tid] = mx;
  __syncthreads();
  for (int w = 64; w > 0; w /= 2) {
    if (tid < w) red[tid] = fmax(red[tid], red[tid + w]);
    __syncthreads();
  }
  mx = red[0];
  __syncthreads();
  double sum = 0.0;
  for (int j = tid; j < m; j += 128) {
    sc[j] = mx == -INFINITY ? 0.0 : exp(sc[j] - mx);
    sum += sc[j];
  }
  red[tid] = sum;
  __syncthreads();
  for (int w = 64; w > 0; w /= 2) {
    if (tid < w) red[tid] += red[tid + w];
    __syncthreads();
  }
  sum = red[0];
  for (int c = tid; c < d; c += 128) {
    double acc = 0.0;
    for (int j = 0; j < m; ++j) acc += sc[j] * vh[(int64_t)j * d + c];
    out[((int64_t)head * nrows + r) * d + c] = sum > 0.0 ? acc / sum : 0.0;
  }
}

// ---- one problem on the device ----------------------------------------------------------------------

// Versions 4 and 4b take d = 64 and 128 with 16-byte-aligned tensors; for the rest of the
// self-check's shapes they answer cudaErrorNotSupported, and version 3 runs, as in the library.
#if EM_BENCH_SM90A
// Version 4b, as attn_wg_launch (other d and misaligned tensors: cudaErrorNotSupported). Here, not
// in the kernels' header, so that the library's objects, which never run it, hold none of it.
cudaError_t attn_wg2_launch(AttnArgs a, int d, int64_t blocks) {
  if (!a.aligned || (d != 64 && d != 128)) return cudaErrorNotSupported;
  const int64_t bh = blocks / a.qtiles;
  a.qtiles = (a.n + 127) / 128;
  const int64_t wblocks = (int64_t)a.qtiles * bh;
  if (d == 64) return attn_launch(attn_wg2_kernel<64>, AttnWg2Cfg<64>::kSmem, a, wblocks, 256);
  return attn_launch(attn_wg2_kernel<128>, AttnWg2Cfg<128>::kSmem, a, wblocks, 256);
}

cudaError_t or_v3(cudaError_t e, const AttnArgs &a, int d, int64_t blocks) {
  return e == cudaErrorNotSupported ? attn_bf16_launch(a, d, blocks) : e;
}
#endif

// Version 1 with its last wave split in P pieces at every d (the library splits at d = 128 without
// the mask only: attn_fma_best_launch), into the bench's one workspace.
AttnSplitSpace split_space;
template <int P = kAttnSplit, int U1 = 4, int U2 = 4>
cudaError_t attn_fma_split(const AttnArgs &a, int d, int64_t tiles) {
  switch (d) {
    case 16: return attn_fma_split_launch<16, P, U1, U2>(a, tiles, split_space);
    case 32: return attn_fma_split_launch<32, P, U1, U2>(a, tiles, split_space);
    case 64: return attn_fma_split_launch<64, P, U1, U2>(a, tiles, split_space);
    default: return attn_fma_split_launch<128, P, U1, U2>(a, tiles, split_space);
  }
}

// Version 1 with every tile's keys split in as many pieces as the blocks resident at once allow
// (at most 32, at most a key tile each) wherever that makes 2 or more: the library's launch
// (attn_fma_pieces_run) but for d = 128 without the mask, where the library starts at 4 and runs
// grids between a quarter and half a wave in halves or thirds. Otherwise the library's launch.
template <int D>
cudaError_t attn_fma_pieces_d(const AttnArgs &a, int64_t tiles) {
  bool ran = false;
  const cudaError_t e = attn_fma_pieces_run<D>(a, tiles, 2, split_space, ran);
  return e != cudaSuccess || ran ? e : attn_fma_best_launch(a, D, tiles, split_space);
}
cudaError_t attn_fma_pieces(const AttnArgs &a, int d, int64_t tiles) {
  switch (d) {
    case 16: return attn_fma_pieces_d<16>(a, tiles);
    case 32: return attn_fma_pieces_d<32>(a, tiles);
    case 64: return attn_fma_pieces_d<64>(a, tiles);
    default: return attn_fma_pieces_d<128>(a, tiles);
  }
}

#if EM_BENCH_SM90A
// Version 5p with three consumer warpgroups, 192 queries a block: keys by 128 at d = 64, by 64 at
// d = 128 (where 160 registers a consumer hold no more).
cudaError_t attn_ws3_launch(const AttnArgs &a, int d, int64_t blocks) {
  return attn_ws_pick<128, 64, true, 3, 3>(a, d, blocks);
}
#endif

enum Variant {
  kFma, kFmaWhole, kFmaU1, kFmaU8, kFmaU42, kFmaU82, kFmaSplit, kFmaSplit2, kFmaSplit4, kFmaSplitU8,  // version 1 first
  kFmaPieces, kTf32x3, kTf32x3Full, kTf32x1, kBf16, kWg128, kWg64, kWg2, kWs128, kWs64, kWsP128, kWsP3
};
const char *variant_name(Variant v) {
  switch (v) {
    case kFma: return "v1 fp32 FMA (ref.)";
    case kFmaWhole: return "v1 fp32 FMA, unroll 4/4, no split";
    case kFmaU1: return "v1 fp32 FMA, unroll 1/1";
    case kFmaU8: return "v1 fp32 FMA, unroll 8/4";
    case kFmaU42: return "v1 fp32 FMA, unroll 4/2";
    case kFmaU82: return "v1 fp32 FMA, unroll 8/2";
    case kFmaSplit: return "v1 fp32 FMA, last wave in thirds";
    case kFmaSplit2: return "v1 fp32 FMA, last wave in halves";
    case kFmaSplit4: return "v1 fp32 FMA, last wave in quarters";
    case kFmaSplitU8: return "v1 fp32 FMA, 8/4, last wave thirds";
    case kFmaPieces: return "v1 fp32 FMA, keys in up to 32 pieces";
    case kTf32x3: return "v2 fp32 3xTF32 mma (ref.)";
    case kTf32x3Full: return "v2 fp32 3xTF32 mma, S unrolled fully";
    case kTf32x1: return "v2' fp32 plain TF32 mma";
    case kWg128: return "v4 bf16 wgmma, keys by 128";
    case kWg64: return "v4 bf16 wgmma, keys by 64";
    case kWg2: return "v4b bf16 wgmma, 3 stages, overlapped";
    case kWs128: return "v5 bf16 wgmma, TMA, turns";
    case kWs64: return "v5 bf16 wgmma, TMA, turns, keys 64";
    case kWsP128: return "v5p persistent (ref. d=128)";
    case kWsP3: return "v5p, 3 consumers (ref. d=64)";
    default: return "v3 bf16 mma (ref. elsewhere)";
  }
}
const char *variant_tag(Variant v) {  // the self-check's column label
  switch (v) {
    case kFma: return "fma";
    case kFmaWhole: return "whole";
    case kFmaU1: return "u1";
    case kFmaU8: return "u8";
    case kFmaU42: return "u42";
    case kFmaU82: return "u82";
    case kFmaSplit: return "split";
    case kFmaSplit2: return "split2";
    case kFmaSplit4: return "split4";
    case kFmaSplitU8: return "split-u8";  // thirds with the 8/4 unrolling, not 8 pieces
    case kFmaPieces: return "pieces";
    case kTf32x3: return "x3";
    case kTf32x3Full: return "x3full";
    case kTf32x1: return "tf32";
    case kWg128: return "wg128";
    case kWg64: return "wg64";
    case kWg2: return "wg2";
    case kWs128: return "ws128";
    case kWs64: return "ws64";
    case kWsP128: return "wsp128";
    case kWsP3: return "wsp3";
    default: return "bf16";
  }
}
bool is_fma(Variant v) { return v <= kFmaPieces; }  // version 1's variants come first in Variant
bool is_ws(Variant v) { return v == kWs128 || v == kWs64 || v == kWsP128 || v == kWsP3; }
bool is_wg(Variant v) { return v == kWg128 || v == kWg64 || v == kWg2 || is_ws(v); }
int threads_of(Variant v) { return v == kWsP3 ? 512 : is_ws(v) ? 384 : is_wg(v) ? 256 : kAttnThreads; }
int queries_of(Variant v) { return v == kWsP3 ? 192 : is_wg(v) ? 128 : kAttnBM; }  // a query tile's
bool is_bf16(Variant v) { return v == kBf16 || is_wg(v); }

struct Shape {
  int b, h, n, m, d, causal;
  float logit;  // q is scaled by this: scores up to ~logit·√d·(1/3)
};

struct Problem {
  Shape s;
  float *q = nullptr, *k = nullptr, *v = nullptr, *o = nullptr;  // float32 tensors
  uint16_t *qh = nullptr, *kh = nullptr, *vh = nullptr, *oh = nullptr;  // the same values in bf16
  int64_t nq = 0, nk = 0;  // elements of q (and o), of k (and v)

  explicit Problem(const Shape &shape) : s(shape) {
    nq = (int64_t)s.b * s.h * s.n * s.d;
    nk = (int64_t)s.b * s.h * s.m * s.d;
    std::vector<float> hq(nq), hk(nk), hv(nk);
    for (int64_t i = 0; i < nq; ++i) hq[i] = s.logit * hashed(i, 1);
    for (int64_t i = 0; i < nk; ++i) hk[i] = hashed(i, 2), hv[i] = hashed(i, 3);
    // Inputs exactly representable in bf16, so that the float32 and bf16 variants see one problem.
    for (auto *x : {&hq, &hk, &hv})
      for (float &f : *x) f = from_bf16(to_bf16(f));
    upload(&q, &qh, hq);
    upload(&k, &kh, hk);
    upload(&v, &vh, hv);
    CHECK(cudaMalloc(&o, std::max<int64_t>(nq, 1) * sizeof(float)));
    CHECK(cudaMalloc(&oh, std::max<int64_t>(nq, 1) * sizeof(uint16_t)));
  }
  ~Problem() {
    for (void *p : {(void *)q, (void *)k, (void *)v, (void *)o, (void *)qh, (void *)kh, (void *)vh, (void *)oh})
      CHECK(cudaFree(p));
  }
  Problem(const Problem &) = delete;
  Problem &operator=(const Problem &) = delete;

  static void upload(float **f, uint16_t **h, const std::vector<float> &x) {
    std::vector<uint16_t> b(x.size());
    for (size_t i = 0; i < x.size(); ++i) b[i] = to_bf16(x[i]);
    CHECK(cudaMalloc(f, std::max<size_t>(x.size(), 1) * sizeof(float)));
    CHECK(cudaMalloc(h, std::max<size_t>(b.size(), 1) * sizeof(uint16_t)));
    CHECK(cudaMemcpy(*f, x.data(), x.size() * sizeof(float), cudaMemcpyHostToDevice));
    CHECK(cudaMemcpy(*h, b.data(), b.size() * sizeof(uint16_t), cudaMemcpyHostToDevice));
  }

  // Queues the variant's kernel (no synchronisation), as the library's launcher would.
  void launch(Variant var) const {
    AttnArgs a;
    const bool h16 = is_bf16(var);
    const int64_t blocks = attn_args(&a, h16 ? (const void *)qh : q, h16 ? (const void *)kh : k,
                                     h16 ? (const void *)vh : v, h16 ? (void *)oh : o, (int64_t)s.b * s.h, s.n, s.m,
                                     s.d, s.causal);
    switch (var) {
      case kFma: CHECK(attn_fma_best_launch(a, s.d, blocks, split_space)); break;
      case kFmaU1: CHECK((attn_fma_launch<1, 1>(a, s.d, blocks))); break;
      case kFmaU8: CHECK((attn_fma_launch<8, 4>(a, s.d, blocks))); break;
      case kFmaU42: CHECK((attn_fma_launch<4, 2>(a, s.d, blocks))); break;
      case kFmaU82: CHECK((attn_fma_launch<8, 2>(a, s.d, blocks))); break;
      case kFmaWhole: CHECK(attn_fma_launch(a, s.d, blocks)); break;
      case kFmaSplit: CHECK(attn_fma_split(a, s.d, blocks)); break;
      case kFmaSplit2: CHECK(attn_fma_split<2>(a, s.d, blocks)); break;
      case kFmaSplit4: CHECK(attn_fma_split<4>(a, s.d, blocks)); break;
      case kFmaSplitU8: CHECK((attn_fma_split<3, 8, 4>(a, s.d, blocks))); break;
      case kFmaPieces: CHECK(attn_fma_pieces(a, s.d, blocks)); break;
      case kTf32x3: CHECK(attn_tf32_launch<true>(a, s.d, blocks)); break;
      case kTf32x3Full: CHECK((attn_tf32_launch<true, -1>(a, s.d, blocks))); break;
      case kTf32x1: CHECK(attn_tf32_launch<false>(a, s.d, blocks)); break;
      case kBf16: CHECK(attn_bf16_launch(a, s.d, blocks)); break;
#if EM_BENCH_SM90A
      case kWg128: CHECK(or_v3(attn_wg_launch<128>(a, s.d, blocks), a, s.d, blocks)); break;
      case kWg64: CHECK(or_v3(attn_wg_launch<64>(a, s.d, blocks), a, s.d, blocks)); break;
      case kWg2: CHECK(or_v3(attn_wg2_launch(a, s.d, blocks), a, s.d, blocks)); break;
      case kWs128: CHECK(or_v3(attn_ws_launch<128>(a, s.d, blocks), a, s.d, blocks)); break;
      case kWs64: CHECK(or_v3(attn_ws_launch<64>(a, s.d, blocks), a, s.d, blocks)); break;
      case kWsP128: CHECK(or_v3(attn_ws_launch<128, true>(a, s.d, blocks), a, s.d, blocks)); break;
      case kWsP3: CHECK(or_v3(attn_ws3_launch(a, s.d, blocks), a, s.d, blocks)); break;
#else
      case kWg128: case kWg64: case kWg2: case kWs128: case kWs64: case kWsP128: case kWsP3:
        std::fprintf(stderr, "%s: this bench was not built for sm_90a\n", variant_name(var));
        std::exit(1);
#endif
    }
  }

  // Worst |got − want| / (atol + rtol·|want|) over the given rows of every head (NaN if any
  // output is NaN or infinite), against the float64 reference from the same (bf16-exact) inputs.
  double check(Variant var, const std::vector<int> &rows) const {
    const int nr = (int)rows.size(), heads = s.b * s.h;
    int *drows = nullptr;
    double *want = nullptr;
    CHECK(cudaMalloc(&drows, nr * sizeof(int)));
    CHECK(cudaMalloc(&want, (size_t)heads * nr * s.d * sizeof(double)));
    CHECK(cudaMemcpy(drows, rows.data(), nr * sizeof(int), cudaMemcpyHostToDevice));
    // One double spare: the compiler reads sc[] in pairs (16-byte loads) in the kernel's last loop,
    // and memcheck found the second of a pair past an odd m.
    const size_t smem = ((size_t)s.m + 1) * sizeof(double);
    CHECK(cudaFuncSetAttribute(reference_rows_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    reference_rows_kernel<<<dim3(nr, heads), 128, smem>>>(q, k, v, want, s.n, s.m, s.d, s.causal, drows, nr);
    CHECK(cudaGetLastError());
    std::vector<double> hw((size_t)heads * nr * s.d);
    CHECK(cudaMemcpy(hw.data(), want, hw.size() * sizeof(double), cudaMemcpyDeviceToHost));
    CHECK(cudaFree(drows));
    CHECK(cudaFree(want));

    const bool h16 = is_bf16(var);
    const double atol = (h16 ? 5e-3 : 1e-5) * s.logit, rtol = h16 ? 1e-2 : 1e-4;
    std::vector<float> row(s.d);
    std::vector<uint16_t> row16(s.d);
    double worst = 0.0;
    for (int hd = 0; hd < heads; ++hd)
      for (int r = 0; r < nr; ++r) {
        const int64_t off = ((int64_t)hd * s.n + rows[r]) * s.d;
        if (h16) {
          CHECK(cudaMemcpy(row16.data(), oh + off, s.d * sizeof(uint16_t), cudaMemcpyDeviceToHost));
          for (int c = 0; c < s.d; ++c) row[c] = from_bf16(row16[c]);
        } else {
          CHECK(cudaMemcpy(row.data(), o + off, s.d * sizeof(float), cudaMemcpyDeviceToHost));
        }
        for (int c = 0; c < s.d; ++c) {
          const double w = hw[((size_t)hd * nr + r) * s.d + c];
          const double e = std::fabs(row[c] - w) / (atol + rtol * std::fabs(w));
          if (!(e <= worst)) worst = std::isfinite(row[c]) ? e : NAN;  // NaN sticks
          if (std::isnan(worst)) return worst;
        }
      }
    return worst;
  }

  void poison() const {  // NaN everywhere in o: an element no thread writes fails the check
    CHECK(cudaMemset(o, 0xff, std::max<int64_t>(nq, 1) * sizeof(float)));
    CHECK(cudaMemset(oh, 0xff, std::max<int64_t>(nq, 1) * sizeof(uint16_t)));
  }
};

size_t smem_of(Variant var, int d) {
  switch (var) {
    case kWg128: return d == 64 ? AttnWgShape<64, 128>::kSmem : AttnWgShape<128, 128>::kSmem;
    case kWg64: return d == 64 ? AttnWgShape<64, 64>::kSmem : AttnWgShape<128, 64>::kSmem;
    case kWg2: return d == 64 ? AttnWg2Cfg<64>::kSmem : AttnWg2Cfg<128>::kSmem;
    case kWs128: return d == 64 ? AttnWsCfg<64, 128>::kSmem : AttnWsCfg<128, 128>::kSmem;
    case kWs64: return d == 64 ? AttnWsCfg<64, 64>::kSmem : AttnWsCfg<128, 64>::kSmem;
    case kWsP128: return d == 64 ? AttnWsCfg<64, 128, true>::kSmem : AttnWsCfg<128, 128, true>::kSmem;
    case kWsP3: return d == 64 ? AttnWsCfg<64, 128, true, 3>::kSmem : AttnWsCfg<128, 64, true, 3>::kSmem;
    case kFma: case kFmaWhole: case kFmaSplit: case kFmaSplit2: case kFmaSplit4: case kFmaSplitU8: case kFmaPieces:
      return d == 16 ? AttnFmaShape<16>::kSmem : d == 32 ? AttnFmaShape<32>::kSmem
           : d == 64 ? AttnFmaShape<64>::kSmem : AttnFmaShape<128>::kSmem;
    case kTf32x3: return d == 16 ? AttnTf32Shape<16>::kSmem : d == 32 ? AttnTf32Shape<32>::kSmem
                       : d == 64 ? AttnTf32Shape<64>::kSmem : AttnTf32Shape<128>::kSmem;
    default: return d == 16 ? AttnBf16Shape<16>::kSmem : d == 32 ? AttnBf16Shape<32>::kSmem
                  : d == 64 ? AttnBf16Shape<64>::kSmem : AttnBf16Shape<128>::kSmem;
  }
}

// Registers, spills and blocks per SM as this GPU will run them (the design counts on 2 at d = 128).
void print_attributes(Variant var, int d, const void *fn) {
  const size_t smem = smem_of(var, d);
  CHECK(cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  CHECK(cudaFuncSetAttribute(fn, cudaFuncAttributePreferredSharedMemoryCarveout, (int)cudaSharedmemCarveoutMaxShared));
  cudaFuncAttributes at;
  CHECK(cudaFuncGetAttributes(&at, fn));
  int per_sm = 0;
  CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, fn, threads_of(var), smem));
  std::printf("  %-32s d=%-3d %3d registers, %5zu B local (spills), %6zu B shared, %d blocks/SM\n", variant_name(var), d,
              at.numRegs, (size_t)at.localSizeBytes, smem, per_sm);
}

const void *kernel_of(Variant var, int d) {
#define EM_ATTN_BY_D(K)                 \
  switch (d) {                          \
    case 16: return (const void *)K<16>; \
    case 32: return (const void *)K<32>; \
    case 64: return (const void *)K<64>; \
    default: return (const void *)K<128>; \
  }
  switch (var) {
    case kWg128: return d == 64 ? (const void *)attn_wg_kernel<64, 128> : (const void *)attn_wg_kernel<128, 128>;
    case kWg64: return d == 64 ? (const void *)attn_wg_kernel<64, 64> : (const void *)attn_wg_kernel<128, 64>;
    case kWg2: return d == 64 ? (const void *)attn_wg2_kernel<64> : (const void *)attn_wg2_kernel<128>;
    case kWs128: return d == 64 ? (const void *)attn_ws_kernel<64, 128> : (const void *)attn_ws_kernel<128, 128>;
    case kWs64: return d == 64 ? (const void *)attn_ws_kernel<64, 64> : (const void *)attn_ws_kernel<128, 64>;
    case kWsP128:
      return d == 64 ? (const void *)attn_ws_kernel<64, 128, true> : (const void *)attn_ws_kernel<128, 128, true>;
    case kWsP3:
      return d == 64 ? (const void *)attn_ws_kernel<64, 128, true, 3> : (const void *)attn_ws_kernel<128, 64, true, 3>;
    case kFma: case kFmaWhole: {  // at d = 128 unmasked the library runs the split kernel: the same resources
      EM_ATTN_BY_D(attn_fma_kernel)
    }
    // the thirds' instance: the same block and shared memory for every P
    case kFmaSplit: case kFmaSplit2: case kFmaSplit4: case kFmaSplitU8: case kFmaPieces: {
      EM_ATTN_BY_D(attn_fma_split_kernel)
    }
    case kTf32x3:  // the launcher's instances: the d loop of S unrolled by 4 (2 at d = 16)
      return d == 16   ? (const void *)attn_tf32_kernel<16, true, 2>
             : d == 32 ? (const void *)attn_tf32_kernel<32, true, 4>
             : d == 64 ? (const void *)attn_tf32_kernel<64, true, 4>
                       : (const void *)attn_tf32_kernel<128, true, 4>;
    default: {
      EM_ATTN_BY_D(attn_bf16_kernel)
    }
  }
#undef EM_ATTN_BY_D
}

// --waves (see the header): b = 1, n = m = 4096, d = 128, not causal, h = 62..68 heads, each shipped
// variant; the blocks' waves from the occupancy the GPU reports. Returns the failed checks.
int time_waves(bench::Timer &timer, double peak, const std::vector<Variant> &vars, int sms) {
  int failures = 0;
  const std::vector<int> sample = {0, 63, 2048, 4095}, heads = {64, 62, 63, 65, 66, 67, 68};
  std::vector<std::vector<double>> ms(vars.size(), std::vector<double>(heads.size())), err = ms;
  for (size_t hi = 0; hi < heads.size(); ++hi) {  // one problem per h, every variant on it
    Problem pr({1, heads[hi], 4096, 4096, 128, 0, 1.0f});
    for (size_t vi = 0; vi < vars.size(); ++vi) {
      pr.poison();
      ms[vi][hi] = timer.median_ms([&] { pr.launch(vars[vi]); });
      err[vi][hi] = pr.check(vars[vi], sample);
      if (!(err[vi][hi] <= 1.0)) ++failures;
    }
  }
  std::printf("the last wave: b=1 n=m=4096 d=128 full, h heads (TFLOP/s; its rate against h=64's)\n");
  for (size_t vi = 0; vi < vars.size(); ++vi) {
    const Variant var = vars[vi];
    int per_sm = 0;
    CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel_of(var, 128), threads_of(var),
                                                        smem_of(var, 128)));
    const int slots = per_sm * sms;
    double base = 0.0;
    for (size_t hi = 0; hi < heads.size(); ++hi) {
      const int h = heads[hi];
      const double tf = 4.0 * h * 4096.0 * 4096.0 * 128 / (ms[vi][hi] * 1e-3) / 1e12;
      if (h == 64) base = tf;
      // query tiles, a block's each (5p's blocks take several)
      const int tiles = h * ((4096 + queries_of(var) - 1) / queries_of(var));
      std::printf("  %-32s h=%d %5d tiles, %5.2f waves of %d  %8.3f ms %7.1f TFLOP/s", variant_name(var), h, tiles,
                  (double)tiles / slots, slots, ms[vi][hi], tf);
      if (is_fma(var)) std::printf(" %4.0f%% of FMA", 100.0 * tf / peak);
      std::printf("  %.3fx  err/tol %.2g%s\n", tf / base, err[vi][hi], err[vi][hi] <= 1.0 ? "" : " FAIL");
    }
  }
  return failures;
}

// FLOPs by the checker's count, 4·d per visible (query, key) pair: with the mask, query i sees the
// keys j ≤ i + m − n (none when that is negative).
double visible_flops(const Shape &sh) {
  double pairs = 0.0;
  for (int i = 0; i < sh.n; ++i) {
    const int64_t last = sh.causal ? (int64_t)i + sh.m - sh.n : (int64_t)sh.m - 1;
    pairs += last < 0 ? 0.0 : (double)(last < sh.m ? last + 1 : sh.m);
  }
  return 4.0 * sh.b * sh.h * pairs * sh.d;
}

// Every variant on one problem: its time (the median of the timer's runs), TFLOP/s by the visible
// pairs, and its worst error on the given query rows. Returns the failures (plain TF32's misses
// are expected and not counted).
int time_shape(bench::Timer &timer, double peak, const Shape &sh, const std::vector<Variant> &vars,
               const std::vector<int> &rows) {
  Problem pr(sh);
  const double flops = visible_flops(sh);
  int failures = 0;
  std::printf("b=%d h=%d n=%d m=%d d=%d %s\n", sh.b, sh.h, sh.n, sh.m, sh.d, sh.causal ? "causal" : "full");
  for (Variant var : vars) {
    pr.poison();
    const float ms = timer.median_ms([&] { pr.launch(var); });
    const double tf = flops / (ms * 1e-3) / 1e12;
    const double e = pr.check(var, rows);
    const bool ok = e <= 1.0;
    if (!ok && var != kTf32x1) ++failures;
    std::printf("  %-32s %9.4f ms %7.2f TFLOP/s", variant_name(var), ms, tf);
    if (is_fma(var))
      std::printf(" %4.0f%% of FMA", 100.0 * tf / peak);
    else
      std::printf("            ");
    std::printf("  err/tol %.2g%s\n", e, ok ? "" : (var == kTf32x1 ? " (expected)" : " FAIL"));
  }
  return failures;
}

// --decode: problems of a few queries against many keys, whose grids fill a fraction of one wave;
// every variant checked on every query row.
int time_decode(bench::Timer &timer, double peak, const std::vector<Variant> &vars) {
  const std::vector<Shape> shapes = {
      {1, 1, 3, 2000, 128, 1, 1.0f},  // part (b)'s "one head long" (harness/specs/attention.c)
      {1, 1, 1, 8192, 128, 0, 1.0f},  {1, 8, 1, 8192, 128, 0, 1.0f},
      {1, 32, 16, 4096, 64, 1, 1.0f}, {4, 8, 64, 8192, 128, 0, 1.0f},
      // between a quarter and half a wave (on an H100 or H200): 3 pieces (d = 64 with the mask, as
      // the library splits it), and 2 pieces against the library's halves (d = 128)
      {1, 128, 16, 4096, 64, 1, 1.0f}, {1, 96, 1, 8192, 128, 0, 1.0f},
  };
  int failures = 0;
  std::printf("decode-like: a few queries, many keys\n");
  for (const Shape &sh : shapes) {
    std::vector<int> rows(sh.n);
    for (int i = 0; i < sh.n; ++i) rows[i] = i;
    failures += time_shape(timer, peak, sh, vars, rows);
  }
  return failures;
}

}  // namespace

int main(int argc, char **argv) {
  bool check_only = false, quick = false;
  int group = 8;
  bool waves = false, decode = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--check-only")) check_only = true;
    else if (!std::strcmp(argv[i], "--quick")) quick = true;
    else if (!std::strcmp(argv[i], "--waves")) waves = true;
    else if (!std::strcmp(argv[i], "--decode")) decode = true;
    else if (!std::strcmp(argv[i], "--group") && i + 1 < argc && std::atoi(argv[i + 1]) > 0)
      group = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: %s [--check-only] [--quick] [--waves | --decode] [--group G (heads, at least 1)]\n",
                   argv[0]);
      return 2;
    }
  }
  if (group != 8) std::printf("causal grids in groups of %d heads, not the library's 8 (--group)\n", group);
  CHECK(cudaMemcpyToSymbol(attn_group_order, &group, sizeof group));
  int failures = 0;
  cudaDeviceProp p;
  CHECK(cudaGetDeviceProperties(&p, 0));
  std::printf("%s, %d SMs, %zu KB shared memory per SM (%zu per block opt-in)\n", p.name, p.multiProcessorCount,
              p.sharedMemPerMultiprocessor >> 10, p.sharedMemPerBlockOptin >> 10);

  std::printf("kernel resources (compiled; spills are local memory)\n");
  std::vector<Variant> all = {kFma,        kFmaWhole,  kFmaU1,  kFmaU8,      kFmaU42, kFmaU82,
                              kFmaSplit,   kFmaSplit2, kFmaSplit4, kFmaSplitU8, kFmaPieces, kTf32x3,
                              kTf32x3Full, kTf32x1,    kBf16};
#if EM_BENCH_SM90A
  if (p.major == 9)  // sm_90a code: CC 9.0 only
    all.insert(all.end(), {kWg128, kWg64, kWg2, kWs128, kWs64, kWsP128, kWsP3});
#endif
  for (int d : {64, 128})
    for (Variant var : all)
      if (var == kFma || var == kTf32x3 || var == kBf16 || is_wg(var))
        print_attributes(var, d, kernel_of(var, d));

  // What the library runs: version 5p for bf16 on Hopper, keys by 128 (reference/cuda/attention_sm90a.cu),
  // two consumer warpgroups at d = 128 and three at d = 64 (both variants run at both d here), else 3.
  std::vector<Variant> shipped = {kFma, kTf32x3, kBf16};
#if EM_BENCH_SM90A
  if (p.major == 9) shipped.insert(shipped.end(), {kWsP128, kWsP3});
#endif
  // and version 1 without its split beside them (--waves), and with it at every d too (--quick's
  // self-check; the library splits at d = 128 only)
  std::vector<Variant> with_whole = shipped, quick_list = shipped;
  with_whole.insert(with_whole.begin() + 1, kFmaWhole);
  quick_list.insert(quick_list.begin() + 1, {kFmaWhole, kFmaSplit, kFmaPieces});

  // ---- self-check on small shapes ----
  std::printf("\nself-check (worst error / tolerance; <= 1 passes; NaN: a NaN or an unwritten output)\n");
  std::vector<Shape> shapes = {
      {1, 1, 1, 1, 0, 0, 1.0f},    {1, 1, 1, 1, 0, 1, 1.0f},     {1, 2, 1, 37, 0, 1, 1.0f},
      {2, 3, 100, 77, 0, 1, 1.0f}, {1, 2, 77, 100, 0, 1, 1.0f},  {1, 1, 130, 130, 0, 0, 1.0f},
      {1, 1, 130, 130, 0, 1, 1.0f}, {2, 1, 64, 64, 0, 1, 1.0f},  {1, 1, 65, 200, 0, 0, 1.0f},
      {1, 2, 200, 333, 0, 0, 30.0f}, {1, 1, 300, 129, 0, 1, 30.0f},
      // more key tiles than version 4b has stages (3 of 128 keys): its ring wraps around
      {1, 2, 130, 600, 0, 0, 1.0f},  {1, 1, 257, 700, 0, 1, 30.0f},
      // more query tiles than an H100 or H200 has SMs: version 5p's blocks take several from its queue
      {2, 32, 260, 300, 0, 0, 1.0f}, {4, 16, 260, 260, 0, 1, 1.0f},
  };
  if (quick) shapes = {{1, 1, 1, 1, 0, 1, 1.0f}, {2, 3, 100, 77, 0, 1, 1.0f}, {1, 1, 65, 200, 0, 0, 30.0f}};
  for (int d : {16, 32, 64, 128})
    for (Shape sh : shapes) {
      sh.d = d;
      Problem pr(sh);
      std::vector<int> rows(sh.n);
      for (int i = 0; i < sh.n; ++i) rows[i] = i;
      std::printf("  b=%d h=%d n=%-3d m=%-3d d=%-3d causal=%d logits x%-4g", sh.b, sh.h, sh.n, sh.m, d, sh.causal,
                  sh.logit);
      for (Variant var : quick ? quick_list : all) {
        pr.poison();
        pr.launch(var);
        CHECK(cudaDeviceSynchronize());
        const double e = pr.check(var, rows);
        const bool ok = e <= 1.0;
        // Plain TF32 is expected to miss the float32 tolerance: reported, not counted.
        if (!ok && var != kTf32x1) ++failures;
        std::printf(" | %s %.2g%s", variant_tag(var), e, ok ? "" : (var == kTf32x1 ? " (expected)" : " FAIL"));
      }
      std::printf("\n");
    }
  if (check_only) {
    std::printf("\n%d failure(s)\n", failures);
    return failures ? 1 : 0;
  }

  // ---- timings at the bar's size ----
  bench::Timer timer;
  const double peak = bench::fma_peak_tflops(timer);
  std::printf("\nFP32 FMA rate measured: %.1f TFLOP/s (bar for v1: 65%% = %.1f)\n", peak, 0.65 * peak);
  if (waves) {
    failures += time_waves(timer, peak, with_whole, p.multiProcessorCount);
    std::printf("\n%d failure(s)\n", failures);
    return failures ? 1 : 0;
  }
  if (decode) {
    std::vector<Variant> dec = {kFma, kFmaWhole, kFmaPieces, kTf32x3, kBf16};
#if EM_BENCH_SM90A
    if (p.major == 9) dec.insert(dec.end(), {kWsP128, kWsP3});
#endif
    failures += time_decode(timer, peak, dec);
    std::printf("\n%d failure(s)\n", failures);
    return failures ? 1 : 0;
  }
  // The bar's shape at d = 128 and 64, with the mask and without; then part (a)'s GPU speed case
  // (harness/specs/attention.c), one head of 8192 queries: 128 tiles, less than one wave, so the
  // library's version 1 splits every one of them.
  std::vector<Shape> timed;
  for (int d : {128, 64})
    for (int causal : {0, 1}) timed.push_back({4, 16, 4096, 4096, d, causal, 1.0f});
  timed.push_back({1, 1, 8192, 8192, 128, 0, 1.0f});
  const std::vector<int> sample = {0, 1, 63, 64, 1000, 2047, 2048, 4095};
  for (const Shape &sh : timed) failures += time_shape(timer, peak, sh, all, sample);
  std::printf("\n%d failure(s)\n", failures);
  return failures ? 1 : 0;
}
