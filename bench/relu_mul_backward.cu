// Lab 4 kernel variants, side by side on one GPU: the measurements behind
// reference/cuda/relu_mul_backward.cu.
// Build and run:  make bench-variants && build/bench/relu_mul_backward
// Three shapes of dz (1 GiB each): square 16384 × 16384, tall 2^22 × 64, wide 64 × 2^22. Each
// variant computes dx (column sums) and dy (row sums) of the ReLU-multiply backward; its results
// are checked against a float64 oracle with the checker's tolerance, then timed: median of 22
// runs (CUDA events, L2 flushed before each). GB/s counts the lab's minimum bytes,
// 4·(m·n + 2m + 2n), as the checker does; "% copy" is against cudaMemcpy device-to-device of dz,
// counted as the checker counts its copy bandwidth: bytes read plus bytes written. Versions 3 are
// the library's own kernels and tiling (reference/cuda/relu_mul_backward_kernels.cuh): the
// "(reference)" row as em_relu_mul_backward_cuda launches them, the others with one knob changed.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "../reference/cuda/relu_mul_backward_kernels.cuh"
#include "../reference/naive/relu_mul_backward_kernels.cuh"
#include "common.cuh"

// Version 1, the naive baseline (two passes), is reference/naive/relu_mul_backward_kernels.cuh.

// ---- version 2: the skeleton's plan (labs/lab4-relu-mul-backward/relu_mul_backward.cu) ---------
// 128 × 128 tiles, a lane takes 4 columns 32 apart (4-byte loads), a warp 16 rows; float partials
// and a combine kernel of one thread per output.

__global__ void plan_tiles(const float *x, const float *y, const float *dz, int64_t m, int64_t n, float *dx_part,
                           float *dy_part) {
  const int64_t row0 = (int64_t)blockIdx.y * 128, col0 = (int64_t)blockIdx.x * 128;
  const int lane = threadIdx.x, w = threadIdx.y;
  float acc[4] = {0, 0, 0, 0};
  for (int r = 0; r < 16; ++r) {
    const int64_t i = row0 + w + 8 * r;
    if (i >= m) break;
    float row = 0.f;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const int64_t j = col0 + lane + 32 * k;
      if (j < n) {
        float t = x[j] * y[i] > 0.f ? dz[i * n + j] : 0.f;
        acc[k] += t * y[i];
        row += t * x[j];
      }
    }
    row = warp_sum(row);
    if (lane == 0) dy_part[blockIdx.x * m + i] = row;
  }
  __shared__ float s[8][128];
  for (int k = 0; k < 4; ++k) s[w][lane + 32 * k] = acc[k];
  __syncthreads();
  const int t = w * 32 + lane;
  if (t < 128 && col0 + t < n) {
    float sum = 0.f;
    for (int q = 0; q < 8; ++q) sum += s[q][t];
    dx_part[blockIdx.y * n + col0 + t] = sum;
  }
}

__global__ void plan_combine(const float *part, int64_t k, int64_t n, float *out) {
  const int64_t o = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (o >= n) return;
  double s = 0.0;
  for (int64_t q = 0; q < k; ++q) s += part[q * n + o];
  out[o] = (float)s;
}

// ---- version 3: the reference (reference/cuda/relu_mul_backward_kernels.cuh), with its knobs --
//   rmb_tiles<V, VEC, BATCH, MINB, ATOMIC>: V columns per lane (two float4 for 8); BATCH: rows
//   loaded before use; MINB: blocks per SM promised to the compiler (__launch_bounds__, caps
//   registers); ATOMIC: atomicAdd into zeroed outputs instead of partials and a finalize kernel
//   (one launch fewer, not deterministic). max_groups: the tiling's bound on tile rows (columns).
// dz here is cudaMalloc'd (aligned) and n a multiple of 4: the library's vector path, VEC = true.

