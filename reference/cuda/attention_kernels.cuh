// Lab 7 reference kernels, CUDA: flash attention, o = softmax(q·kᵀ·s)·v for each (batch, head).
// Why they are as they are: reference/cuda/attention.cu, whose launchers include this header;
// bench/attention.cu includes it too, so that the bench times (and checks) the kernels that ship,
// and its variants are these kernels with other template arguments. Everything is static, inline
// or a template: each program that includes the header gets its own copy.
//
// The three kernels share one block shape and one plan:
//   - a block of 4 warps takes kAttnBM = 64 queries of one (batch, head) and walks its keys in
//     tiles of kAttnBN = 64, k and v tiles through shared memory (cp.async, 16 bytes a lane);
//   - each query keeps its running maximum, its running sum of exps and its output row in
//     registers (lab 6's online softmax, the output rescaled when the maximum grows);
//   - scores are kept in the log2 domain, log2(e)/√d folded into one scale, so each exp is one
//     MUFU.EX2 of an FMA, and large logits never overflow (every exp2 argument is ≤ 0);
//   - causal: key tiles no query of the block sees are never loaded; only tiles that cross the
//     diagonal (or the end of the keys) are masked element by element; a query that sees no key
//     keeps a maximum of −inf, which is replaced by 0 where it is subtracted, so that no
//     exp2(−inf − (−inf)) = NaN appears, its sum stays 0 and its output is written as 0.
// Grid: one block per (query tile, head) along x (up to 2^31 − 1 blocks: no 65535 limit on b·h),
// the query tiles of a head consecutive (they share k and v in the L2); under the causal mask in
// groups of 8 heads, the longest tiles of the group first, so that the short ones fill the tail
// (attn_block). Version 1 without the mask at d = 128 runs its last, partly filled wave's tiles as
// three blocks each, a third of the keys apiece (attn_fma_split_kernel).
#ifndef EM_REFERENCE_CUDA_ATTENTION_KERNELS_CUH
#define EM_REFERENCE_CUDA_ATTENTION_KERNELS_CUH

#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "mma.cuh"

static const int kAttnBM = 64;        // queries per block
static const int kAttnBN = 64;        // keys per tile
static const int kAttnThreads = 128;  // 4 warps
// n and m beyond this are refused by the launchers: the kernels index a head's rows with int,
// and k0 + kAttnBN, j − i and i + (m − n) must not overflow.
static const int64_t kAttnMaxLen = (int64_t)1 << 30;

// What every kernel gets, by value. q, k, v, o are the tensors' bases ((b, h, n|m, d), contiguous);
// a block finds its head's rows from blockIdx.x.
struct AttnArgs {
  const void *q, *k, *v;
  void *o;
  int n, m;          // queries and keys per head
  int qtiles;        // ceil(n / kAttnBM)
  int causal;        // query i sees keys j <= i + m - n
  int aligned;       // q, k, v, o all 16-byte aligned: cp.async and vector stores are allowed
  float scale_log2;  // log2(e) / sqrt(d)
};

// ---- the block's place -----------------------------------------------------------------------

struct AttnBlock {
  int64_t head;  // β·h + η
  int q0;        // the block's first query
  int kend;      // keys [0, kend) are seen by some query of the block; the rest are never loaded
  int diag;      // m − n: query i sees key j iff j − i ≤ diag (causal)
};

// BM: the kernel's queries per block (a.qtiles counts tiles of that many).
//
// Causal: the grid walks the heads in groups of EM_ATTN_GROUP (8), and within a group takes the
// longest query tile of every head, then the next longest of every head, and so on. Head by head
// (a group of 1), each head's longest tile starts only when the heads before it are under way, so
// the last heads' longest tiles start near the end and finish last: in a list-scheduling model of
// b = 4, h = 16, n = m = 4096 on 264 block slots (two per SM of 132; bench/attention_grid_order.py)
// the causal grid ends 7% after its work would allow head by head, 0.05% in groups of 4 or 8. On an
// H100 (bench/attention.cu --group 1 against 8, d = 128) groups of 8 took 3-8% off every causal
// kernel (3xTF32 6.31 → 5.80 ms) and left the rest as they were; a group's keys and values (8 heads:
// 34 MB in float32 at d = 128) stay within the L2. Without the mask every tile is as long as the
// others, and the grid keeps the plain order, head by head.
// bench/attention.cu defines EM_ATTN_GROUP as a device variable (--group) to time other sizes.
#ifndef EM_ATTN_GROUP
#define EM_ATTN_GROUP 8
#endif
//
// x: the query tile's place in the grid's order, of tiles in all (blockIdx.x and gridDim.x unless a
// kernel maps its blocks to tiles otherwise, as bench/attention.cu's split of the last wave does).
template <int BM = kAttnBM>
static __device__ __forceinline__ AttnBlock attn_block(const AttnArgs &a, int64_t x, int64_t tiles) {
  AttnBlock b;
  b.head = x / a.qtiles;
  b.q0 = (a.qtiles - 1 - (int)(x % a.qtiles)) * BM;
  if (a.causal) {
    const int64_t group = EM_ATTN_GROUP;
    const int64_t per = group * a.qtiles, first = x / per * group, r = x % per;
    const int64_t in = min(group, tiles / a.qtiles - first);  // heads in this group
    b.head = first + r % in;
    b.q0 = (a.qtiles - 1 - (int)(r / in)) * BM;
  }
  b.diag = a.m - a.n;
  b.kend = a.m;
  if (a.causal) {
    const int last = min(b.q0 + BM, a.n) - 1;           // the block's last real query sees the most
    const int64_t lim = (int64_t)last + b.diag + 1;      // it sees keys [0, lim): lim ≤ 0 when n − m > last
    b.kend = (int)(lim < 0 ? 0 : lim < a.m ? lim : a.m);
  }
  return b;
}
template <int BM = kAttnBM>
static __device__ __forceinline__ AttnBlock attn_block(const AttnArgs &a) {
  return attn_block<BM>(a, blockIdx.x, gridDim.x);
}

// Whether the tile of keys [k0, k0 + kAttnBN) holds a key some query of the block must not see:
// one past m, or (causal) one past what the block's first query sees. Uniform over the block, so
// full tiles skip the element-wise mask.
template <int BN = kAttnBN>
static __device__ __forceinline__ bool attn_tile_masked(const AttnArgs &a, const AttnBlock &b, int k0) {
  return k0 + BN > a.m || (a.causal && k0 + BN - 1 - b.q0 > b.diag);
}

static __device__ __forceinline__ bool attn_visible(const AttnArgs &a, const AttnBlock &b, int i, int j) {
  return j < a.m && (!a.causal || j - i <= b.diag);
}

// ---- asynchronous copies into shared memory (sm_80+) -----------------------------------------

// 16 bytes global -> shared without a register round trip; with in == false, 16 zero bytes and no
// read at all (src-size 0), which is how rows past the end become zeros. .cg: through the L2
// only, since every block of a head reads the same k and v once each.
static __device__ __forceinline__ void attn_cp16(void *dst, const void *src, bool in) {
  const unsigned s = (unsigned)__cvta_generic_to_shared(dst);
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(src), "r"(in ? 16 : 0) : "memory");
}
static __device__ __forceinline__ void attn_cp_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
// Waits until at most N of this thread's committed groups are still in flight. Each thread waits
// for its own copies only: a __syncthreads after it makes every thread's copies visible to all.
template <int N>
static __device__ __forceinline__ void attn_cp_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// Rows [r0, r0 + R) of a row-major len × D matrix of T into shared memory (row stride LD
// elements), rows at or past len as zeros: a key row past m then has a score that the mask makes
// −inf and a value row of zeros, so exp2(−inf)·0 = 0 and never 0·(a NaN left in shared memory by
// another kernel). aligned: 16-byte cp.async chunks, complete after the caller's attn_cp_wait;
// otherwise (a base pointer off 16 bytes, which only hand-made test inputs have) element by
// element with ordinary stores, which the caller's __syncthreads publishes.
template <typename T, int D, int LD, int R>
static __device__ __forceinline__ void attn_load_tile(T *sm, const T *g, int r0, int len, bool aligned) {
  constexpr int E = 16 / (int)sizeof(T);  // elements per 16-byte chunk
  constexpr int C = D / E;                // chunks per row: at most 32, so a divisor of kAttnThreads
  constexpr int RP = kAttnThreads / C;    // rows per pass of the block
  static_assert(kAttnThreads % C == 0 && R % RP == 0, "every thread copies the same chunks of every pass");
  if (aligned) {
    // A thread's chunks are one column x of rows rb, rb + RP, ...: every address is one base plus
    // a constant, so no per-chunk address stays live in registers across the key loop.
    const int rb = threadIdx.x / C, x = (threadIdx.x % C) * E;
    const T *src = g + (int64_t)(r0 + rb) * D + x;
    T *dst = sm + rb * LD + x;
    // Timed and dropped (bench/attention.cu, H100, 2026-12-06): tiles whose rows are all in copied
    // from this base plus immediates, with no per-chunk test. Through this loop the compiler builds
    // each chunk's address in one register pair, and each copy waits for the one before it to have
    // read it; Nsight Compute put 11.3% of the FMA kernel's samples (d = 128) in the code issuing
    // K_{j+1} and V_{j+1}, 5.8% with whole tiles. But the time did not move (the other warp's FFMAs
    // had hidden those waits): in two side-by-side runs version 1 -0.5% to +0.2% at every shape,
    // 3xTF32 +0.8% to +4.3% in one and -0.6% to 0% in the other, bf16 mma.sync -3.8% to +4.7%.
#pragma unroll
    for (int i = 0; i < R / RP; ++i) {
      const bool in = r0 + rb + i * RP < len;
      attn_cp16(dst + i * RP * LD, in ? src + (int64_t)i * RP * D : g, in);
    }
  } else {
    for (int e = threadIdx.x; e < R * D; e += kAttnThreads) {
      const int r = e / D, x = e % D;
      sm[r * LD + x] = r0 + r < len ? g[(int64_t)(r0 + r) * D + x] : T(0);
    }
  }
}

// 2^x in one MUFU.EX2 (exp2f adds a range fix for results below 2^-126, which here are weights
// below 1e-38 of the row's largest: flushing them to 0 changes nothing a float32 sum keeps).
// ex2(−inf) = +0, so masked scores need no branch.
static __device__ __forceinline__ float attn_exp2(float x) {
  float r;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(r) : "f"(x));
  return r;
}

// ---- version 1: float32, plain FMAs (em_attention_cuda) --------------------------------------
//
// Two small SGEMMs per key tile, register-blocked like a classic SGEMM, with the softmax between:
//   S = Q·Kᵀ   (64 × 64, reduction over d)   then   O += P·V   (64 × d, reduction over the tile's keys).
// Thread layout: lane = 2·g + γ; the 16 lanes of one γ in a warp form a row group ρ = 2·warp + γ
// (8 groups) that owns the 8 queries t·8 + ρ (t = 0..7). In S a lane holds its rows × the keys
// u·16 + g (u = 0..3): an 8 × 4 micro-tile; in O its rows × d/16 columns (8 × 8 for d = 128:
// the float4 columns c·64 + 4g.., so 16 lanes store 256 contiguous bytes). The row statistics
// (max) are shuffles among the 16 lanes of the row group (xor 2, 4, 8, 16); the sums stay per lane
// until the end. P goes through shared memory, where it overwrites K (dead by then): a lane needs
// P of its rows for all 64 keys of the tile, which 16 other lanes computed.
//
// Shared-memory traffic is what limits an FMA kernel: an LDS.128 returns 16 bytes to each of 32
// lanes in 4 cycles of the SM's 128-byte/cycle port (2 cycles when lanes pair up on the same
// address: Tn = Tn^1 or Tn = Tn^2), while the 4 SMSPs retire 4 warp-FMAs a cycle. Per 4 values of
// d a lane loads 8 float4 of Q (its rows: same address for lanes 2·g + γ and 2·(g+1) + γ, paired)
// and 4 of K (its keys: same for γ = 0, 1, paired) for 128 FMAs: 24 port cycles against 32 FMA
// cycles per warp; P·V: 8 float4 of P (paired) and 8 of V (paired) for 256 FMAs: 32 against 64.
// The row strides (d + 4 floats, 64 + 16 for P) spread the distinct float4 of one load over the
// banks, so that it takes no more wavefronts than its bytes need (rows ρ and ρ + 1 of P are 16
// banks apart, which also keeps the scalar stores of P free of conflicts).
// Shared memory: Q, K (or P), V: 99 KB at d = 128, 2 blocks (8 warps) per SM; ptxas: 226 registers
// at d = 128 (168 below), no spills.
// Pipeline per tile: V_j is copied while S_j is computed; K_{j+1} after P·V_j (it overwrites P),
// while the SM's other block computes.
// Giving P a buffer of its own (half a tile wide, so K_{j+1} could be copied during the softmax and
// P·V_j) was timed on an H100 and lost, 38.9 TFLOP/s against 41.2 at d = 128: its two more
// barriers a tile and 244 registers cost more than the copy gains (BENCHMARKS.md).
template <int D>
struct AttnFmaShape {
  static constexpr int G = 16;                  // lanes per row group
  static constexpr int TM = 8;                  // queries per lane (rows t·8 + ρ)
  static constexpr int TN = kAttnBN / G;        // keys per lane in S (u·16 + g)
  static constexpr bool VEC = D >= 64;          // O columns as float4 (else single floats)
  static constexpr int TD = D / G;              // O columns per lane
  static constexpr int LDQ = D + 4;             // row stride of Q, K, V (floats)
  static constexpr int LDP = kAttnBN + 16;      // row stride of P
  static constexpr int KP = kAttnBN * LDQ > kAttnBM * LDP ? kAttnBN * LDQ : kAttnBM * LDP;
  static constexpr size_t kSmem = (size_t)(kAttnBM * LDQ + KP + kAttnBN * LDQ) * sizeof(float);
};

// The running state of a lane's rows: the online softmax's unnormalised output, its maximum (in
// the log2 domain, scaled) and this lane's share of its sum.
template <int D>
struct AttnFmaState {
  using S = AttnFmaShape<D>;
  float acc[S::TM][S::TD];
  float mrow[S::TM], lrow[S::TM];
};

static __device__ __forceinline__ float attn_f4(const float4 &v, int i) {
  return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;  // i is a constant after unrolling
}

// U1, U2: unrolling of the d loop of S and of the key loop of P·V. Unrolled fully at d = 128, one
// tile is ~8600 FFMA and LDS instructions (~140 KB of code, past the instruction caches); 4 and 4
// keep the kernel at ~4400 instructions at d = 128 and still let the scheduler hoist a few steps of
// loads above the FMAs. bench/attention.cu times other values: on an H100 (2026-12-06, two runs)
// P·V unrolled by 4 rather than 2 gained 2.6-2.8% at d = 64; at d = 128 and 32 the compiler emits
// the same machine code for both.
// Timed there and lost at d = 128: K's fragment and the first Q row of the next step of d carried
// across the S loop's back edge (in the machine code each pass of the S loop opens on the loads its
// first FFMAs need): 39.7 TFLOP/s against 41.5, at 244 registers; the rows of K's buffer that P
// leaves free (24 of 64) given K_{j+1} before P·V_j: 40.7 against 41.2.
// Whole tiles of Q, K and V copied without per-chunk tests: timed, no gain (attn_load_tile).
// Version 1's key loop over the block's key tiles [jt0, jt1) (its lane layout above), from an empty
// state (nothing loaded when jt0 == jt1). A function apart so that a block can run a share of a
// query tile's keys: bench/attention.cu's split of the grid's last wave.
template <int D, int U1, int U2>
static __device__ __forceinline__ void attn_fma_tiles(const AttnArgs &a, const AttnBlock &blk, int jt0, int jt1,
                                                      AttnFmaState<D> &st) {
  using S = AttnFmaShape<D>;
  extern __shared__ __align__(16) float attn_smem_f[];
  float *sQ = attn_smem_f, *sK = sQ + kAttnBM * S::LDQ, *sV = sK + S::KP;
  float *sP = sK;  // P overwrites K once every warp is done with K
  float(&acc)[S::TM][S::TD] = st.acc;
  float(&mrow)[S::TM] = st.mrow;
  float(&lrow)[S::TM] = st.lrow;

  const float *q = (const float *)a.q + blk.head * a.n * D;
  const float *k = (const float *)a.k + blk.head * a.m * D;
  const float *v = (const float *)a.v + blk.head * a.m * D;

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int gam = lane & 1, g = lane >> 1, rho = 2 * warp + gam;
  const float c = a.scale_log2;

#pragma unroll
  for (int t = 0; t < S::TM; ++t) {
    mrow[t] = -INFINITY;
    lrow[t] = 0.0f;
#pragma unroll
    for (int x = 0; x < S::TD; ++x) acc[t][x] = 0.0f;
  }

  if (jt0 < jt1) {
    attn_load_tile<float, D, S::LDQ, kAttnBM>(sQ, q, blk.q0, a.n, a.aligned);
    attn_load_tile<float, D, S::LDQ, kAttnBN>(sK, k, jt0 * kAttnBN, a.m, a.aligned);
    attn_cp_commit();
    attn_load_tile<float, D, S::LDQ, kAttnBN>(sV, v, jt0 * kAttnBN, a.m, a.aligned);
    attn_cp_commit();
  }

  for (int jt = jt0; jt < jt1; ++jt) {
    const int k0 = jt * kAttnBN;
    attn_cp_wait<1>();  // Q and K_j are here (V_j may still be in flight)
    __syncthreads();

    // S = Q·Kᵀ: per 4 values of d, 4 float4 of K (this lane's keys) and 8 of Q (its rows).
    float s[S::TM][S::TN];
#pragma unroll
    for (int t = 0; t < S::TM; ++t)
#pragma unroll
      for (int u = 0; u < S::TN; ++u) s[t][u] = 0.0f;
#pragma unroll U1
    for (int d4 = 0; d4 < D / 4; ++d4) {
      float4 kf[S::TN];
#pragma unroll
      for (int u = 0; u < S::TN; ++u)
        kf[u] = *reinterpret_cast<const float4 *>(&sK[(u * S::G + g) * S::LDQ + 4 * d4]);
#pragma unroll
      for (int t = 0; t < S::TM; ++t) {
        const float4 qf = *reinterpret_cast<const float4 *>(&sQ[(t * 8 + rho) * S::LDQ + 4 * d4]);
#pragma unroll
        for (int u = 0; u < S::TN; ++u) {
          s[t][u] = fmaf(qf.x, kf[u].x, s[t][u]);
          s[t][u] = fmaf(qf.y, kf[u].y, s[t][u]);
          s[t][u] = fmaf(qf.z, kf[u].z, s[t][u]);
          s[t][u] = fmaf(qf.w, kf[u].w, s[t][u]);
        }
      }
    }

    if (attn_tile_masked(a, blk, k0)) {
#pragma unroll
      for (int t = 0; t < S::TM; ++t)
#pragma unroll
        for (int u = 0; u < S::TN; ++u)
          if (!attn_visible(a, blk, blk.q0 + t * 8 + rho, k0 + u * S::G + g)) s[t][u] = -INFINITY;
    }

    // Online softmax. The maximum is the row group's (all 16 lanes get the same bits), the sum
    // this lane's share of it.
#pragma unroll
    for (int t = 0; t < S::TM; ++t) {
      float mx = s[t][0];
#pragma unroll
      for (int u = 1; u < S::TN; ++u) mx = fmaxf(mx, s[t][u]);
#pragma unroll
      for (int x = 2; x < 32; x *= 2) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, x));
      const float mnew = fmaxf(mrow[t], mx * c);  // c > 0: the max of the scaled scores
      const float mu = mnew == -INFINITY ? 0.0f : mnew;  // no key seen yet: subtract 0, not −inf
      const float alpha = attn_exp2(mrow[t] - mu);           // 0 while mrow is −inf, 1 when unchanged
      mrow[t] = mnew;
      lrow[t] *= alpha;
#pragma unroll
      for (int x = 0; x < S::TD; ++x) acc[t][x] *= alpha;
#pragma unroll
      for (int u = 0; u < S::TN; ++u) {
        s[t][u] = attn_exp2(fmaf(s[t][u], c, -mu));  // −inf (masked) gives 0
        lrow[t] += s[t][u];
      }
    }

    __syncthreads();  // every warp is done reading K_j: P may overwrite it
#pragma unroll
    for (int t = 0; t < S::TM; ++t)
#pragma unroll
      for (int u = 0; u < S::TN; ++u) sP[(t * 8 + rho) * S::LDP + u * S::G + g] = s[t][u];
    attn_cp_wait<0>();  // V_j is here
    __syncthreads();    // and P is whole

    // O += P·V: per 4 keys, 8 float4 of P (this lane's rows) and 4 rows × d/16 columns of V.
#pragma unroll U2
    for (int j4 = 0; j4 < kAttnBN / 4; ++j4) {
      float4 pf[S::TM];
#pragma unroll
      for (int t = 0; t < S::TM; ++t) pf[t] = *reinterpret_cast<const float4 *>(&sP[(t * 8 + rho) * S::LDP + 4 * j4]);
#pragma unroll
      for (int jj = 0; jj < 4; ++jj) {
        const float *vr = sV + (4 * j4 + jj) * S::LDQ;
        if (S::VEC) {
#pragma unroll
          for (int cc = 0; cc < D / 64; ++cc) {
            const float4 vf = *reinterpret_cast<const float4 *>(vr + cc * 64 + 4 * g);
#pragma unroll
            for (int t = 0; t < S::TM; ++t) {
              const float p = attn_f4(pf[t], jj);
              acc[t][4 * cc + 0] = fmaf(p, vf.x, acc[t][4 * cc + 0]);
              acc[t][4 * cc + 1] = fmaf(p, vf.y, acc[t][4 * cc + 1]);
              acc[t][4 * cc + 2] = fmaf(p, vf.z, acc[t][4 * cc + 2]);
              acc[t][4 * cc + 3] = fmaf(p, vf.w, acc[t][4 * cc + 3]);
            }
          }
        } else {
#pragma unroll
          for (int cc = 0; cc < S::TD; ++cc) {
            const float vv = vr[cc * S::G + g];
#pragma unroll
            for (int t = 0; t < S::TM; ++t) acc[t][cc] = fmaf(attn_f4(pf[t], jj), vv, acc[t][cc]);
          }
        }
      }
    }

    __syncthreads();  // every warp is done with P (= K's space) and V_j
    if (jt + 1 < jt1) {
      attn_load_tile<float, D, S::LDQ, kAttnBN>(sK, k, k0 + kAttnBN, a.m, a.aligned);
      attn_cp_commit();
      attn_load_tile<float, D, S::LDQ, kAttnBN>(sV, v, k0 + kAttnBN, a.m, a.aligned);
      attn_cp_commit();
    }
  }
}

// o = acc / ℓ, ℓ the row group's sum; a query that saw no key has ℓ = 0 and acc = 0: o = 0.
template <int D>
static __device__ __forceinline__ void attn_fma_store(const AttnArgs &a, const AttnBlock &blk, const AttnFmaState<D> &st) {
  using S = AttnFmaShape<D>;
  const float(&acc)[S::TM][S::TD] = st.acc;
  float *o = (float *)a.o + blk.head * a.n * D;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 1, rho = 2 * warp + (lane & 1);
#pragma unroll
  for (int t = 0; t < S::TM; ++t) {
    float l = st.lrow[t];
#pragma unroll
    for (int x = 2; x < 32; x *= 2) l += __shfl_xor_sync(0xffffffffu, l, x);
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    const int i = blk.q0 + t * 8 + rho;
    if (i >= a.n) continue;
    float *orow = o + (int64_t)i * D;
    if (S::VEC) {
#pragma unroll
      for (int cc = 0; cc < D / 64; ++cc) {
        const float4 r = make_float4(acc[t][4 * cc] * inv, acc[t][4 * cc + 1] * inv, acc[t][4 * cc + 2] * inv,
                                     acc[t][4 * cc + 3] * inv);
        float *dst = orow + cc * 64 + 4 * g;
        if (a.aligned) {
          *reinterpret_cast<float4 *>(dst) = r;
        } else {
          dst[0] = r.x, dst[1] = r.y, dst[2] = r.z, dst[3] = r.w;
        }
      }
    } else {
#pragma unroll
      for (int cc = 0; cc < S::TD; ++cc) orow[cc * S::G + g] = acc[t][cc] * inv;
    }
  }
}

template <int D, int U1 = 4, int U2 = 4>
__global__ void __launch_bounds__(kAttnThreads, 2) attn_fma_kernel(AttnArgs a) {
  const AttnBlock blk = attn_block(a);
  AttnFmaState<D> st;
  attn_fma_tiles<D, U1, U2>(a, blk, 0, (blk.kend + kAttnBN - 1) / kAttnBN, st);
  attn_fma_store<D>(a, blk, st);
}

// ---- version 1 with the grid's last wave split (em_attention_cuda at d = 128 without the mask) --

// The grid's last, partly filled wave made fuller: of the query tiles, the last T = tiles mod (blocks
// resident at once) are run as P blocks each (3: thirds), every one over a P-th of the tile's key
// tiles, and the rest whole, as attn_fma_kernel runs them. A third's state (the unnormalised output, the
// maximum, each lane's share of the sum: AttnFmaState) goes to a workspace; the block that finishes
// its tile's last third merges the three as lab 6 merges two halves of a softmax, each scaled by
// 2^(its maximum − the largest), and stores o. Which block is last is counted per tile in global
// memory (a fence, then an atomic), and that block puts the count back to 0 for the next launch.
// Why: at b = 4, h = 16, n = m = 4096 the 4096 tiles fill 15.5 waves of the 264 blocks an H100 or
// H200 holds at d = 128 (2 per SM), and the last wave's 136 tiles left half the SMs idle; the
// list-scheduling model (bench/attention_grid_order.py) put the grid 3.1% past its work, 1.2% split
// in thirds. Timed on an H100 (bench/attention.cu, that shape, FMA rate 65.3 TFLOP/s): unmasked,
// d = 128, 40.0 TFLOP/s whole (61% of the FMA rate) against 41.9 in thirds (64%), 41.7 in halves,
// 41.1 in quarters; faster than the model allows, since an SM that runs one block alone runs it
// faster than half its pace with two. Unmasked at d = 64 (3 blocks an SM) thirds took 1% off (39.7
// against 40.1), and under the mask, whose grid already ends within 0.05% of its work (attn_block),
// they did not help: the library splits at d = 128 without the mask only (attn_fma_best_launch).
static const int kAttnSplit = 3;  // pieces per split tile, a grid of more than a wave (attn_fma_best_launch)

struct AttnSplitArgs {
  int64_t tiles;    // query tiles of the problem (attn_args' count)
  int64_t whole;    // the first `whole` run whole, one block each
  float *ws;        // per split tile and piece, AttnFmaState's floats, thread by thread
  unsigned *count;  // per split tile, the pieces finished (0 between launches)
  int pieces;       // with P = 0: the pieces, chosen at the launch (bench/attention.cu's decode variant)
};