// The library's launch of rmb_tiles and rmb_finalize, with partials in scratch (or atomics into
// zeroed outputs) and the library's tiling plan, rmb_plan.
template <int V, int BATCH, int MINB, bool ATOMIC>
static void ref_launch(const float *x, const float *y, const float *dz, int64_t m, int64_t n, float *dx,
                       float *dy, float *scratch, int64_t max_groups) {
  const TilePlan p = rmb_plan(m, n, V, max_groups);
  const dim3 grid((unsigned)p.H, (unsigned)p.G);
  if (ATOMIC) {
    CHECK(cudaMemsetAsync(dx, 0, n * sizeof(float)));
    CHECK(cudaMemsetAsync(dy, 0, m * sizeof(float)));
    rmb_tiles<V, true, BATCH, MINB, true><<<grid, kThreads>>>(x, y, dz, m, n, p.chunks, p.runs, dx, dy);
    return;
  }
  const int64_t dx_part = p.G > 1 ? p.G * n : 0;
  float *dx_dst = p.G > 1 ? scratch : dx, *dy_dst = p.H > 1 ? scratch + dx_part : dy;
  rmb_tiles<V, true, BATCH, MINB, false><<<grid, kThreads>>>(x, y, dz, m, n, p.chunks, p.runs, dx_dst, dy_dst);
  if (p.G > 1 || p.H > 1) {
    Finalize a = finalize_job(scratch, p.G, n, dx), b = finalize_job(scratch + dx_part, p.H, m, dy);
    rmb_finalize<<<(unsigned)(a.blocks + b.blocks), kThreads>>>(a, b);
  }
}

// V chosen by n as the library chooses it (lane_width). BATCH4 is the batch of V >= 4; narrower
// lanes scale it as kBatch does (V = 2: twice as many rows, V = 1: 16), so that BATCH4 = 4 with
// MINB = 2 and no ATOMIC is the library's own instantiation, rmb_tiles<V, true>.
template <int BATCH4, int MINB, bool ATOMIC>
static void ref_any(const float *x, const float *y, const float *dz, int64_t m, int64_t n, float *dx, float *dy,
                    float *scratch, int64_t max_groups = kMaxGroups) {
  switch (lane_width(n)) {
    case 8: ref_launch<8, BATCH4, MINB, ATOMIC>(x, y, dz, m, n, dx, dy, scratch, max_groups); break;
    case 4: ref_launch<4, BATCH4, MINB, ATOMIC>(x, y, dz, m, n, dx, dy, scratch, max_groups); break;
    case 2:
      ref_launch<2, (BATCH4 * 2 > 16 ? 16 : BATCH4 * 2), MINB, ATOMIC>(x, y, dz, m, n, dx, dy, scratch, max_groups);
      break;
    default: ref_launch<1, 16, MINB, ATOMIC>(x, y, dz, m, n, dx, dy, scratch, max_groups); break;
  }
}
static_assert(kBatch<8> == 4 && kBatch<4> == 4 && kBatch<2> == 8 && kBatch<1> == 16,
              "ref_any<4, 2, false> must be the library's rmb_tiles<V, true>");

// ---- a read-only pass over dz: the ceiling for a kernel that only reads it ----------------------
__global__ void read_only(const float4 *__restrict__ p, int64_t n4, float *sink) {
  const int64_t i = (int64_t)blockIdx.x * kThreads + threadIdx.x;
  if (i < n4) {
    float4 v = __ldg(p + i);
    float s = (v.x + v.y) + (v.z + v.w);
    if (s == -1.2345e-30f) *sink = s;  // never true for these inputs: keeps the load alive
  }
}

// ---- main ----------------------------------------------------------------------------------------

static float uniform(uint64_t i, uint32_t stream, float lo, float hi) {
  uint64_t z = i * 0x9E3779B97F4A7C15ull + stream * 0xD1B54A32D192ED03ull + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return lo + (hi - lo) * (float)(z >> 40) * 0x1p-24f;
}