// P: pieces a split tile's keys go in (thirds: 3), or 0 for sp.pieces, a number the launch picks (the
// bench's variant for grids far short of a wave, decode-like attention: a few queries, many keys);
// U1, U2: version 1's unrolling (attn_fma_kernel).
template <int D, int P = kAttnSplit, int U1 = 4, int U2 = 4>
__global__ void __launch_bounds__(kAttnThreads, 2) attn_fma_split_kernel(AttnArgs a, AttnSplitArgs sp) {
  using S = AttnFmaShape<D>;
  constexpr int E = S::TM * S::TD + 2 * S::TM;  // floats of state per thread
  const int np = P > 0 ? P : sp.pieces;
  const int64_t x = blockIdx.x;
  const bool split = x >= sp.whole;
  const int64_t slot = split ? (x - sp.whole) / np : 0;
  const int piece = split ? (int)((x - sp.whole) % np) : 0;
  const AttnBlock blk = attn_block(a, split ? sp.whole + slot : x, sp.tiles);
  const int nt = (blk.kend + kAttnBN - 1) / kAttnBN;
  AttnFmaState<D> st;  // one call of the key loop for both kinds of block: one copy of its code
  attn_fma_tiles<D, U1, U2>(a, blk, split ? piece * nt / np : 0, split ? (piece + 1) * nt / np : nt, st);
  if (!split) {
    attn_fma_store<D>(a, blk, st);
    return;
  }

  // Element e of thread τ's state of piece p at ws[((slot·np + p)·E + e)·threads + τ] (np: P, or sp.pieces):
  // consecutive threads, consecutive floats.
  float *base = sp.ws + slot * np * E * kAttnThreads + threadIdx.x;
  float *mine = base + piece * E * kAttnThreads;
#pragma unroll
  for (int t = 0; t < S::TM; ++t) {
#pragma unroll
    for (int c = 0; c < S::TD; ++c) mine[(t * S::TD + c) * kAttnThreads] = st.acc[t][c];
    mine[(S::TM * S::TD + t) * kAttnThreads] = st.mrow[t];
    mine[(S::TM * S::TD + S::TM + t) * kAttnThreads] = st.lrow[t];
  }
  __threadfence();  // this thread's state is visible device-wide before the count says so
  __syncthreads();
  __shared__ int last;
  if (threadIdx.x == 0) {
    last = atomicAdd(&sp.count[slot], 1u) == (unsigned)(np - 1);
    if (last) sp.count[slot] = 0;  // every piece has counted: ready for the next launch
  }
  __syncthreads();
  if (!last) return;
  __threadfence();

  // The merge, element by element: each thread's rows and columns are the same in every piece.
  // With P fixed at compile time the pieces' maxima are held in registers (m); with P = 0, a count
  // known only at the launch, they are read again where they are needed.
#pragma unroll
  for (int t = 0; t < S::TM; ++t) {
    [[maybe_unused]] float m[P > 0 ? P : 1];
    const auto max_of = [&](int p) {
      return p == piece ? st.mrow[t] : __ldcg(base + (p * E + S::TM * S::TD + t) * kAttnThreads);
    };
    if constexpr (P > 0) {
#pragma unroll
      for (int p = 0; p < P; ++p) m[p] = max_of(p);
    }
    const auto m_of = [&](int p) {
      if constexpr (P > 0) return m[p];
      else return max_of(p);
    };
    float mx = m_of(0);
#pragma unroll
    for (int p = 1; p < np; ++p) mx = fmaxf(mx, m_of(p));
    const float mu = mx == -INFINITY ? 0.0f : mx;  // no piece saw a key: every weight 0
    const float w0 = attn_exp2(st.mrow[t] - mu);
    st.lrow[t] *= w0;
#pragma unroll
    for (int c = 0; c < S::TD; ++c) st.acc[t][c] *= w0;
#pragma unroll
    for (int p = 0; p < np; ++p) {
      if (p == piece) continue;
      const float *other = base + p * E * kAttnThreads;
      const float w = attn_exp2(m_of(p) - mu);
      st.lrow[t] = fmaf(w, __ldcg(other + (S::TM * S::TD + S::TM + t) * kAttnThreads), st.lrow[t]);
#pragma unroll
      for (int c = 0; c < S::TD; ++c)
        st.acc[t][c] = fmaf(w, __ldcg(other + (t * S::TD + c) * kAttnThreads), st.acc[t][c]);
    }
  }
  attn_fma_store<D>(a, blk, st);
}

// ---- the tensor-core kernels' common parts ---------------------------------------------------
//
// mma.sync m16n8k*: a warp multiplies a 16-row A by an 8-column B. In the accumulator fragment,
// lane = 4·gr + tq holds rows gr and gr + 8, columns 2·tq and 2·tq + 1 of its n-tile:
// acc[nt][0..1] row gr, acc[nt][2..3] row gr + 8. A warp owns 16 queries of the block, so a
// query's 64 scores of a tile are spread over the 4 lanes of a quad: its max and sum are two
// shuffles (xor 1, 2).

static __device__ __forceinline__ void attn_ldsm_x4(uint32_t (&r)[4], const void *p) {
  const unsigned s = (unsigned)__cvta_generic_to_shared(p);
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(s));
}
static __device__ __forceinline__ void attn_ldsm_x4_trans(uint32_t (&r)[4], const void *p) {
  const unsigned s = (unsigned)__cvta_generic_to_shared(p);
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(s));
}

// Masks this warp's scores of the tile at k0 (rows row0 + gr, + 8 of the block; columns nt·8 + 2·tq, + 1).
template <int NS>
static __device__ __forceinline__ void attn_mma_mask(float (&s)[NS][4], const AttnArgs &a, const AttnBlock &b,
                                                     int row0, int k0, int gr, int tq) {
#pragma unroll
  for (int nt = 0; nt < NS; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e)
      if (!attn_visible(a, b, b.q0 + row0 + gr + (e >> 1) * 8, k0 + nt * 8 + 2 * tq + (e & 1))) s[nt][e] = -INFINITY;
}

// A lane's running state before the first tile: no output, maxima −inf, sums 0.
template <int NO>
static __device__ __forceinline__ void attn_mma_start(float (&acc)[NO][4], float (&mrow)[2], float (&lrow)[2]) {
#pragma unroll
  for (int nt = 0; nt < NO; ++nt) acc[nt][0] = acc[nt][1] = acc[nt][2] = acc[nt][3] = 0.0f;
  mrow[0] = mrow[1] = -INFINITY;
  lrow[0] = lrow[1] = 0.0f;
}

// The online softmax of one tile for the two rows a lane holds: the new maxima (quad shuffles),
// the rescale of the running sums and outputs, and the scores replaced by their exp2 (P).
template <int NS, int NO>
static __device__ __forceinline__ void attn_mma_softmax(float (&s)[NS][4], float (&acc)[NO][4], float (&mrow)[2],
                                                        float (&lrow)[2], float c) {
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float mx = fmaxf(s[0][2 * r], s[0][2 * r + 1]);
#pragma unroll
    for (int nt = 1; nt < NS; ++nt) mx = fmaxf(mx, fmaxf(s[nt][2 * r], s[nt][2 * r + 1]));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
    const float mnew = fmaxf(mrow[r], mx * c);
    const float mu = mnew == -INFINITY ? 0.0f : mnew;  // no key seen yet: subtract 0, not −inf
    const float alpha = attn_exp2(mrow[r] - mu);
    mrow[r] = mnew;
    lrow[r] *= alpha;
#pragma unroll
    for (int nt = 0; nt < NO; ++nt) {
      acc[nt][2 * r] *= alpha;
      acc[nt][2 * r + 1] *= alpha;
    }
#pragma unroll
    for (int nt = 0; nt < NS; ++nt) {
      s[nt][2 * r] = attn_exp2(fmaf(s[nt][2 * r], c, -mu));
      s[nt][2 * r + 1] = attn_exp2(fmaf(s[nt][2 * r + 1], c, -mu));
      lrow[r] += s[nt][2 * r] + s[nt][2 * r + 1];
    }
  }
}

// The quad's sum of a row's ℓ, and its reciprocal (0 for a query that saw no key).
static __device__ __forceinline__ float attn_mma_inv_sum(float l) {
  l += __shfl_xor_sync(0xffffffffu, l, 1);
  l += __shfl_xor_sync(0xffffffffu, l, 2);
  return l > 0.0f ? 1.0f / l : 0.0f;
}

// Two adjacent outputs of a row (columns c, c + 1): one 8-byte (float) or 4-byte (bf16) store where
// the tensors are 16-byte aligned (every pair then is), else one by one.
static __device__ __forceinline__ void attn_store2(float *p, float x0, float x1, bool aligned) {
  if (aligned) *reinterpret_cast<float2 *>(p) = make_float2(x0, x1);
  else p[0] = x0, p[1] = x1;
}
static __device__ __forceinline__ void attn_store2(uint16_t *p, float x0, float x1, bool aligned) {
  const uint32_t w = em__bf16x2(x0, x1);
  if (aligned) *reinterpret_cast<uint32_t *>(p) = w;
  else p[0] = (uint16_t)(w & 0xffffu), p[1] = (uint16_t)(w >> 16);
}

// The tensor-core kernels' output: this lane's two rows (row0 + gr, + 8 of the block) of o = acc / ℓ,
// straight from the accumulator fragments: a quad writes 32 (float) or 16 (bf16) contiguous bytes
// per row and n-tile, and the next n-tile's store the rest of the sector.
template <typename T, int NO>
static __device__ __forceinline__ void attn_store_mma(T *o, const AttnArgs &a, const AttnBlock &blk, int row0, int gr,
                                                      int tq, const float (&acc)[NO][4], const float (&lrow)[2]) {
  constexpr int D = NO * 8;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const float inv = attn_mma_inv_sum(lrow[r]);
    const int i = blk.q0 + row0 + gr + 8 * r;
    if (i >= a.n) continue;
    T *orow = o + (int64_t)i * D + 2 * tq;
#pragma unroll
    for (int nt = 0; nt < NO; ++nt)
      attn_store2(orow + nt * 8, acc[nt][2 * r] * inv, acc[nt][2 * r + 1] * inv, a.aligned);
  }
}

// ---- version 2: float32 on the tensor cores, error-compensated TF32 (em_attention_tf32x3_cuda) --
//
// mma.sync m16n8k8 with TF32 operands (10 mantissa bits) and float32 accumulators. One TF32
// product is off by ~2^-11 relatively: far outside float32's tolerance. Split each operand,
// a = a_hi + a_lo with a_hi = tf32(a) (round to nearest) and a_lo = tf32(a − a_hi) (the
// subtraction is exact), and a·b ≈ a_lo·b_hi + a_hi·b_lo + a_hi·b_hi: the dropped a_lo·b_lo and
// the rounding of the tails are ~2^-22 relatively, float32's order. Three MMAs per product, small
// terms first. X3 = false is plain TF32 (one MMA, a_hi·b_hi), kept for the bench to show why not.
//
// A warp owns 16 queries. S = Q·Kᵀ: A = Q from shared memory (ldmatrix of 32-bit data: an 8×8
// b16 matrix is 8 rows of 4 floats, and lane l gets row l/4, float l%4: exactly the m16n8k8 TF32
// fragment), B = K rows, ldmatrix too. P·V: A = P straight from S's accumulators, with no trip
// through shared memory: the accumulator holds columns 2·tq, 2·tq + 1 where A's fragment wants
// k = tq, tq + 4; the order of k inside one MMA is free, so P's column 2·tq plays k = tq and
// 2·tq + 1 plays tq + 4, and B supplies V's rows 2·tq and 2·tq + 1 for them (scalar loads, which
// may pick any rows; row stride d + 4 ≡ 4 banks keeps the 32 lanes on 32 banks).
// Operands are split in registers as they are loaded; Q's fragments are loaded and split again
// for every key tile (kept split, they would take 128 more registers at d = 128).
// Shared memory: Q, K, V, 99 KB at d = 128: 2 blocks per SM; ptxas: 190 registers at d = 128 (S
// unrolled by 4), no spills. K_{j+1} is copied during the softmax and P·V_j, V_{j+1} during S_{j+1}:
// both copies hide behind arithmetic.
template <int D>
struct AttnTf32Shape {
  static constexpr int LD = D + 4;  // floats; ldmatrix rows 16-byte aligned, 8 rows on distinct banks
  static constexpr size_t kSmem = (size_t)(kAttnBM + 2 * kAttnBN) * LD * sizeof(float);
};

static __device__ __forceinline__ uint32_t attn_tf32(float x) {
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(x));
  return r;
}

template <bool X3>
static __device__ __forceinline__ void attn_split(uint32_t raw, uint32_t &hi, uint32_t &lo) {
  const float x = __uint_as_float(raw);
  hi = attn_tf32(x);
  lo = X3 ? attn_tf32(x - __uint_as_float(hi)) : 0u;
}

static __device__ __forceinline__ void attn_mma_tf32(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

template <bool X3>
static __device__ __forceinline__ void attn_mma_x3(float (&d)[4], const uint32_t (&ahi)[4], const uint32_t (&alo)[4],
                                                   uint32_t bh0, uint32_t bh1, uint32_t bl0, uint32_t bl1) {
  if (X3) {
    attn_mma_tf32(d, alo, bh0, bh1);
    attn_mma_tf32(d, ahi, bl0, bl1);
  }
  attn_mma_tf32(d, ahi, bh0, bh1);
}

// UK: unrolling of the d loop of S (P·V must unroll fully: it indexes S's accumulators). Fully
// unrolled at d = 128 the kernel is ~8000 instructions (128 KB), and instruction fetch shows: on
// the H200 (bench/attention.cu, b = 4, h = 16, n = m = 4096, 2026-12-05) UK = 4 ran d = 128 at 48.2
// TFLOP/s against 41.9 fully unrolled (causal 44.2 against 30.4), and d = 64 the same either way
// (46.8, 46.7). The launcher's default is therefore 4, or d/8 where that is less.
template <int D, bool X3 = true, int UK = D / 8>
__global__ void __launch_bounds__(kAttnThreads, 2) attn_tf32_kernel(AttnArgs a) {
  using S = AttnTf32Shape<D>;
  constexpr int NS = kAttnBN / 8;  // n-tiles of S per warp
  constexpr int NO = D / 8;        // n-tiles of O per warp
  extern __shared__ __align__(16) float attn_smem_t[];
  float *sQ = attn_smem_t, *sK = sQ + kAttnBM * S::LD, *sV = sK + kAttnBN * S::LD;

  const AttnBlock blk = attn_block(a);
  const float *q = (const float *)a.q + blk.head * a.n * D;
  const float *k = (const float *)a.k + blk.head * a.m * D;
  const float *v = (const float *)a.v + blk.head * a.m * D;
  float *o = (float *)a.o + blk.head * a.n * D;

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int gr = lane >> 2, tq = lane & 3, row0 = warp * 16;
  const float c = a.scale_log2;
  // ldmatrix row addresses: lanes 8·i .. 8·i + 7 name the rows of matrix i.
  const int a_row = row0 + (lane & 7) + ((lane >> 3) & 1) * 8, a_col = (lane >> 4) * 4;  // Q: a0..a3
  const int b_row = (lane & 7) + (lane >> 4) * 8, b_col = ((lane >> 3) & 1) * 4;         // K: b0, b1 of 2 n-tiles

  float acc[NO][4], mrow[2], lrow[2];
  attn_mma_start(acc, mrow, lrow);

  const int ntiles = (blk.kend + kAttnBN - 1) / kAttnBN;
  if (ntiles > 0) {
    attn_load_tile<float, D, S::LD, kAttnBM>(sQ, q, blk.q0, a.n, a.aligned);
    attn_load_tile<float, D, S::LD, kAttnBN>(sK, k, 0, a.m, a.aligned);
    attn_cp_commit();
    attn_load_tile<float, D, S::LD, kAttnBN>(sV, v, 0, a.m, a.aligned);
    attn_cp_commit();
  }

  for (int jt = 0; jt < ntiles; ++jt) {
    const int k0 = jt * kAttnBN;
    attn_cp_wait<1>();  // K_j (and Q) are here
    __syncthreads();

    float s[NS][4];
#pragma unroll
    for (int nt = 0; nt < NS; ++nt) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
#pragma unroll UK
    for (int kk = 0; kk < D / 8; ++kk) {
      uint32_t ar[4], ahi[4], alo[4];
      attn_ldsm_x4(ar, &sQ[a_row * S::LD + kk * 8 + a_col]);
#pragma unroll
      for (int x = 0; x < 4; ++x) attn_split<X3>(ar[x], ahi[x], alo[x]);
#pragma unroll
      for (int np = 0; np < NS / 2; ++np) {
        uint32_t br[4], bhi[4], blo[4];
        attn_ldsm_x4(br, &sK[(np * 16 + b_row) * S::LD + kk * 8 + b_col]);
#pragma unroll
        for (int x = 0; x < 4; ++x) attn_split<X3>(br[x], bhi[x], blo[x]);
        attn_mma_x3<X3>(s[2 * np], ahi, alo, bhi[0], bhi[1], blo[0], blo[1]);
        attn_mma_x3<X3>(s[2 * np + 1], ahi, alo, bhi[2], bhi[3], blo[2], blo[3]);
      }
    }

    __syncthreads();  // every warp is done with K_j
    if (jt + 1 < ntiles) attn_load_tile<float, D, S::LD, kAttnBN>(sK, k, k0 + kAttnBN, a.m, a.aligned);
    attn_cp_commit();  // possibly empty: the group count stays the same on every path

    if (attn_tile_masked(a, blk, k0)) attn_mma_mask(s, a, blk, row0, k0, gr, tq);
    attn_mma_softmax(s, acc, mrow, lrow, c);

    attn_cp_wait<1>();  // V_j is here (K_{j+1} may be in flight)
    __syncthreads();

#pragma unroll
    for (int kk = 0; kk < NS; ++kk) {  // 8 keys: S's n-tile kk
      uint32_t ahi[4], alo[4];
      attn_split<X3>(__float_as_uint(s[kk][0]), ahi[0], alo[0]);  // row gr,     key 2tq     -> k = tq
      attn_split<X3>(__float_as_uint(s[kk][2]), ahi[1], alo[1]);  // row gr + 8, key 2tq     -> k = tq
      attn_split<X3>(__float_as_uint(s[kk][1]), ahi[2], alo[2]);  // row gr,     key 2tq + 1 -> k = tq + 4
      attn_split<X3>(__float_as_uint(s[kk][3]), ahi[3], alo[3]);  // row gr + 8, key 2tq + 1 -> k = tq + 4
      const float *v0 = sV + (kk * 8 + 2 * tq) * S::LD + gr, *v1 = v0 + S::LD;
#pragma unroll
      for (int nt = 0; nt < NO; ++nt) {
        uint32_t bh0, bl0, bh1, bl1;
        attn_split<X3>(__float_as_uint(v0[nt * 8]), bh0, bl0);  // V[2tq][nt·8 + gr]:     k = tq
        attn_split<X3>(__float_as_uint(v1[nt * 8]), bh1, bl1);  // V[2tq + 1][nt·8 + gr]: k = tq + 4
        attn_mma_x3<X3>(acc[nt], ahi, alo, bh0, bh1, bl0, bl1);
      }
    }

    __syncthreads();  // every warp is done with V_j
    if (jt + 1 < ntiles) attn_load_tile<float, D, S::LD, kAttnBN>(sV, v, k0 + kAttnBN, a.m, a.aligned);
    attn_cp_commit();
  }

  attn_store_mma(o, a, blk, row0, gr, tq, acc, lrow);
}

// ---- version 3: bfloat16 on the tensor cores (em_attention_bf16_cuda) ------------------------
//
// FlashAttention-2's structure with mma.sync m16n8k16 (bf16 operands, float32 accumulators):
// 4 warps, 16 queries each; Q's fragments loaded once into registers (ldmatrix); K and V tiles
// double-buffered in shared memory (cp.async of tile j + 1 issued before tile j is computed, so a
// whole tile of arithmetic hides each copy); S = Q·Kᵀ with K by ldmatrix; P converted to bf16 in
// registers, where the accumulator fragments of two n-tiles are exactly the A fragment of one
// k16 step; V by ldmatrix.trans (V is row-major [key][d], the B fragment wants two consecutive
// keys of one column); the rescale of the output in registers; ℓ summed from the float32 P
// (before its rounding to bf16, as FlashAttention does). Rows padded by 16 bytes (d + 8
// elements): the 8 rows of an ldmatrix land on distinct banks.
// Shared memory: Q + 2 × (K + V): 85 KB at d = 128, 2 blocks per SM; ptxas: 203 registers at
// d = 128, no spills. The output is stored straight from the fragments (a quad writes 16
// contiguous bytes per row and n-tile, the next n-tile's store the rest of the sector), without
// staging through shared memory: it is 1/128 of the k and v bytes the blocks of a head read at
// n = m = 4096.
// On Hopper, versions 4 and 5 replace mma.sync/ldmatrix with wgmma (a warpgroup per 64 queries),
// and version 5 cp.async with the TMA.
template <int D>
struct AttnBf16Shape {
  static constexpr int LD = D + 8;  // bf16 elements
  static constexpr int TILE = kAttnBN * LD;
  static constexpr size_t kSmem = (size_t)(kAttnBM * LD + 4 * TILE) * sizeof(uint16_t);
};

template <int D>
__global__ void __launch_bounds__(kAttnThreads, 2) attn_bf16_kernel(AttnArgs a) {
  using S = AttnBf16Shape<D>;
  constexpr int NS = kAttnBN / 8;  // n-tiles of S per warp
  constexpr int NO = D / 8;        // n-tiles of O per warp
  extern __shared__ __align__(16) uint16_t attn_smem_h[];
  uint16_t *sQ = attn_smem_h, *sK = sQ + kAttnBM * S::LD, *sV = sK + 2 * S::TILE;  // K and V: 2 buffers each

  const AttnBlock blk = attn_block(a);
  const uint16_t *q = (const uint16_t *)a.q + blk.head * a.n * D;
  const uint16_t *k = (const uint16_t *)a.k + blk.head * a.m * D;
  const uint16_t *v = (const uint16_t *)a.v + blk.head * a.m * D;
  uint16_t *o = (uint16_t *)a.o + blk.head * a.n * D;

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int gr = lane >> 2, tq = lane & 3, row0 = warp * 16;
  const float c = a.scale_log2;
  const int l7 = lane & 7, l8 = (lane >> 3) & 1, l16 = lane >> 4;

  float acc[NO][4], mrow[2], lrow[2];
  attn_mma_start(acc, mrow, lrow);

  const int ntiles = (blk.kend + kAttnBN - 1) / kAttnBN;
  uint32_t qf[D / 16][4];
  if (ntiles > 0) {
    attn_load_tile<uint16_t, D, S::LD, kAttnBM>(sQ, q, blk.q0, a.n, a.aligned);
    attn_cp_commit();
    attn_load_tile<uint16_t, D, S::LD, kAttnBN>(sK, k, 0, a.m, a.aligned);
    attn_load_tile<uint16_t, D, S::LD, kAttnBN>(sV, v, 0, a.m, a.aligned);
    attn_cp_commit();
    attn_cp_wait<1>();  // Q is here; K_0, V_0 may still be in flight
    __syncthreads();
    // A fragments: matrices (rows 0-7, d 0-7), (rows 8-15, d 0-7), (rows 0-7, d 8-15), (rows 8-15, d 8-15).
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) attn_ldsm_x4(qf[kk], &sQ[(row0 + l7 + l8 * 8) * S::LD + kk * 16 + l16 * 8]);
  }

  for (int jt = 0; jt < ntiles; ++jt) {
    const int k0 = jt * kAttnBN;
    const uint16_t *kb = sK + (jt & 1) * S::TILE, *vb = sV + (jt & 1) * S::TILE;
    if (jt + 1 < ntiles) {  // into the other buffers, free since the __syncthreads ending tile j − 1
      attn_load_tile<uint16_t, D, S::LD, kAttnBN>(sK + ((jt + 1) & 1) * S::TILE, k, k0 + kAttnBN, a.m, a.aligned);
      attn_load_tile<uint16_t, D, S::LD, kAttnBN>(sV + ((jt + 1) & 1) * S::TILE, v, k0 + kAttnBN, a.m, a.aligned);
    }
    attn_cp_commit();   // possibly empty: the group count stays the same on every path
    attn_cp_wait<1>();  // tile j is here
    __syncthreads();

    float s[NS][4];
#pragma unroll
    for (int nt = 0; nt < NS; ++nt) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
#pragma unroll
      for (int np = 0; np < NS / 2; ++np) {
        // B fragments of n-tiles 2np, 2np + 1: (keys 0-7, d 0-7), (keys 0-7, d 8-15), (keys 8-15, d 0-7), (keys 8-15, d 8-15).
        uint32_t br[4];
        attn_ldsm_x4(br, &kb[(np * 16 + l7 + l16 * 8) * S::LD + kk * 16 + l8 * 8]);
        em__mma_bf16(s[2 * np], qf[kk], br[0], br[1]);
        em__mma_bf16(s[2 * np + 1], qf[kk], br[2], br[3]);
      }
    }

    if (attn_tile_masked(a, blk, k0)) attn_mma_mask(s, a, blk, row0, k0, gr, tq);
    attn_mma_softmax(s, acc, mrow, lrow, c);

#pragma unroll
    for (int kk = 0; kk < kAttnBN / 16; ++kk) {  // 16 keys: S's n-tiles 2kk, 2kk + 1
      const uint32_t pa[4] = {em__bf16x2(s[2 * kk][0], s[2 * kk][1]), em__bf16x2(s[2 * kk][2], s[2 * kk][3]),
                              em__bf16x2(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                              em__bf16x2(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
      for (int np = 0; np < NO / 2; ++np) {
        // Transposed: (keys 0-7, d 0-7), (keys 8-15, d 0-7), (keys 0-7, d 8-15), (keys 8-15, d 8-15).
        uint32_t br[4];
        attn_ldsm_x4_trans(br, &vb[(kk * 16 + l7 + l8 * 8) * S::LD + np * 16 + l16 * 8]);
        em__mma_bf16(acc[2 * np], pa, br[0], br[1]);
        em__mma_bf16(acc[2 * np + 1], pa, br[2], br[3]);
      }
    }
    __syncthreads();  // every warp is done with tile j's buffers before tile j + 2 is copied into them
  }
  attn_store_mma(o, a, blk, row0, gr, tq, acc, lrow);
}

// ---- version 4: bfloat16 on Hopper's warpgroup MMA (sm_90a; a bench variant, not yet shipped) --
//
// Version 3's plan with Hopper's wgmma in place of mma.sync: a warpgroup (4 warps, 128 threads)
// multiplies a 64-row A by a B read straight from shared memory, asynchronously. What it changes:
//   - K and V are read from shared memory once per warpgroup (64 queries), by the tensor cores
//     themselves, instead of once per warp through ldmatrix (16 queries): version 3 needs 256 bytes
//     of shared-memory reads per 4096-FLOP mma, twice what the SM's port delivers at the tensor
//     cores' pace; here it is a quarter of that;
//   - the MMAs run asynchronously: issued, committed as a group, waited for.
// A block of 2 warpgroups takes BM = 128 queries (64 each) and walks the keys in tiles of BC
// (64 or 128). Per tile, each warpgroup: S = Q·Kᵀ (D/16 wgmma m64nBCk16, A = its 64 Q rows and
// B = the K tile, both from shared memory, K-major); wait; mask and online softmax in registers
// (the accumulator layout of each warp's 16 rows is mma.sync's, so version 3's softmax is reused);
// P to bf16 in registers; O += P·V (BC/16 wgmma m64nDk16, A = P from registers, B = the V tile from
// shared memory, N-major: V's rows are keys with d contiguous, the transposed operand); wait.
// Shared-memory layout (what the descriptors describe): every tile is stored as D/64 blocks of
// 64 columns (128 bytes a row), rows of a block consecutive, and the 16-byte chunk c of row r at
// chunk c ^ (r % 8): the 128-byte swizzle, whose 8-row, 1024-byte atoms start 1024-aligned. A K-major
// descriptor steps 8 rows by SBO = 1024 bytes (LBO unused) and a k16 step by 32 bytes inside the
// 128-byte row; V's N-major descriptor steps 8 keys by SBO = 1024 and 64 columns of d by LBO (one
// block), and a k16 step (16 keys) by 2048 bytes (bench/attention_wgmma_layout.py checks the two
// agree, without a GPU; on an H100 the bench's variant with LBO and SBO exchanged failed its
// self-check 12-180 times over at d = 128, and this reading passed). The copies (cp.async by all
// 256 threads, 16 bytes each, rows past n or m as zeros) write this layout directly; a thread's fence.proxy.async then
// makes its writes visible to the tensor cores' reads (the async proxy), and a barrier to all.
// Pipeline: K and V tiles double-buffered; tile j + 2 is copied into tile j's buffers once both
// warpgroups are done with them, so a whole tile of work hides each copy. What FlashAttention-3
// adds (a producer with TMA and mbarriers, the softmax of one tile overlapped with the MMAs of
// another, warpgroups taking turns) is version 5's, the library's kernel on Hopper.
// Registers at D = BC = 128: S 64, O 64, P 32 per thread; shared memory 161 KB, one block per SM.
// Only aligned tensors (the launcher falls back to version 3 otherwise) and D of 64 or 128 (the
// 128-byte swizzle wants rows of at least 64 bf16; d = 16 and 32 keep version 3).
template <int D, int BC>
struct AttnWgShape {
  static constexpr int BM = 128;  // queries per block: two warpgroups of 64
  static constexpr int kThreads = 256;
  static constexpr int QB = BM * D * 2;  // bytes of the Q tile
  static constexpr int TB = BC * D * 2;  // bytes of one K or V tile
  static constexpr size_t kSmem = (size_t)QB + 4 * TB + 1024;  // Q, 2 × (K, V), and room to align to 1024
  static_assert(D == 64 || D == 128, "rows of 64 or 128 bf16: whole 128-byte swizzle rows");
  static_assert(BC == 64 || BC == 128, "a wgmma n of 64 or 128");
};

// Rows [r0, r0 + R) of a row-major len × D bf16 matrix into the swizzled layout at shared address
// dst (rows at or past len as zeros). Consecutive threads copy consecutive chunks of a row.
template <int D, int R>
static __device__ __forceinline__ void attn_wg_load(uint32_t dst, const uint16_t *g, int r0, int len) {
  constexpr int CPR = D / 8;  // 16-byte chunks per row
  static_assert((R * CPR) % 256 == 0, "every thread copies the same number of chunks");
#pragma unroll
  for (int i = 0; i < R * CPR / 256; ++i) {
    const int id = (int)threadIdx.x + 256 * i;
    const int r = id / CPR, c = id % CPR;
    const bool in = r < len - r0;
    const uint32_t off = (uint32_t)((c >> 3) * (R * 128) + r * 128 + (((c & 7) ^ (r & 7)) << 4));
    em__cp16(dst + off, in ? (const void *)(g + (int64_t)(r0 + r) * D + c * 8) : (const void *)g, in);
  }
}

// After a wait: each register of the accumulator passes through an empty asm that "changes" it,
// so that the compiler cannot move a read of the accumulator above the wait (for the compiler the
// wgmma statement produced the values; the hardware writes them until the wait returns).
template <int N>
static __device__ __forceinline__ void attn_wg_touch(float (&d)[N][4]) {
#pragma unroll
  for (int i = 0; i < N; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) asm volatile("" : "+f"(d[i][e])::"memory");
}
// P's registers are read by the tensor cores until the wait: a use after it keeps them alive (and
// unchanged) until then.
template <int N>
static __device__ __forceinline__ void attn_wg_keep(const uint32_t (&p)[N][4]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" ::"r"(p[i][0]), "r"(p[i][1]), "r"(p[i][2]), "r"(p[i][3]) : "memory");
}

// The wgmma statements, for n = 64 and 128. A thread holds n/2 accumulators: d[n/8][4] in the
// fragment order (chunk of 8 columns, then the four elements), listed as operands %0 .. %(n/2 − 1)
// by the macros below; the other operands follow them.
#define EM_WG_ACC4(i) "+f"(d[i][0]), "+f"(d[i][1]), "+f"(d[i][2]), "+f"(d[i][3])
#define EM_WG_ACC_N64 \
  EM_WG_ACC4(0), EM_WG_ACC4(1), EM_WG_ACC4(2), EM_WG_ACC4(3), EM_WG_ACC4(4), EM_WG_ACC4(5), EM_WG_ACC4(6), EM_WG_ACC4(7)
#define EM_WG_ACC_N128                                                                                           \
  EM_WG_ACC_N64, EM_WG_ACC4(8), EM_WG_ACC4(9), EM_WG_ACC4(10), EM_WG_ACC4(11), EM_WG_ACC4(12), EM_WG_ACC4(13), \
      EM_WG_ACC4(14), EM_WG_ACC4(15)
#define EM_WG_D32 \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}"
#define EM_WG_D64 \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, " \
  "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, " \
  "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}"

// S (64 × n) = A·B (+ S if acc): A (64 × 16) and B (n × 16, K-major) from shared memory.
static __device__ __forceinline__ void attn_wg_ss_n64(float (&d)[8][4], uint64_t da, uint64_t db, int acc) {
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
               "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 " EM_WG_D32 ", %32, %33, p, 1, 1, 0, 0;\n}\n"
               : EM_WG_ACC_N64
               : "l"(da), "l"(db), "r"(acc));
}
static __device__ __forceinline__ void attn_wg_ss_n128(float (&d)[16][4], uint64_t da, uint64_t db, int acc) {
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
               "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 " EM_WG_D64 ", %64, %65, p, 1, 1, 0, 0;\n}\n"
               : EM_WG_ACC_N128
               : "l"(da), "l"(db), "r"(acc));
}
// O (64 × n) += A·B: A (64 × 16) from registers (the mma.sync m16n8k16 A fragment of each warp's
// 16 rows), B (16 × n) from shared memory, N-major (tnspB = 1: V's rows are keys, d contiguous).
static __device__ __forceinline__ void attn_wg_rs_n64(float (&d)[8][4], const uint32_t (&a)[4], uint64_t db) {
  asm volatile("wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 " EM_WG_D32
               ", {%32, %33, %34, %35}, %36, 1, 1, 1, 1;\n"
               : EM_WG_ACC_N64
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db));
}
static __device__ __forceinline__ void attn_wg_rs_n128(float (&d)[16][4], const uint32_t (&a)[4], uint64_t db) {
  asm volatile("wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 " EM_WG_D64
               ", {%64, %65, %66, %67}, %68, 1, 1, 1, 1;\n"
               : EM_WG_ACC_N128
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db));
}
#undef EM_WG_ACC4
#undef EM_WG_ACC_N64
#undef EM_WG_ACC_N128
#undef EM_WG_D32
#undef EM_WG_D64