int main() {
  struct Shape {
    const char *name;
    int64_t m, n;
  } shapes[] = {{"square m=n=16384", 16384, 16384}, {"tall m=2^22 n=64", 1 << 22, 64}, {"wide m=64 n=2^22", 64, 1 << 22}};
  bench::Timer timer;
  int failures = 0;

  for (const Shape &sh : shapes) {
    const int64_t m = sh.m, n = sh.n, mn = m * n;
    std::vector<float> hx(n), hy(m), hdz(mn);
    for (int64_t j = 0; j < n; ++j) hx[j] = uniform(j, 1, -1, 1);
    for (int64_t i = 0; i < m; ++i) hy[i] = uniform(i, 2, -1, 1);
    for (int64_t e = 0; e < mn; ++e) hdz[e] = uniform(e, 3, -1, 1);
    // The float64 oracle and the checker's tolerance (harness/specs/relu_mul_backward.c).
    std::vector<double> wx(n, 0.0), wy(m, 0.0), ax(n, 0.0), ay(m, 0.0);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        float pr = hx[j] * hy[i];
        if (!(pr > 0.f)) continue;
        double g = hdz[i * n + j], tx = g * hy[i], ty = g * hx[j];
        wx[j] += tx, wy[i] += ty, ax[j] += std::fabs(tx), ay[i] += std::fabs(ty);
      }
    auto gamma = [](int64_t k) {
      int l = 0;
      while (((int64_t)1 << l) < k) l++;
      double d = l + 32, u = 0x1p-24;
      return d * u / (1 - d * u) + 2.0 * k * 0x1p-53;
    };

    float *x, *y, *dz, *dx, *dy, *dz2, *scratch, *sink;
    double *slices;
    const int64_t slice_rows = std::max<int64_t>(1024, (m + 65534) / 65535), nslices = (m + slice_rows - 1) / slice_rows;
    CHECK(cudaMalloc(&x, n * 4));
    CHECK(cudaMalloc(&y, m * 4));
    CHECK(cudaMalloc(&dz, mn * 4));
    CHECK(cudaMalloc(&dz2, mn * 4));
    CHECK(cudaMalloc(&dx, n * 4));
    CHECK(cudaMalloc(&dy, m * 4));
    CHECK(cudaMalloc(&scratch, (size_t)(mn / 32 + 4 * (m + n)) * 4));
    CHECK(cudaMalloc(&slices, (size_t)nslices * n * 8));
    CHECK(cudaMalloc(&sink, 4));
    CHECK(cudaMemcpy(x, hx.data(), n * 4, cudaMemcpyHostToDevice));
    CHECK(cudaMemcpy(y, hy.data(), m * 4, cudaMemcpyHostToDevice));
    CHECK(cudaMemcpy(dz, hdz.data(), mn * 4, cudaMemcpyHostToDevice));
    const double bytes = 4.0 * (mn + 2 * m + 2 * n);
    double copy_gbps = 0;
    std::printf("\n%s (dz %.2f GiB)\n", sh.name, mn * 4.0 / (1 << 30));

    // check: compare with the oracle first; moved: bytes the variant must move (the copy reads and
    // writes dz; everything else is counted at the lab's minimum).
    auto run = [&](const char *name, auto launch, bool check, double moved = 0) {
      if (check) {
        CHECK(cudaMemset(dx, 0xff, n * 4));  // NaN: an unwritten element fails
        CHECK(cudaMemset(dy, 0xff, m * 4));
        launch();
        CHECK(cudaGetLastError());
        CHECK(cudaDeviceSynchronize());
        std::vector<float> gx(n), gy(m);
        CHECK(cudaMemcpy(gx.data(), dx, n * 4, cudaMemcpyDeviceToHost));
        CHECK(cudaMemcpy(gy.data(), dy, m * 4, cudaMemcpyDeviceToHost));
        int64_t bad = 0;
        for (int64_t j = 0; j < n; ++j) bad += !(std::fabs(gx[j] - wx[j]) <= gamma(m) * ax[j]);
        for (int64_t i = 0; i < m; ++i) bad += !(std::fabs(gy[i] - wy[i]) <= gamma(n) * ay[i]);
        if (bad) {
          std::printf("  %-40s WRONG: %lld elements outside the tolerance\n", name, (long long)bad);
          failures++;
          return;
        }
      }
      const double med = timer.median_ms(launch), gbps = (moved > 0 ? moved : bytes) / (med * 1e-3) * 1e-9;
      if (copy_gbps == 0) copy_gbps = gbps;
      std::printf("  %-40s %8.3f ms %7.0f GB/s %5.0f%% copy\n", name, med, gbps, 100.0 * gbps / copy_gbps);
    };

    run("cudaMemcpy d2d (dz, read + write)",
        [&] { CHECK(cudaMemcpyAsync(dz2, dz, mn * 4, cudaMemcpyDeviceToDevice)); }, false, 8.0 * mn);
    run("read dz only, float4 per thread", [&] {
      read_only<<<(unsigned)((mn / 4 + kThreads - 1) / kThreads), kThreads>>>((const float4 *)dz, mn / 4, sink);
    }, false);
    run("v1 naive: two passes, float64", [&] {
      naive_dy<<<(unsigned)m, kNaiveThreads>>>(x, y, dz, n, dy);
      const unsigned cb = (unsigned)((n + kNaiveThreads - 1) / kNaiveThreads);
      naive_dx_slices<<<dim3(cb, (unsigned)nslices), kNaiveThreads>>>(x, y, dz, m, n, slice_rows, slices);
      naive_dx_sum<<<cb, kNaiveThreads>>>(slices, nslices, n, dx);
    }, true);
    run("v2 skeleton plan: 128x128 tiles, 4 B", [&] {
      const int64_t G = (m + 127) / 128, H = (n + 127) / 128;
      if (G > 65535) return;
      plan_tiles<<<dim3((unsigned)H, (unsigned)G), dim3(32, 8)>>>(x, y, dz, m, n, scratch, scratch + G * n);
      plan_combine<<<(unsigned)((n + 255) / 256), 256>>>(scratch, G, n, dx);
      plan_combine<<<(unsigned)((m + 255) / 256), 256>>>(scratch + G * n, H, m, dy);
    }, true);
    run("v3 reference: batch 4, 2 blocks/SM", [&] { ref_any<4, 2, false>(x, y, dz, m, n, dx, dy, scratch); }, true);
    run("v3, batch 1 (a row at a time)", [&] { ref_any<1, 2, false>(x, y, dz, m, n, dx, dy, scratch); }, true);
    run("v3, batch 2", [&] { ref_any<2, 2, false>(x, y, dz, m, n, dx, dy, scratch); }, true);
    run("v3, batch 8", [&] { ref_any<8, 2, false>(x, y, dz, m, n, dx, dy, scratch); }, true);
    run("v3, 1 block/SM promised (more regs)", [&] { ref_any<4, 1, false>(x, y, dz, m, n, dx, dy, scratch); }, true);
    run("v3, 3 blocks/SM promised (<= 85 regs)", [&] { ref_any<4, 3, false>(x, y, dz, m, n, dx, dy, scratch); }, true);
    run("v3, at most 512 tile rows/columns", [&] { ref_any<4, 2, false>(x, y, dz, m, n, dx, dy, scratch, 512); }, true);
    run("v3, at most 8192 tile rows/columns", [&] { ref_any<4, 2, false>(x, y, dz, m, n, dx, dy, scratch, 8192); }, true);
    run("v3, atomicAdd (no finalize; not determ.)", [&] { ref_any<4, 2, true>(x, y, dz, m, n, dx, dy, scratch); }, true);
    if (n >= 256)
      run("v3, V=4 (one float4 per lane)",
          [&] { ref_launch<4, 4, 2, false>(x, y, dz, m, n, dx, dy, scratch, kMaxGroups); }, true);

    CHECK(cudaFree(x));
    CHECK(cudaFree(y));
    CHECK(cudaFree(dz));
    CHECK(cudaFree(dz2));
    CHECK(cudaFree(dx));
    CHECK(cudaFree(dy));
    CHECK(cudaFree(scratch));
    CHECK(cudaFree(slices));
    CHECK(cudaFree(sink));
  }
  if (failures) std::printf("\n%d variants gave wrong results\n", failures);
  return failures != 0;
}