template <int N>
static __device__ __forceinline__ void attn_wg_ss(float (&d)[N / 8][4], uint64_t da, uint64_t db, int acc) {
  if constexpr (N == 64) attn_wg_ss_n64(d, da, db, acc);
  else attn_wg_ss_n128(d, da, db, acc);
}
template <int N>
static __device__ __forceinline__ void attn_wg_rs(float (&d)[N / 8][4], const uint32_t (&a)[4], uint64_t db) {
  if constexpr (N == 64) attn_wg_rs_n64(d, a, db);
  else attn_wg_rs_n128(d, a, db);
}

// S = Q·K_tileᵀ for this warpgroup's 64 queries (issued, not waited for): one wgmma per 16 of d.
// Step kk reads columns 16·kk.. of Q and K: block kk / 4 of 64 columns (Q's BM rows or K's BC
// rows of 128 bytes each), 32 bytes into the row; warpgroup wg's Q rows start 64·wg rows in.
template <int D, int BC, int BM = 128>
static __device__ __forceinline__ void attn_wg_issue_s(float (&s)[BC / 8][4], uint32_t sQ, uint32_t kb, int wg) {
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    const uint32_t kin = (uint32_t)((kk & 3) * 32);
    attn_wg_ss<BC>(s, em__wg_desc(sQ + (kk >> 2) * (BM * 128) + wg * (64 * 128) + kin, 16, 1024),
                   em__wg_desc(kb + (kk >> 2) * (BC * 128) + kin, 16, 1024), kk > 0);
  }
}

// S (the softmax's exps, float32) to the bf16 A fragments of the P·V MMAs.
template <int BC>
static __device__ __forceinline__ void attn_wg_pack(uint32_t (&p)[BC / 16][4], const float (&s)[BC / 8][4]) {
#pragma unroll
  for (int kk = 0; kk < BC / 16; ++kk) {
    p[kk][0] = em__bf16x2(s[2 * kk][0], s[2 * kk][1]);
    p[kk][1] = em__bf16x2(s[2 * kk][2], s[2 * kk][3]);
    p[kk][2] = em__bf16x2(s[2 * kk + 1][0], s[2 * kk + 1][1]);
    p[kk][3] = em__bf16x2(s[2 * kk + 1][2], s[2 * kk + 1][3]);
  }
}

// a.qtiles counts tiles of AttnWgShape::BM = 128 queries (attn_wg_launch_d sets it).
template <int D, int BC>
__global__ void __launch_bounds__(256, 1) attn_wg_kernel(AttnArgs a) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using S = AttnWgShape<D, BC>;
  constexpr int NS = BC / 8, NO = D / 8;
  extern __shared__ __align__(1024) unsigned char attn_smem_wg[];
  // The swizzle atoms must start 1024-aligned: round the base up (kSmem has the room).
  const uint32_t base = ((uint32_t)__cvta_generic_to_shared(attn_smem_wg) + 1023u) & ~1023u;
  const uint32_t sQ = base, sK = sQ + S::QB, sV = sK + 2 * S::TB;  // K, V: 2 buffers each

  const AttnBlock blk = attn_block<S::BM>(a);
  const uint16_t *q = (const uint16_t *)a.q + blk.head * a.n * D;
  const uint16_t *k = (const uint16_t *)a.k + blk.head * a.m * D;
  const uint16_t *v = (const uint16_t *)a.v + blk.head * a.m * D;
  uint16_t *o = (uint16_t *)a.o + blk.head * a.n * D;

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, wg = warp >> 2;
  const int gr = lane >> 2, tq = lane & 3, row0 = warp * 16;  // this warp's 16 rows of the block's 128
  const float c = a.scale_log2;

  float acc[NO][4], mrow[2], lrow[2];
  attn_mma_start(acc, mrow, lrow);

  const int ntiles = (blk.kend + BC - 1) / BC;
  if (ntiles > 0) {
    attn_wg_load<D, S::BM>(sQ, q, blk.q0, a.n);
    attn_wg_load<D, BC>(sK, k, 0, a.m);
    attn_wg_load<D, BC>(sV, v, 0, a.m);
    attn_cp_commit();
    if (ntiles > 1) {
      attn_wg_load<D, BC>(sK + S::TB, k, BC, a.m);
      attn_wg_load<D, BC>(sV + S::TB, v, BC, a.m);
    }
    attn_cp_commit();
  }

  for (int jt = 0; jt < ntiles; ++jt) {
    const int k0 = jt * BC, st = jt & 1;
    const uint32_t kb = sK + st * S::TB, vb = sV + st * S::TB;
    attn_cp_wait<1>();  // this thread's copies of tile j (and of Q) are done; tile j + 1 may be in flight
    em__fence_proxy_async();
    __syncthreads();

    float s[NS][4];
    em__wg_fence();
    attn_wg_issue_s<D, BC>(s, sQ, kb, wg);
    em__wg_commit();
    em__wg_wait<0>();
    attn_wg_touch(s);

    if (attn_tile_masked<BC>(a, blk, k0)) attn_mma_mask(s, a, blk, row0, k0, gr, tq);
    attn_mma_softmax(s, acc, mrow, lrow, c);

    uint32_t p[BC / 16][4];
    attn_wg_pack<BC>(p, s);
    em__wg_fence();
#pragma unroll
    for (int kk = 0; kk < BC / 16; ++kk)
      attn_wg_rs<D>(acc, p[kk], em__wg_desc(vb + kk * 2048, BC * 128, 1024));
    em__wg_commit();
    em__wg_wait<0>();
    attn_wg_keep(p);
    attn_wg_touch(acc);

    __syncthreads();  // both warpgroups are done with tile j's buffers: tile j + 2 may go there
    if (jt + 2 < ntiles) {
      attn_wg_load<D, BC>(kb, k, k0 + 2 * BC, a.m);
      attn_wg_load<D, BC>(vb, v, k0 + 2 * BC, a.m);
    }
    attn_cp_commit();  // possibly empty: the group count stays the same on every path
  }

  attn_store_mma(o, a, blk, row0, gr, tq, acc, lrow);
#else
  (void)a;  // built for another target than sm_90a: attn_wg_launch never launches this
#endif
}

// ---- version 4b: version 4 with the softmax of one tile hidden behind the MMAs of others ------
//
// In version 4 a warpgroup's tensor cores idle while it computes its softmax (exp2 on the SFU,
// maxima and sums on the ALUs), and its ALUs idle while the MMAs run: only the other warpgroup fills
// the gap. FlashAttention-3's intra-warpgroup pipelining overlaps the two within one warpgroup. With
// P_j (bf16, in registers) and O already rescaled for tile j's maximum, tile j is:
//   issue S_{j+1} = Q·K_{j+1}ᵀ;  issue O += P_j·V_j;  wait for S_{j+1} only (wait_group 1);
//   the softmax of S_{j+1} (its maxima, the rescale factor α, exp2, the sums) while O's MMAs run;
//   wait for O;  O *= α;  P_{j+1} to bf16.
// The order matters to the compiler as much as to the hardware: between the first MMA a stage
// issues and its wait, no other instruction may write an accumulator that an MMA of the stage
// reads (O's rescale), or ptxas serialises the MMAs ("wgmma ... serialized", which undoes the
// overlap); so O is rescaled after the wait, not before its MMAs as in version 4.
// Two S accumulators (the tile in the softmax and the next) are held in registers, so the key tile
// is 64 at d = 128 (S 2 × 32, O 64, P 16 per thread) and 128 at d = 64 (S 2 × 64, O 32, P 32).
// K_{j+1} must be in shared memory when tile j starts, while tile j + 2's copy is in flight: three
// K/V buffers (128 KB at d = 128, 112 KB at d = 64).
template <int D>
struct AttnWg2Cfg {
  static constexpr int BC = D == 128 ? 64 : 128;  // keys per tile
  static constexpr int STAGES = 3;
  static constexpr int QB = 128 * D * 2, TB = BC * D * 2;
  static constexpr size_t kSmem = (size_t)QB + STAGES * 2 * TB + 1024;
};

// attn_mma_softmax without the rescale of O: the factor α of each of the lane's two rows is returned
// for the caller to apply once O's MMAs are done.
template <int NS>
static __device__ __forceinline__ void attn_wg2_softmax(float (&s)[NS][4], float (&mrow)[2], float (&lrow)[2], float c,
                                                        float (&alpha)[2]) {
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float mx = fmaxf(s[0][2 * r], s[0][2 * r + 1]);
#pragma unroll
    for (int nt = 1; nt < NS; ++nt) mx = fmaxf(mx, fmaxf(s[nt][2 * r], s[nt][2 * r + 1]));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
    const float mnew = fmaxf(mrow[r], mx * c);
    const float mu = mnew == -INFINITY ? 0.0f : mnew;  // no key seen yet: subtract 0, not −inf
    alpha[r] = attn_exp2(mrow[r] - mu);
    mrow[r] = mnew;
    lrow[r] *= alpha[r];
#pragma unroll
    for (int nt = 0; nt < NS; ++nt) {
      s[nt][2 * r] = attn_exp2(fmaf(s[nt][2 * r], c, -mu));
      s[nt][2 * r + 1] = attn_exp2(fmaf(s[nt][2 * r + 1], c, -mu));
      lrow[r] += s[nt][2 * r] + s[nt][2 * r + 1];
    }
  }
}

// Tile j of version 4b: p holds P_j; with NEXT, sn receives S_{j+1} and leaves as P_{j+1}'s float32
// exps (packed into p before returning). The caller has made K_{j+1} and V_j visible. NEXT is a
// template argument, the last tile a call of its own: a branch around the MMAs of a stage makes
// ptxas serialise them.
// issued() runs once both stages are issued, before the waits: version 5 hands the tensor cores to
// the other warpgroup there; version 4b has nothing to do (AttnWgNothing).
struct AttnWgNothing {
  __device__ void operator()() const {}
};
template <int D, int BC, bool NEXT, int BM = 128, typename Issued = AttnWgNothing>
static __device__ __forceinline__ void attn_wg2_tile(const AttnArgs &a, const AttnBlock &blk, uint32_t (&p)[BC / 16][4],
                                                     float (&sn)[BC / 8][4], float (&acc)[D / 8][4], float (&mrow)[2],
                                                     float (&lrow)[2], uint32_t sQ, uint32_t kn, uint32_t vb, int jt,
                                                     int wg, int row0, int gr, int tq, Issued issued = Issued()) {
  em__wg_fence();
  if constexpr (NEXT) {
    attn_wg_issue_s<D, BC, BM>(sn, sQ, kn, wg);
    em__wg_commit();
    em__wg_fence();  // O's MMAs a stage of their own, so that waiting for S's alone ends S's
  }
#pragma unroll
  for (int kk = 0; kk < BC / 16; ++kk) attn_wg_rs<D>(acc, p[kk], em__wg_desc(vb + kk * 2048, BC * 128, 1024));
  em__wg_commit();
  issued();
  float alpha[2] = {1.0f, 1.0f};
  if constexpr (NEXT) {
    em__wg_wait<1>();  // S_{j+1} (committed first) is done; O's MMAs may still run
    attn_wg_touch(sn);
    const int k1 = (jt + 1) * BC;
    if (attn_tile_masked<BC>(a, blk, k1)) attn_mma_mask(sn, a, blk, row0, k1, gr, tq);
    attn_wg2_softmax(sn, mrow, lrow, a.scale_log2, alpha);
  }
  em__wg_wait<0>();
  attn_wg_keep(p);
  attn_wg_touch(acc);
  if constexpr (NEXT) {
#pragma unroll
    for (int nt = 0; nt < D / 8; ++nt) {
      acc[nt][0] *= alpha[0], acc[nt][1] *= alpha[0];
      acc[nt][2] *= alpha[1], acc[nt][3] *= alpha[1];
    }
    attn_wg_pack<BC>(p, sn);
  }
}

template <int D>
__global__ void __launch_bounds__(256, 1) attn_wg2_kernel(AttnArgs a) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using C = AttnWg2Cfg<D>;
  constexpr int BC = C::BC, NS = BC / 8, NO = D / 8;
  extern __shared__ __align__(1024) unsigned char attn_smem_wg2[];
  const uint32_t base = ((uint32_t)__cvta_generic_to_shared(attn_smem_wg2) + 1023u) & ~1023u;
  const uint32_t sQ = base, sK = sQ + C::QB, sV = sK + C::STAGES * C::TB;

  const AttnBlock blk = attn_block<128>(a);
  const uint16_t *q = (const uint16_t *)a.q + blk.head * a.n * D;
  const uint16_t *k = (const uint16_t *)a.k + blk.head * a.m * D;
  const uint16_t *v = (const uint16_t *)a.v + blk.head * a.m * D;
  uint16_t *o = (uint16_t *)a.o + blk.head * a.n * D;

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, wg = warp >> 2;
  const int gr = lane >> 2, tq = lane & 3, row0 = warp * 16;

  float acc[NO][4], mrow[2], lrow[2];
  attn_mma_start(acc, mrow, lrow);
  float s[NS][4];
  uint32_t p[BC / 16][4];

  const int ntiles = (blk.kend + BC - 1) / BC;
  if (ntiles > 0) {
    // Groups: Q and tile 0, tile 1, tile 2 (empty where there is none), then one per tile.
    attn_wg_load<D, 128>(sQ, q, blk.q0, a.n);
#pragma unroll
    for (int t = 0; t < C::STAGES; ++t) {
      if (t < ntiles) {
        attn_wg_load<D, BC>(sK + t * C::TB, k, t * BC, a.m);
        attn_wg_load<D, BC>(sV + t * C::TB, v, t * BC, a.m);
      }
      attn_cp_commit();
    }
    attn_cp_wait<C::STAGES - 1>();  // Q and tile 0
    em__fence_proxy_async();
    __syncthreads();
    em__wg_fence();
    attn_wg_issue_s<D, BC>(s, sQ, sK, wg);
    em__wg_commit();
    em__wg_wait<0>();
    attn_wg_touch(s);
    if (attn_tile_masked<BC>(a, blk, 0)) attn_mma_mask(s, a, blk, row0, 0, gr, tq);
    float alpha[2];
    attn_wg2_softmax(s, mrow, lrow, a.scale_log2, alpha);  // O is 0: nothing to rescale
    attn_wg_pack<BC>(p, s);
  }

  for (int jt = 0; jt < ntiles; ++jt) {
    // Committed so far: STAGES + jt groups; at most STAGES − 2 pending: tile jt + 1's is done.
    attn_cp_wait<C::STAGES - 2>();
    em__fence_proxy_async();
    __syncthreads();
    const int st = jt % C::STAGES, sn = (jt + 1) % C::STAGES;
    if (jt + 1 < ntiles)
      attn_wg2_tile<D, BC, true>(a, blk, p, s, acc, mrow, lrow, sQ, sK + sn * C::TB, sV + st * C::TB, jt, wg, row0, gr,
                                 tq);
    else
      attn_wg2_tile<D, BC, false>(a, blk, p, s, acc, mrow, lrow, sQ, sK + sn * C::TB, sV + st * C::TB, jt, wg, row0, gr,
                                  tq);
    __syncthreads();  // both warpgroups are done with tile j's K and V: tile j + 3 may go there
    if (jt + C::STAGES < ntiles) {
      attn_wg_load<D, BC>(sK + st * C::TB, k, (jt + C::STAGES) * BC, a.m);
      attn_wg_load<D, BC>(sV + st * C::TB, v, (jt + C::STAGES) * BC, a.m);
    }
    attn_cp_commit();
  }

  attn_store_mma(o, a, blk, row0, gr, tq, acc, lrow);
#else
  (void)a;  // built for another target than sm_90a: bench/attention.cu never launches this
#endif
}

// ---- version 5: version 4b's tiles fed by a producer, the warpgroups taking turns (sm_90a) -------
//
// FlashAttention-3's plan, in the parts version 4 lacked. Version 4's 256 threads copy every tile
// themselves (cp.async, the swizzle's addresses computed per 16 bytes) and meet at two block-wide
// barriers per tile, so both warpgroups compute their softmax at the same time and the tensor cores
// idle meanwhile. Here:
//   - the last warpgroup, the producer, has one thread issue the tiles' copies through the TMA (one bulk tensor
//     copy per 64 columns of a tile; the tensor maps, built by the launcher, give rows past a head's
//     n or m as zeros and write the 128-byte swizzle themselves), into two K and two V buffers;
//   - mbarriers, not the block, say when a buffer is full (full_k, full_v: the copies' bytes) and
//     when both warpgroups are done with it (empty_k, empty_v: one arrival per consumer warp), so
//     K_{j+2} is copied while tile j is computed, and V apart from K (V is needed a stage later);
//   - each warpgroup runs version 4b's tile (S_{j+1} = Q·K_{j+1}ᵀ and O += P_j·V_j issued together,
//     the softmax of S_{j+1} while O's MMAs run), and the two take turns to issue (two named
//     barriers, 256 threads each: a warpgroup waits for its turn, issues, and hands the turn over),
//     so that one warpgroup's softmax runs while the other's MMAs keep the tensor cores busy.
// Warpgroup 0 takes the first turn (the last consumer warpgroup hands it over once at the start),
// and takes one more at the end, so that every turn handed over is taken. Keys by BC (64 or 128), queries by 128
// (64 per warpgroup), as version 4; 384 threads, one block per SM. 65536 registers shared by 384
// threads are 168 each (ptxas spilled at D = BC = 128 with as many), so the producer warpgroup gives
// its registers back (setmaxnreg: 24 each) and the consumers take 240 (128·24 + 256·240 ≤ 65536).
//
// Version 5p (P, what the library runs): the same kernel made persistent. A block of version 5 ends
// on its output's stores and the next one starts on its Q's and first keys' copies and its first
// S alone, while the SM's tensor cores wait; with one block per SM nothing else fills that time. In
// 5p a block per SM takes query tiles from a queue in global memory (attn_ws_queue) until it is
// empty: the producer fetches the next tile as soon as it has issued this one's copies and copies its
// Q (into a second Q buffer) and first keys while the consumers finish this tile, and the consumers'
// stores drain while they start the next. The queue hands the tiles out in attn_block's order, so
// the causal grid keeps its longest-first order within groups of 8 heads, and a block that finishes
// early takes the next tile, as the hardware's block scheduler would. On an H100 (bench/attention.cu,
// b = 4, h = 16, n = m = 4096, two runs) 5p made 646 and 651 TFLOP/s against version 5's 629 and 636
// at d = 128, 582-583 against 556-558 causal, 418-426 against 403-404 at d = 64 and 382-387
// against 361-364 causal; groups of 4, 16 or 64 heads made its causal grid no faster than 8.
//
// NC: consumer warpgroups, 64 queries each: 2, or 3 (FlashAttention-3's tile of 192 queries at d = 64,
// where a tile's softmax is as long as at d = 128 against half the MMAs, so a third warpgroup's
// softmax has more MMAs to hide behind). They take turns in a ring (warpgroup w waits on named
// barrier 1 + w and hands over on the next's), and 512 threads leave the consumers 160 registers
// (128·24 + 384·160 ≤ 65536): enough for keys by 128 at d = 64, by 64 at d = 128. On an H100
// (bench/attention.cu, b = 4, h = 16, n = m = 4096) three made 525 TFLOP/s at d = 64 against two's
// 426, 435 against 386 causal; at d = 128 (keys by 64) 570 against 640, 546 against 586 causal.
template <int D, int BC, bool P = false, int NC = 2>
struct AttnWsCfg {
  static constexpr int BM = 64 * NC;
  static constexpr int kThreads = 128 * (NC + 1);  // the consumer warpgroups, then the producer's
  static constexpr int kRegs = NC == 2 ? 240 : 160;  // a consumer thread's, after setmaxnreg
  static constexpr int kWarps = 4 * NC;              // consumer warps: the arrivals that free a buffer
  static constexpr int QB = BM * D * 2, TB = BC * D * 2;
  static constexpr int QBUFS = P ? 2 : 1;        // persistent: the next tile's Q lands beside this one's
  static constexpr int kBars = QBUFS * QB + 4 * TB;  // Q (one or two), K[2], V[2], then the barriers
  static constexpr size_t kSmem = (size_t)kBars + 256 + 1024;  // 136 bytes of barriers; room to align to 1024
  static_assert(D == 64 || D == 128, "rows of 64 or 128 bf16: whole 128-byte swizzle rows");
  static_assert(BC == 64 || BC == 128, "a wgmma n of 64 or 128");
  static_assert(NC == 2 || NC == 3, "two or three consumer warpgroups");
};

// Version 5's barriers, 8 bytes each from bars, two of each kind (buffer i's at + 8·i): full Q, full
// K, full V, free K, free V, free Q; then, for the persistent form, a tile handed to the consumers
// and taken by them, and the two 4-byte slots that carry the tile's number. The producer and the
// consumers name the same ones.
struct AttnWsBars {
  uint32_t full_q, full_k, full_v, empty_k, empty_v, empty_q, tile_full, tile_empty, slot;
  explicit __device__ AttnWsBars(uint32_t bars)
      : full_q(bars), full_k(bars + 16), full_v(bars + 32), empty_k(bars + 48), empty_v(bars + 64),
        empty_q(bars + 80), tile_full(bars + 96), tile_empty(bars + 112), slot(bars + 128) {}
};

// The persistent form's queue of query tiles, in global memory: the next tile to hand out (past the
// grid's first, which each block takes by its index) and the blocks that found the queue empty. The
// last of those puts both back to 0, so that the next launch starts from an empty queue; launches
// that overlap (two streams) would share it, as they share the library's other workspace.
struct AttnWsQueue {
  unsigned next, done;
};
static __device__ AttnWsQueue attn_ws_queue;

static __device__ __forceinline__ void attn_st_shared(uint32_t addr, int x) {
  asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(addr), "r"(x) : "memory");
}
static __device__ __forceinline__ int attn_ld_shared(uint32_t addr) {
  int x;
  asm volatile("ld.shared.b32 %0, [%1];\n" : "=r"(x) : "r"(addr) : "memory");
  return x;
}

// The producer thread. For each of its block's query tiles (one, or with P as many as the queue
// hands it): Q, then K_j and V_j of every key tile as their buffers come free. Fill f of K or V (f
// counted over the block's whole life) uses buffer f % 2 in round f / 2, Q's fill likewise; a fresh
// barrier passes the wait of round 0. With P it also hands each tile's number to the consumers
// (tile_full) once they have taken the one before (tile_empty), and fetches the next from the queue
// when it has issued this tile's copies: the next tile's Q and first keys are then copied while the
// consumers finish this one. It stays until the last two fills are given back, so that no copy it
// issued is still landing when it leaves.
template <int D, int BC, bool P, int NC>
static __device__ __forceinline__ void attn_ws_produce(const AttnArgs &a, const CUtensorMap *tq, const CUtensorMap *tk,
                                                       const CUtensorMap *tv, int tiles, uint32_t sQ, uint32_t sK,
                                                       uint32_t sV, const AttnWsBars &bar) {
  using C = AttnWsCfg<D, BC, P, NC>;
  uint32_t f = 0, qf = 0;  // fills of K and V, of Q
  int x = blockIdx.x;
  for (uint32_t it = 0;; ++it) {
    if (P) {
      em__mbar_wait(bar.tile_empty + 8 * (it & 1), ((it >> 1) & 1) ^ 1);
      attn_st_shared(bar.slot + 4 * (it & 1), x);
      em__mbar_arrive(bar.tile_full + 8 * (it & 1));  // release: the slot is written before
    }
    if (x >= tiles) break;
    const AttnBlock blk = attn_block<C::BM>(a, x, tiles);
    const int ntiles = (blk.kend + BC - 1) / BC, head = (int)blk.head;  // < 2^31: the grid's tiles
    if (ntiles > 0) {
      const uint32_t qb = qf & 1, q = sQ + qb * C::QB;
      em__mbar_wait(bar.empty_q + 8 * qb, ((qf >> 1) & 1) ^ 1);
      em__mbar_expect_tx(bar.full_q + 8 * qb, C::QB);
#pragma unroll
      for (int c = 0; c < D / 64; ++c)
        em__tma_load_3d(q + c * (C::BM * 128), tq, 64 * c, blk.q0, head, bar.full_q + 8 * qb);
      ++qf;
      for (int j = 0; j < ntiles; ++j, ++f) {
        const uint32_t b = 8 * (f & 1), free = ((f >> 1) & 1) ^ 1;
        em__mbar_wait(bar.empty_k + b, free);
        em__mbar_expect_tx(bar.full_k + b, C::TB);
#pragma unroll
        for (int c = 0; c < D / 64; ++c)
          em__tma_load_3d(sK + (f & 1) * C::TB + c * (BC * 128), tk, 64 * c, j * BC, head, bar.full_k + b);
        em__mbar_wait(bar.empty_v + b, free);
        em__mbar_expect_tx(bar.full_v + b, C::TB);
#pragma unroll
        for (int c = 0; c < D / 64; ++c)
          em__tma_load_3d(sV + (f & 1) * C::TB + c * (BC * 128), tv, 64 * c, j * BC, head, bar.full_v + b);
      }
    }
    if (!P) break;
    x = (int)(gridDim.x + atomicAdd(&attn_ws_queue.next, 1u));
  }
  if (P) {
    __threadfence();  // this block's last fetch is done before it counts itself out
    if (atomicAdd(&attn_ws_queue.done, 1u) == gridDim.x - 1) {
      __threadfence();
      attn_ws_queue.next = 0;
      attn_ws_queue.done = 0;
    }
  }
  for (uint32_t g = f > 2 ? f - 2 : 0; g < f; ++g) {
    em__mbar_wait(bar.empty_k + 8 * (g & 1), (g >> 1) & 1);
    em__mbar_wait(bar.empty_v + 8 * (g & 1), (g >> 1) & 1);
  }
}

// P: persistent (version 5p, above): one block per SM, each taking query tiles from attn_ws_queue
// until none is left. tiles: the query tiles in all.
template <int D, int BC, bool P = false, int NC = 2>
__global__ void __launch_bounds__(AttnWsCfg<D, BC, P, NC>::kThreads, 1)
    attn_ws_kernel(AttnArgs a, const __grid_constant__ CUtensorMap tq, const __grid_constant__ CUtensorMap tk,
                   const __grid_constant__ CUtensorMap tv, int tiles) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using C = AttnWsCfg<D, BC, P, NC>;
  constexpr int NS = BC / 8, NO = D / 8;
  extern __shared__ __align__(1024) unsigned char attn_smem_ws[];
  const uint32_t base = ((uint32_t)__cvta_generic_to_shared(attn_smem_ws) + 1023u) & ~1023u;
  const uint32_t sQ = base, sK = sQ + C::QBUFS * C::QB, sV = sK + 2 * C::TB;
  const AttnWsBars bar(base + C::kBars);

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, wg = warp >> 2;
  if (threadIdx.x == 0) {
    for (int b = 0; b < 16; b += 8) {
      em__mbar_init(bar.full_q + b, 1);
      em__mbar_init(bar.full_k + b, 1);
      em__mbar_init(bar.full_v + b, 1);
      em__mbar_init(bar.empty_k + b, C::kWarps);
      em__mbar_init(bar.empty_v + b, C::kWarps);
      em__mbar_init(bar.empty_q + b, C::kWarps);
      em__mbar_init(bar.tile_full + b, 1);
      em__mbar_init(bar.tile_empty + b, C::kWarps);
    }
    em__mbar_init_fence();
  }
  __syncthreads();  // the last barrier of the whole block: the roles split here
  if (wg == NC) {
    asm volatile("setmaxnreg.dec.sync.aligned.u32 24;\n" ::: "memory");
    if (warp == 4 * NC && lane == 0) attn_ws_produce<D, BC, P, NC>(a, &tq, &tk, &tv, tiles, sQ, sK, sV, bar);
    return;
  }
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(C::kRegs) : "memory");

  const int gr = lane >> 2, tq4 = lane & 3, row0 = warp * 16;
  // the named barriers of this warpgroup's turn and the next one's (for two, written as version 5 had
  // it: the ring's general form compiled to other instructions around it)
  const int mine = 1 + wg, other = NC == 2 ? 2 - wg : wg + 1 < NC ? 2 + wg : 1;
  const auto hand_over = [&] { em__bar_arrive(other, 256); };
  float acc[NO][4], mrow[2], lrow[2];
  float s[NS][4];
  uint32_t p[BC / 16][4];
  uint32_t f = 0, qf = 0;  // the producer's counts of fills, kept in step (attn_ws_produce)
  int x = blockIdx.x;

  if (wg == NC - 1) em__bar_arrive(1, 256);  // warpgroup 0 goes first
  for (uint32_t it = 0;; ++it) {
    if (P) {
      em__mbar_wait(bar.tile_full + 8 * (it & 1), (it >> 1) & 1);
      x = attn_ld_shared(bar.slot + 4 * (it & 1));
      __syncwarp();
      if (lane == 0) em__mbar_arrive(bar.tile_empty + 8 * (it & 1));
    }
    if (x >= tiles) break;
    const AttnBlock blk = attn_block<C::BM>(a, x, tiles);
    const int ntiles = (blk.kend + BC - 1) / BC;
    attn_mma_start(acc, mrow, lrow);
    if (ntiles > 0) {
      const uint32_t qb = qf & 1, q = sQ + qb * C::QB;
      em__mbar_wait(bar.full_q + 8 * qb, (qf >> 1) & 1);
      em__mbar_wait(bar.full_k + 8 * (f & 1), (f >> 1) & 1);
      em__bar_sync(mine, 256);
      em__wg_fence();
      attn_wg_issue_s<D, BC, C::BM>(s, q, sK + (f & 1) * C::TB, wg);
      em__wg_commit();
      em__bar_arrive(other, 256);
      em__wg_wait<0>();
      attn_wg_touch(s);
      if (lane == 0) em__mbar_arrive(bar.empty_k + 8 * (f & 1));
      if (attn_tile_masked<BC>(a, blk, 0)) attn_mma_mask(s, a, blk, row0, 0, gr, tq4);
      float alpha[2];
      attn_wg2_softmax(s, mrow, lrow, a.scale_log2, alpha);  // O is 0: nothing to rescale
      attn_wg_pack<BC>(p, s);

      for (int jt = 0; jt < ntiles; ++jt, ++f) {
        const int st = f & 1, sn = (f + 1) & 1;
        em__mbar_wait(bar.full_v + 8 * st, (f >> 1) & 1);
        if (jt + 1 < ntiles) {
          em__mbar_wait(bar.full_k + 8 * sn, ((f + 1) >> 1) & 1);
          em__bar_sync(mine, 256);
          attn_wg2_tile<D, BC, true, C::BM>(a, blk, p, s, acc, mrow, lrow, q, sK + sn * C::TB, sV + st * C::TB, jt,
                                            wg, row0, gr, tq4, hand_over);
          if (lane == 0) em__mbar_arrive(bar.empty_k + 8 * sn);
        } else {
          attn_wg2_tile<D, BC, false, C::BM>(a, blk, p, s, acc, mrow, lrow, q, sK + sn * C::TB, sV + st * C::TB, jt,
                                             wg, row0, gr, tq4);
        }
        if (lane == 0) em__mbar_arrive(bar.empty_v + 8 * st);
      }
      if (lane == 0) em__mbar_arrive(bar.empty_q + 8 * qb);  // every MMA that read this Q is done
      ++qf;
    }
    attn_store_mma((uint16_t *)a.o + blk.head * a.n * D, a, blk, row0, gr, tq4, acc, lrow);
    if (!P) break;
  }
  if (wg == 0) em__bar_sync(1, 256);  // the turn the last warpgroup handed over last, taken
#else
  (void)a, (void)tq, (void)tk, (void)tv, (void)tiles;  // built for another target than sm_90a: never launched
#endif
}

// ---- launching ---------------------------------------------------------------------------------
// These return CUDA's error; the library turns it into em__fail, the bench into CHECK. Above 48 KB
// of dynamic shared memory a kernel must opt in, and the carveout preference asks for the largest
// shared-memory split, so that two blocks fit an SM.

template <typename Kernel>
static inline cudaError_t attn_smem(Kernel kernel, size_t smem) {
  cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
  if (e == cudaSuccess)
    e = cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout, (int)cudaSharedmemCarveoutMaxShared);
  return e;
}

template <typename Kernel>
static inline cudaError_t attn_launch(Kernel kernel, size_t smem, const AttnArgs &a, int64_t blocks,
                                      int threads = kAttnThreads) {
  const cudaError_t e = attn_smem(kernel, smem);
  if (e != cudaSuccess) return e;
  kernel<<<(unsigned)blocks, threads, smem>>>(a);
  return cudaGetLastError();
}

// d must be one of 16, 32, 64, 128 (the library checks it first).
template <int U1 = 4, int U2 = 4>
static inline cudaError_t attn_fma_launch(const AttnArgs &a, int d, int64_t blocks) {
  switch (d) {
    case 16: return attn_launch(attn_fma_kernel<16, U1, U2>, AttnFmaShape<16>::kSmem, a, blocks);
    case 32: return attn_launch(attn_fma_kernel<32, U1, U2>, AttnFmaShape<32>::kSmem, a, blocks);
    case 64: return attn_launch(attn_fma_kernel<64, U1, U2>, AttnFmaShape<64>::kSmem, a, blocks);
    case 128: return attn_launch(attn_fma_kernel<128, U1, U2>, AttnFmaShape<128>::kSmem, a, blocks);
    default: return cudaErrorInvalidValue;
  }
}

// Where the split tiles' pieces leave their states, owned by the caller and kept between calls:
// grown when a launch needs more (cudaFree synchronises first, so no kernel still uses the old
// one), the counts zeroed once when allocated and put back to 0 by every launch. One launch at a
// time may use it.
struct AttnSplitSpace {
  float *ws = nullptr;
  unsigned *count = nullptr;
  int64_t ws_floats = 0, counts = 0;
};

// The space left empty (and the error returned) where an allocation fails.
static inline cudaError_t attn_split_grow(AttnSplitSpace &sp, int64_t floats, int64_t counts) {
  if (floats > sp.ws_floats) {
    if (sp.ws) cudaFree(sp.ws);
    sp.ws_floats = 0;
    const cudaError_t e = cudaMalloc(&sp.ws, (size_t)floats * sizeof(float));
    if (e != cudaSuccess) {
      (void)cudaGetLastError();  // not left behind for the next launch's check to find
      sp.ws = nullptr;
      return e;
    }
    sp.ws_floats = floats;
  }
  if (counts > sp.counts) {
    if (sp.count) cudaFree(sp.count);
    sp.counts = 0;
    cudaError_t e = cudaMalloc(&sp.count, (size_t)counts * sizeof(unsigned));
    if (e == cudaSuccess) e = cudaMemset(sp.count, 0, (size_t)counts * sizeof(unsigned));
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      if (sp.count) cudaFree(sp.count);
      sp.count = nullptr;
      return e;
    }
    sp.counts = counts;
  }
  return cudaSuccess;
}

// The blocks of attn_fma_split_kernel<D, P, U1, U2> resident at once: asked of the device once
// per device (one count per instance), not on every call. The launch sets the kernel's shared
// memory attribute itself (attn_fma_split_run); the query sets it only to ask.
template <int D, int P, int U1, int U2>
static inline cudaError_t attn_split_slots(int64_t &slots) {
  using S = AttnFmaShape<D>;
  const auto kernel = attn_fma_split_kernel<D, P, U1, U2>;
  static int slots_dev = -1;
  static int64_t count = 1;
  int dev = 0;
  cudaError_t e = cudaGetDevice(&dev);
  if (e == cudaSuccess && dev != slots_dev) {
    int sms = 0, per_sm = 0;
    e = attn_smem(kernel, S::kSmem);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    if (e == cudaSuccess) e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kAttnThreads, S::kSmem);
    if (e == cudaSuccess) {
      count = per_sm * sms > 0 ? (int64_t)per_sm * sms : 1;
      slots_dev = dev;
    }
  }
  slots = count;
  return e;
}

// Version 1 at one d with the last tiles mod slots (the blocks resident at once, attn_split_slots)
// split in P pieces (attn_fma_split_kernel); blocks is attn_args' count of tiles.
template <int D, int P = kAttnSplit, int U1 = 4, int U2 = 4>
static inline cudaError_t attn_fma_split_run(const AttnArgs &a, int64_t blocks, int64_t slots, AttnSplitSpace &sp) {
  using S = AttnFmaShape<D>;
  const auto kernel = attn_fma_split_kernel<D, P, U1, U2>;
  // The split tiles' extra blocks must still fit a grid (2^31 − 1 along x); past that, none split.
  const int64_t split = blocks > INT32_MAX - (int64_t)(P - 1) * slots ? 0 : blocks % slots;
  cudaError_t e = attn_split_grow(sp, split * P * (S::TM * S::TD + 2 * S::TM) * kAttnThreads, split);
  if (e == cudaSuccess) e = attn_smem(kernel, S::kSmem);
  if (e != cudaSuccess) return e;
  const AttnSplitArgs args = {blocks, blocks - split, sp.ws, sp.count, P};
  kernel<<<(unsigned)(args.whole + P * split), kAttnThreads, S::kSmem>>>(a, args);
  return cudaGetLastError();
}

template <int D, int P = kAttnSplit, int U1 = 4, int U2 = 4>
static inline cudaError_t attn_fma_split_launch(const AttnArgs &a, int64_t blocks, AttnSplitSpace &sp) {
  int64_t slots = 1;
  const cudaError_t e = attn_split_slots<D, P, U1, U2>(slots);
  return e != cudaSuccess ? e : attn_fma_split_run<D, P, U1, U2>(a, blocks, slots, sp);
}

// A grid far short of a wave, decode-like attention (a few queries against many keys): every tile's
// keys in as many pieces as the blocks resident at once allow (at most kAttnPiecesMax, at most a key
// tile each), one launch of attn_fma_split_kernel with P = 0 (the count chosen here, the pieces'
// maxima read again in the merge). Launched only where that makes at least min_pieces pieces (ran
// says whether it did): the caller runs fewer its own way. On an H100 (2026-12-07, bench/attention.cu
// --decode, d = 128 but the last), ms, whole / in thirds / in pieces: b = h = 1, n = 1, m = 8192:
// 0.993 / 0.349 / 0.129 (32 pieces); h = 8: 0.992 / 0.347 / 0.154 (32); b = 4, h = 8, n = 64, m = 8192:
// 1.023 / 0.358 / 0.261 (8); one head of 3 queries, m = 2000, causal: 0.254 whole (the library left
// it whole) / 0.105 (32); h = 32, n = 16, m = 4096, d = 64, causal: 0.297 whole / 0.103 (12).
// Between a quarter and half a wave (2 or 3 pieces): h = 128, n = 16, m = 4096, d = 64, causal 0.304
// whole / 0.248 in 3; h = 96, n = 1, m = 8192, d = 128 0.871 in halves (P = 2, the maxima in
// registers) / 0.899 in 2 pieces (P = 0): at d = 128 without the mask the halves and thirds stay.
static const int kAttnPiecesMax = 32;  // past it each piece's merge reads more than its keys save
static const int kAttnPiecesMin = 4;   // at d = 128 without the mask; fewer: halves or thirds
template <int D>
static inline cudaError_t attn_fma_pieces_run(const AttnArgs &a, int64_t blocks, int64_t min_pieces,
                                              AttnSplitSpace &sp, bool &ran) {
  using S = AttnFmaShape<D>;
  const auto kernel = attn_fma_split_kernel<D, 0, 4, 4>;
  ran = false;
  int64_t slots = 1;
  cudaError_t e = attn_split_slots<D, 0, 4, 4>(slots);
  if (e != cudaSuccess) return e;
  const int64_t ktiles = (a.m + kAttnBN - 1) / kAttnBN;
  int64_t pieces = slots / blocks;  // blocks ≥ 1 (attn_args); pieces · blocks ≤ slots: one wave
  pieces = pieces < ktiles ? pieces : ktiles;
  pieces = pieces < kAttnPiecesMax ? pieces : kAttnPiecesMax;
  if (pieces < min_pieces) return cudaSuccess;
  e = attn_split_grow(sp, blocks * pieces * (S::TM * S::TD + 2 * S::TM) * kAttnThreads, blocks);
  if (e == cudaSuccess) e = attn_smem(kernel, S::kSmem);
  if (e != cudaSuccess) return e;
  const AttnSplitArgs args = {blocks, 0, sp.ws, sp.count, (int)pieces};
  kernel<<<(unsigned)(blocks * pieces), kAttnThreads, S::kSmem>>>(a, args);
  ran = true;
  return cudaGetLastError();
}

// What em_attention_cuda runs: version 1, split where that measured faster (d = 128 without the
// mask; attn_fma_split_kernel), and where every piece gets a key tile. A grid of more than one wave
// has its last wave split in thirds: its tail's pieces start as the earlier waves' blocks finish, one
// by one, and fill the slots they leave. A grid of less than one wave starts every block at once, so
// its tiles go in as many pieces as the slots hold (at most thirds) and none wait for a second wave:
// on an H100 at b = h = 1, n = m = 8192 (128 tiles, 264 slots) thirds, 384 blocks, took 1.138 ms
// against 1.005 whole and 0.877 in halves (bench/attention.cu). Halves and thirds have the same
// blocks per SM (their resources are the same kernel's), so one slot count serves both. First, a
// grid of a quarter of a wave or less: its tiles' keys in 4 to 32 pieces (attn_fma_pieces_run); at
// d < 128 or under the mask, which have no halves or thirds, a grid of half a wave or less, in 2 to
// 32. Not in the sm_90a object (EM_SM90A_TU, below), which would otherwise hold every kernel this
// one launches.
#ifndef EM_SM90A_TU
static inline cudaError_t attn_fma_best_launch(const AttnArgs &a, int d, int64_t blocks, AttnSplitSpace &sp) {
  bool ran = false;
  cudaError_t e = cudaSuccess;
  const int64_t least = d == 128 && !a.causal ? kAttnPiecesMin : 2;
  switch (d) {
    case 16: e = attn_fma_pieces_run<16>(a, blocks, least, sp, ran); break;
    case 32: e = attn_fma_pieces_run<32>(a, blocks, least, sp, ran); break;
    case 64: e = attn_fma_pieces_run<64>(a, blocks, least, sp, ran); break;
    case 128: e = attn_fma_pieces_run<128>(a, blocks, least, sp, ran); break;
    default: break;  // attn_fma_launch refuses it
  }
  if (e != cudaSuccess || ran) return e;
  if (d == 128 && !a.causal) {
    int64_t slots = 1;
    e = attn_split_slots<128, kAttnSplit, 4, 4>(slots);
    if (e != cudaSuccess) return e;
    const int64_t pieces = blocks >= slots ? kAttnSplit : slots / blocks;  // blocks ≥ 1 (attn_args)
    if (pieces >= kAttnSplit && a.m > (kAttnSplit - 1) * kAttnBN)
      return attn_fma_split_run<128, kAttnSplit>(a, blocks, slots, sp);
    if (pieces >= 2 && a.m > kAttnBN) return attn_fma_split_run<128, 2>(a, blocks, slots, sp);
  }
  return attn_fma_launch(a, d, blocks);
}
#endif

// UK = 0: the shipped unrolling of the d loop of S, 4 (or d/8 where less; see attn_tf32_kernel);
// UK = -1: unrolled fully (d/8), the variant bench/attention.cu times beside it.
template <bool X3 = true, int UK = 0>
static inline cudaError_t attn_tf32_launch(const AttnArgs &a, int d, int64_t blocks) {
  constexpr int U = UK > 0 ? UK : 4;
  constexpr int U16 = UK < 0 || U > 2 ? 2 : U, U32 = UK < 0 || U > 4 ? 4 : U;  // at most d/8
  constexpr int U64 = UK < 0 ? 8 : U, U128 = UK < 0 ? 16 : U;
  switch (d) {
    case 16: return attn_launch(attn_tf32_kernel<16, X3, U16>, AttnTf32Shape<16>::kSmem, a, blocks);
    case 32: return attn_launch(attn_tf32_kernel<32, X3, U32>, AttnTf32Shape<32>::kSmem, a, blocks);
    case 64: return attn_launch(attn_tf32_kernel<64, X3, U64>, AttnTf32Shape<64>::kSmem, a, blocks);
    case 128: return attn_launch(attn_tf32_kernel<128, X3, U128>, AttnTf32Shape<128>::kSmem, a, blocks);
    default: return cudaErrorInvalidValue;
  }
}

// EM_SM90A_TU: an sm_90a object (reference/cuda/attention_sm90a.cu) that needs none of version 3's
// instances: a function that is not a template is compiled wherever it is seen.
#ifndef EM_SM90A_TU
static inline cudaError_t attn_bf16_launch(const AttnArgs &a, int d, int64_t blocks) {
  switch (d) {
    case 16: return attn_launch(attn_bf16_kernel<16>, AttnBf16Shape<16>::kSmem, a, blocks);
    case 32: return attn_launch(attn_bf16_kernel<32>, AttnBf16Shape<32>::kSmem, a, blocks);
    case 64: return attn_launch(attn_bf16_kernel<64>, AttnBf16Shape<64>::kSmem, a, blocks);
    case 128: return attn_launch(attn_bf16_kernel<128>, AttnBf16Shape<128>::kSmem, a, blocks);
    default: return cudaErrorInvalidValue;
  }
}
#endif

// Version 4 at one d and one key tile, built for sm_90a only (the caller knows: its kernel body is
// empty for other targets). blocks is attn_args' count (64-query tiles); version 4 recounts for its
// 128-query blocks.
template <int D, int BC>
static inline cudaError_t attn_wg_launch_d(AttnArgs a, int64_t blocks) {
  const int64_t bh = blocks / a.qtiles;
  a.qtiles = (a.n + AttnWgShape<D, BC>::BM - 1) / AttnWgShape<D, BC>::BM;
  return attn_launch(attn_wg_kernel<D, BC>, AttnWgShape<D, BC>::kSmem, a, (int64_t)a.qtiles * bh, 256);
}

// Version 4 with BC keys per tile. Tensors off 16 bytes and d = 16, 32: cudaErrorNotSupported, and
// the caller runs version 3 (so that an sm_90a object holds only the kernels it adds).
template <int BC = 128>
static inline cudaError_t attn_wg_launch(AttnArgs a, int d, int64_t blocks) {
  if (!a.aligned || (d != 64 && d != 128)) return cudaErrorNotSupported;
  return d == 64 ? attn_wg_launch_d<64, BC>(a, blocks) : attn_wg_launch_d<128, BC>(a, blocks);
}

// Version 5 at one d and one key tile (sm_90a only, as version 4): the three tensor maps, then the
// launch. The caller has checked that version 5 takes the call (attn_ws_pick); a tensor map the
// driver refuses gives cudaErrorNotSupported, as the shapes version 5 does not take do.
template <int D, int BC, bool P = false, int NC = 2>
static inline cudaError_t attn_ws_launch_d(AttnArgs a, int64_t blocks) {
  using C = AttnWsCfg<D, BC, P, NC>;
  const int64_t bh = blocks / a.qtiles;
  a.qtiles = (a.n + C::BM - 1) / C::BM;
  const int tiles = (int)((int64_t)a.qtiles * bh);  // at most blocks, which the caller keeps < 2^31
  CUtensorMap tq, tk, tv;
  // A map the driver cannot make (no encoder, a shape it refuses): not this kernel's, the caller's
  // version 3 runs instead.
  if (em__tmap_bf16_3d(&tq, a.q, D, (uint64_t)a.n, (uint64_t)bh, 64, C::BM) != cudaSuccess ||
      em__tmap_bf16_3d(&tk, a.k, D, (uint64_t)a.m, (uint64_t)bh, 64, BC) != cudaSuccess ||
      em__tmap_bf16_3d(&tv, a.v, D, (uint64_t)a.m, (uint64_t)bh, 64, BC) != cudaSuccess)
    return cudaErrorNotSupported;
  cudaError_t e = attn_smem(attn_ws_kernel<D, BC, P, NC>, C::kSmem);
  int grid = tiles;
  if (P) {  // one block per SM (its shared memory allows no more), none without a tile
    int dev = 0, sms = 0;
    if (e == cudaSuccess) e = cudaGetDevice(&dev);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    grid = tiles < sms ? tiles : sms;
  }
  if (e != cudaSuccess) return e;
  attn_ws_kernel<D, BC, P, NC><<<(unsigned)grid, C::kThreads, C::kSmem>>>(a, tq, tk, tv, tiles);
  return cudaGetLastError();
}
// Version 5 where it goes, at d = 64 with BC64 keys a tile and NC64 consumer warpgroups, at d = 128
// with BC128 and NC128; cudaErrorNotSupported elsewhere (tensors off 16 bytes, no keys, d = 16, 32),
// and the caller runs version 3. The one place that says what version 5 takes.
template <int BC64, int BC128, bool P, int NC64 = 2, int NC128 = 2>
static inline cudaError_t attn_ws_pick(const AttnArgs &a, int d, int64_t blocks) {
  if (!a.aligned || a.m < 1 || (d != 64 && d != 128)) return cudaErrorNotSupported;
  return d == 64 ? attn_ws_launch_d<64, BC64, P, NC64>(a, blocks) : attn_ws_launch_d<128, BC128, P, NC128>(a, blocks);
}
template <int BC = 128, bool P = false>
static inline cudaError_t attn_ws_launch(const AttnArgs &a, int d, int64_t blocks) {
  return attn_ws_pick<BC, BC, P>(a, d, blocks);
}

// The library's bf16 kernel on Hopper: version 5p, persistent, keys by 128, with two consumer
// warpgroups at d = 128 and three at d = 64, the fastest (bench/attention.cu on an H100, 2026-12-07,
// b = 4, h = 16, n = m = 4096: version 5 made 625 TFLOP/s at d = 128 against version 4's 417, causal
// 548 against 388, d = 64 405 against 385 (version 4 by 64 keys), causal 366 against 359, keys by 64
// losing at both d; 5p then 2-6% more than 5 at every one of the four, and at d = 64 three consumer
// warpgroups 13-23% more than two), and only those two instances, so that the library carries no
// kernel it never runs. Seen by the sm_90a object alone (EM_SM90A_TU): elsewhere
// it would compile the two as empty stubs.
#ifdef EM_SM90A_TU
static inline cudaError_t attn_wg_best_launch(const AttnArgs &a, int d, int64_t blocks) {
  return attn_ws_pick<128, 128, true, 3, 2>(a, d, blocks);
}
#endif

// The arguments of a call: the shape checks are the caller's (d supported, 1 ≤ n, m ≤ kAttnMaxLen,
// qtiles·b·h ≤ 2^31 − 1). Returns the number of blocks to launch.
static inline int64_t attn_args(AttnArgs *a, const void *q, const void *k, const void *v, void *o, int64_t bh,
                                int64_t n, int64_t m, int64_t d, int causal) {
  a->q = q, a->k = k, a->v = v, a->o = o;
  a->n = (int)n, a->m = (int)m;
  a->qtiles = (int)((n + kAttnBM - 1) / kAttnBM);
  a->causal = causal != 0;
  a->aligned = ((((uintptr_t)q | (uintptr_t)k | (uintptr_t)v | (uintptr_t)o) & 15) == 0);
  a->scale_log2 = (float)(1.4426950408889634 / sqrt((double)d));
  return (int64_t)a->qtiles * bh;
}

// The library's Hopper launcher (attn_wg_best_launch), compiled for sm_90a alone in
// attention_sm90a.cu: it fails with cudaErrorNoKernelImageForDevice where the build holds no sm_90a
// image (see mma.cuh).
cudaError_t em__attn_bf16_sm90a_launch(const AttnArgs &a, int d, int64_t blocks);

#endif  // EM_REFERENCE_CUDA_ATTENTION_KERNELS_CUH
