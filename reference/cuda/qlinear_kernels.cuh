// Lab 8 reference kernels, CUDA: the int8 quantised linear layer (include/em/qlinear.h).
// Why they are as they are: reference/cuda/qlinear.cu, whose entry points call the launchers at
// the end of this header; bench/qlinear.cu includes it too, so that the bench times (and checks)
// the kernels that ship, and its variants are these kernels with other template arguments.
// Everything is static or a template: each program that includes the header gets its own copy.
//
//   qlin_quantize_kernel     a row per warp (≤ 1024 columns) or per block: max|a|, s, then q;
//   qlin_fwd_mma_kernel      the forward for M > 16: int8 tensor cores (mma.sync m16n8k32), tiles of
//                            x and W through a cp.async pipeline, fused dequantisation epilogue;
//   qlin_fwd_decode_kernel   the forward for M ≤ 16: streams W once at the memory's pace, x padded
//                            to the 16 rows of one mma tile;
//   qlin_fwd_decode_bulk_kernel  the same forward with W brought into shared memory by Hopper bulk
//                            copies (sm_90; bench variants, not yet in the dispatch);
//   qlin_fwd_decode_split_kernel  the same forward with K split among a cluster's blocks, their
//                            partial sums met in distributed shared memory (sm_90; bench variants);
//   qlin_fwd_decode_splitk_kernel  the same with K split among independent blocks, their sums
//                            met by atomics in a global workspace (bench variants);
//   qlin_sgemm_kernel        the backward's two float32 products (FFMA, register-blocked), the
//                            int8 operand dequantised on its way into shared memory, db fused;
//   qlin_bwd_tc_kernel       the same products on the bf16 tensor cores with float32 accuracy (the
//                            scaled float32 operand split exactly into three bf16 pieces), db fused:
//                            the backward wherever its shapes and pointers suit it (qlin_bwd_tc_launch),
//                            qlin_sgemm_kernel elsewhere.
#ifndef EM_REFERENCE_CUDA_QLINEAR_KERNELS_CUH
#define EM_REFERENCE_CUDA_QLINEAR_KERNELS_CUH

#include <cuda_runtime.h>
#include <stdint.h>

#include "mma.cuh"

// ---- the exact arithmetic the contract fixes ---------------------------------------------------

// One element's quantisation, s > 0: the quotient is the correctly rounded float32 division
// (__fdiv_rn, never the approximate a·(1/s): the last bit decides ties at .5), rintf rounds half
// to even (cvt.rni). The clamp matters only where s is a denormal: a normal s is within 2^-24 of
// max|a|/127, so |a/s| ≤ 127·(1 + 2^-23) rounds to 127 at most, but a denormal s has too few bits
// for that (max|a| = 2^-140 gives s ≈ 2^-147 with 2 bits, a quotient up to ~170).
static __device__ __forceinline__ int qlin_quant1(float v, float s) {
  const float q = rintf(__fdiv_rn(v, s));
  return (int)fminf(fmaxf(q, -127.0f), 127.0f);
}

// y = (s_x·s_w)·acc + b, in this order: the scales' product rounded once (__fmul_rn), acc converted
// to float (exact while |acc| ≤ 2^24, one rounding beyond), then one fused multiply-add
// (__fmaf_rn): three roundings in all, so |y − exact| ≤ (2u + u²)·|s_x·s_w·acc| + u·|y| with
// u = 2^-24, which the checker's tolerance of a few float32 roundings covers. The intrinsics keep
// the compiler from contracting or reassociating it differently in different kernels.
static __device__ __forceinline__ float qlin_dequant(float sx, float sw, int32_t acc, float b) {
  return __fmaf_rn(__fmul_rn(sx, sw), __int2float_rn(acc), b);
}

// ---- quantisation ------------------------------------------------------------------------------
//
// Memory-bound (4 bytes read, 1 written per element): each row is read from DRAM once. G threads
// share a row (a warp for rows up to 1024 columns, the whole 256-thread block beyond), each keeping
// up to kQlinQuantCache float4 of it in registers between the two passes (max|a|, then q), so rows
// up to 32·G columns (8192 for a block) are read once; only the part of a longer row past that is
// read again, from the L2 where the first pass just left it. The body of a row is read as float4
// from its first 16-byte boundary on (a row of an odd column count starts anywhere), its head and
// tail element by element; q is stored four at a time where its row allows 4-byte stores.
// A row whose max|a| is 0 gets s = 0 and q = 0. So does a row so small that max|a|/127 rounds to 0
// (below 63.5·2^-149, denormals): dividing by that s would make ±inf and 0/0; q = 0 is what the row
// dequantises to either way.

static const int kQlinQuantThreads = 256;
static const int kQlinQuantCache = 8;           // float4 per thread kept between the passes
static const int64_t kQlinQuantWarpCols = 1024;  // up to this, a warp per row (32 lanes × 8 float4)

static __device__ __forceinline__ float qlin_absmax4(float m, float4 v) {
  return fmaxf(fmaxf(m, fmaxf(fabsf(v.x), fabsf(v.y))), fmaxf(fabsf(v.z), fabsf(v.w)));
}

// Four quantised values packed into a word, lowest address in the lowest byte (little endian).
static __device__ __forceinline__ uint32_t qlin_quant4(float4 v, float s) {
  if (s == 0.0f) return 0u;
  return (uint32_t)(qlin_quant1(v.x, s) & 0xff) | (uint32_t)(qlin_quant1(v.y, s) & 0xff) << 8 |
         (uint32_t)(qlin_quant1(v.z, s) & 0xff) << 16 | (uint32_t)(qlin_quant1(v.w, s) & 0xff) << 24;
}

static __device__ __forceinline__ void qlin_store4(int8_t *p, uint32_t w, bool vec) {
  if (vec) {
    *(uint32_t *)p = w;
  } else {
#pragma unroll
    for (int e = 0; e < 4; ++e) p[e] = (int8_t)(w >> (8 * e));
  }
}

// max over the G threads of a row: a warp shuffle, and for G = 256 one more step through shared
// memory (red: 8 floats), with a barrier after the read so the next row may overwrite red.
template <int G>
static __device__ __forceinline__ float qlin_group_max(float m, float *red) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
  if (G == 32) return m;
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = m;
  __syncthreads();
#pragma unroll
  for (int w = 0; w < G / 32; ++w) m = fmaxf(m, red[w]);
  __syncthreads();
  return m;
}

template <int G>
__global__ void __launch_bounds__(kQlinQuantThreads) qlin_quantize_kernel(const float *a, int64_t rows,
                                                                          int64_t cols, int8_t *aq, float *scale) {
  static_assert(G == 32 || G == kQlinQuantThreads, "a warp or the whole block per row");
  constexpr int RPB = kQlinQuantThreads / G;  // rows per block at a time
  constexpr int V = kQlinQuantCache;
  __shared__ float red[kQlinQuantThreads / 32];
  const int sub = threadIdx.x % G;
  // The loop's bounds are the same for every thread of a group (for G = 256, of the block), so
  // the barriers in qlin_group_max are reached by all of them.
  for (int64_t row = (int64_t)blockIdx.x * RPB + threadIdx.x / G; row < rows; row += (int64_t)gridDim.x * RPB) {
    const float *ar = a + row * cols;
    int8_t *qr = aq + row * cols;
    // Elements before the row's first 16-byte boundary (a float pointer is 4-byte aligned).
    int64_t head = (int64_t)(((16u - ((unsigned)(uintptr_t)ar & 15u)) & 15u) >> 2);
    if (head > cols) head = cols;
    const int64_t n4 = (cols - head) >> 2;  // float4 of the body
    const int64_t tail0 = head + 4 * n4;    // 0..3 elements after it
    const float4 *a4 = (const float4 *)(ar + head);
    const bool qvec = (((uintptr_t)(qr + head)) & 3u) == 0;

    float m = 0.0f;
    if (sub < head) m = fabsf(ar[sub]);
    if (sub < cols - tail0) m = fmaxf(m, fabsf(ar[tail0 + sub]));
    float4 c[V];
#pragma unroll
    for (int v = 0; v < V; ++v) {
      const int64_t i = sub + (int64_t)v * G;
      c[v] = i < n4 ? a4[i] : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      m = qlin_absmax4(m, c[v]);
    }
    for (int64_t i = sub + (int64_t)V * G; i < n4; i += G) m = qlin_absmax4(m, a4[i]);
    m = qlin_group_max<G>(m, red);

    const float s = __fdiv_rn(m, 127.0f);
    if (sub == 0) scale[row] = s;
    if (sub < head) qr[sub] = (int8_t)(s == 0.0f ? 0 : qlin_quant1(ar[sub], s));
    if (sub < cols - tail0) qr[tail0 + sub] = (int8_t)(s == 0.0f ? 0 : qlin_quant1(ar[tail0 + sub], s));
    int8_t *q4 = qr + head;
#pragma unroll
    for (int v = 0; v < V; ++v) {
      const int64_t i = sub + (int64_t)v * G;
      if (i < n4) qlin_store4(q4 + 4 * i, qlin_quant4(c[v], s), qvec);
    }
    for (int64_t i = sub + (int64_t)V * G; i < n4; i += G) qlin_store4(q4 + 4 * i, qlin_quant4(a4[i], s), qvec);
  }
}

// ---- the forward: shared pieces -------------------------------------------------------------------

// What both forward kernels get, by value. M, N < 2^31 and K ≤ 2^17 (checked by the entry points);
// every product of a row index by K or N is taken in 64 bits, and a tile's rows and columns are
// compared with what is left of the matrix (M − m0), never as m0 + i, which would overflow for M
// within a tile of 2^31.
struct QlinFwdArgs {
  const int8_t *xq, *wq;
  const float *sx, *sw, *b;
  int32_t *acc;  // NULL: y only
  float *y;
  int M, N, K;
  int tiles_m, tiles_n;  // the mma kernel's grid: tiles_m·tiles_n blocks
  int vec_y, vec_acc;    // y (acc) 8-byte aligned and N even: pairs of outputs stored as one
};

// mma.sync.m16n8k32, s8 × s8 → s32 (PTX ISA, "matrix fragments for mma.m16n8k32"). With lane =
// 4·g + t: A (16×32, row-major) a[0] = row g, k 4t..4t+3; a[1] = row g + 8, same k; a[2] = row g,
// k 16 + 4t..; a[3] = row g + 8, k 16 + 4t... B (32×8, "col": each column's 32 k contiguous, which is
// exactly a row of W) b[0] = column g, k 4t..4t+3; b[1] = column g, k 16 + 4t... C: c[0], c[1] = row
// g, columns 2t, 2t + 1; c[2], c[3] = row g + 8. Integer sums are exact, so no ordering of k matters
// as long as A and B pair the same k (the decode kernel permutes k on purpose).
static __device__ __forceinline__ void qlin_mma(int32_t (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                                uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// One output row of a tile, as the epilogue writes it: the row's activation scale and where its
// outputs (y, and acc where asked for; NULL: not) begin at the tile's first column n0.
struct QlinRowOut {
  float sx;
  float *y;
  int32_t *acc;
};
static __device__ __forceinline__ QlinRowOut qlin_row_out(const QlinFwdArgs &a, int row, int n0) {
  const int64_t at = (int64_t)row * a.N + n0;
  return {a.sx[row], a.y + at, a.acc ? a.acc + at : nullptr};
}

// The epilogue of one pair of adjacent outputs, columns col and col + 1 of row r (relative to the
// tile's first column), nlim columns before the matrix ends; sw0, b0 belong to col, sw1, b1 to col + 1.
static __device__ __forceinline__ void qlin_store_pair(const QlinFwdArgs &a, const QlinRowOut &r, int col, int nlim,
                                                       int32_t v0, int32_t v1, float sw0, float sw1, float b0,
                                                       float b1) {
  if (col >= nlim) return;
  const float y0 = qlin_dequant(r.sx, sw0, v0, b0);
  if (col + 1 < nlim) {
    const float y1 = qlin_dequant(r.sx, sw1, v1, b1);
    if (a.vec_y) {
      *(float2 *)(r.y + col) = make_float2(y0, y1);
    } else {
      r.y[col] = y0;
      r.y[col + 1] = y1;
    }
    if (r.acc) {
      if (a.vec_acc) {
        *(int2 *)(r.acc + col) = make_int2(v0, v1);
      } else {
        r.acc[col] = v0;
        r.acc[col + 1] = v1;
      }
    }
  } else {
    r.y[col] = y0;
    if (r.acc) r.acc[col] = v0;
  }
}

// ---- version 1: the tiled forward on the tensor cores (M > 16) ---------------------------------
//
// Block tile kQlinBM × BN outputs (128 × 256 shipped), K in steps of kQlinBK = 64 bytes; warps in a
// 2 × (BN/64) grid, each owning 64 × 64 outputs: 4 m16 tiles × 8 n8 tiles, 128 int32 accumulators
// per lane. Per k32 step a warp loads its A fragments with 4 ldmatrix.x4 and its B fragments with 4
// (an 8×8 matrix of 16-bit elements is 8 rows of 16 int8, and the lane that receives its bytes
// 4t..4t+3 of row g is the lane that a[0]/b[0] want), then issues 32 mma: 4 per ldmatrix.
// Why 128 × 256: every byte a block brings from the L2 feeds 2·BM·BN/(BM + BN) integer operations,
// 170 at 128 × 256 against 128 at 128 × 128; at the ~1 POP/s that mma.sync may reach on an H200
// (an estimate: bench/qlinear.cu measures it), 128 × 128 tiles would ask ~8 TB/s of the L2. One
// block of 8 warps per SM (its 128 accumulators and fragments take ~230 registers a lane, 96 KB of
// shared memory at 4 stages); bench/qlinear.cu times 128 × 128 (two blocks of 4 warps per SM) and
// 3 or 5 stages.
// Pipeline: a ring of STAGES shared-memory stages filled by cp.async (16 bytes a copy, no register
// round trip); one barrier per k tile: wait for tile kt, barrier, refill the stage tile kt − 1 used
// (every warp is past it: the barrier), compute tile kt.
// Shared-memory layout: a stage holds each operand's rows of 64 bytes (four 16-byte chunks), chunk
// c of row r stored at chunk c ^ ((r >> 1) & 3). ldmatrix reads one chunk column of 8 consecutive
// rows; two rows share a 128-byte line of banks, so unswizzled those 8 chunks would fall on 2 of
// the line's 8 bank groups (4-way conflict); swizzled, rows r and r + 1 differ in which half of the
// line they use and (r >> 1) & 3 moves each pair to its own quarter: 8 distinct bank groups.
// The cp.async writes (4 lanes per row, rows in order) are conflict-free for the same reason.
// Edges: rows past M or N and K past its end are copied as zeros (cp.async's src-size 0 reads
// nothing), which add nothing to an integer sum; stores are predicated. ALIGNED (x and W 16-byte
// aligned, K a multiple of 16): every 16-byte chunk is wholly inside or outside the matrix;
// otherwise the tiles are built byte by byte with ordinary loads (slow, correct: the odd K of the
// checker's small cases and misaligned pointers).
// Grid: one block per tile, in groups of kQlinGroupM tile rows walked column by column, so the
// blocks resident together share A and B tiles in the L2.
// Hopper's wgmma (sm_90a) and the TMA would replace mma.sync/ldmatrix and cp.async in this same
// structure (a warpgroup per 64 rows, B from shared memory): not done here.

static const int kQlinBM = 128;  // rows of x per block
static const int kQlinBK = 64;   // bytes of K per stage
static const int kQlinGroupM = 8;
static const int kQlinDecodeMaxM = 16;  // up to this M, the decode kernel

template <int BN, int STAGES>
struct QlinMmaShape {
  static constexpr int kWarps = 2 * (BN / 64);
  static constexpr int kThreads = 32 * kWarps;
  static constexpr int kStageA = kQlinBM * kQlinBK;  // bytes
  static constexpr int kStageB = BN * kQlinBK;
  static constexpr size_t kSmem = (size_t)STAGES * (kStageA + kStageB);
  static constexpr int kMinBlocks = BN == 256 ? 1 : 2;  // per SM, for __launch_bounds__
};

static __device__ __forceinline__ void qlin_cp_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N>
static __device__ __forceinline__ void qlin_cp_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}
static __device__ __forceinline__ void qlin_st_shared16(uint32_t dst, uint32_t w0, uint32_t w1, uint32_t w2,
                                                        uint32_t w3) {
  asm volatile("st.shared.v4.u32 [%0], {%1,%2,%3,%4};\n" ::"r"(dst), "r"(w0), "r"(w1), "r"(w2), "r"(w3) : "memory");
}
// The "memory" clobber keeps the compiler from moving a fragment load above the barrier that
// publishes its stage.
static __device__ __forceinline__ void qlin_ldsm_x4(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr)
               : "memory");
}

// Byte offset of chunk c of row r in a stage (rows of kQlinBK = 64 bytes).
static __device__ __forceinline__ uint32_t qlin_swz(int r, int c) {
  return (uint32_t)(r * kQlinBK + ((c ^ ((r >> 1) & 3)) << 4));
}

// Rows [r0, r0 + ROWS) × bytes [k0, k0 + 64) of a row-major rows × K int8 matrix into the stage at
// shared address st. Thread i copies chunk i % 4 of rows i / 4, i / 4 + THREADS / 4, ...
template <int ROWS, int THREADS, bool ALIGNED>
static __device__ __forceinline__ void qlin_load_stage(uint32_t st, const int8_t *g, int r0, int rows, int k0,
                                                       int K) {
  constexpr int RP = THREADS / 4;  // rows per pass
  static_assert(ROWS % RP == 0, "every thread copies the same number of chunks");
  const int c = threadIdx.x & 3, rb = threadIdx.x >> 2;
  const int k = k0 + 16 * c;
#pragma unroll
  for (int i = 0; i < ROWS / RP; ++i) {
    const int r = rb + i * RP;
    const uint32_t dst = st + qlin_swz(r, c);
    const bool row_in = r < rows - r0;
    if (ALIGNED) {
      const bool in = row_in && k < K;
      em__cp16(dst, in ? g + (int64_t)(r0 + r) * K + k : g, in);
    } else {
      uint32_t w[4] = {0u, 0u, 0u, 0u};
      if (row_in) {
        const int8_t *src = g + (int64_t)(r0 + r) * K;
#pragma unroll
        for (int e = 0; e < 16; ++e)
          if (k + e < K) w[e >> 2] |= (uint32_t)(uint8_t)src[k + e] << (8 * (e & 3));
      }
      qlin_st_shared16(dst, w[0], w[1], w[2], w[3]);
    }
  }
}

// Tile (tm, tn) of block `id`: groups of kQlinGroupM tile rows, each walked column by column.
static __device__ __forceinline__ void qlin_tile_of(int id, int tiles_m, int tiles_n, int &tm, int &tn) {
  const int group = kQlinGroupM * tiles_n;
  const int first = id / group * kQlinGroupM;
  const int height = min(tiles_m - first, kQlinGroupM);
  const int in = id % group;
  tm = first + in % height;
  tn = in / height;
}

template <int BN, int STAGES, bool ALIGNED>
__global__ void __launch_bounds__(QlinMmaShape<BN, STAGES>::kThreads, QlinMmaShape<BN, STAGES>::kMinBlocks)
    qlin_fwd_mma_kernel(QlinFwdArgs a) {
  using S = QlinMmaShape<BN, STAGES>;
  extern __shared__ __align__(128) unsigned char qlin_smem[];
  int tm, tn;
  qlin_tile_of(blockIdx.x, a.tiles_m, a.tiles_n, tm, tn);
  const int m0 = tm * kQlinBM, n0 = tn * BN;
  const uint32_t sA = (uint32_t)__cvta_generic_to_shared(qlin_smem);
  const uint32_t sB = sA + STAGES * S::kStageA;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int wm = warp & 1, wn = warp >> 1;  // the warp's 64 × 64 outputs: rows wm·64.., columns wn·64..
  const int KT = (a.K + kQlinBK - 1) / kQlinBK;

  // ldmatrix addresses (offsets in a stage) for the two k32 halves of a stage. A: lanes 0-15 name
  // rows 0-15 at the half's first chunk, lanes 16-31 the same rows at its second chunk: the four
  // matrices are a[0..3]. B: lanes 0-7 rows 0-7 chunk 0, 8-15 rows 0-7 chunk 1, 16-23 rows 8-15
  // chunk 0, 24-31 rows 8-15 chunk 1: b[0], b[1] of two n8 tiles. Tile offsets (multiples of 16
  // rows) leave (r >> 1) & 3 alone, so the swizzle is computed once here.
  uint32_t a_off[2], b_off[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    a_off[h] = qlin_swz(wm * 64 + (lane & 15), 2 * h + (lane >> 4));
    b_off[h] = qlin_swz(wn * 64 + (lane & 7) + ((lane >> 4) << 3), 2 * h + ((lane >> 3) & 1));
  }

  int32_t acc[4][8][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 8; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0;

  // Prologue: tiles 0 .. STAGES-2 in flight, one commit group each (empty past the end, so that
  // the group arithmetic of the loop stays the same).
#pragma unroll
  for (int s = 0; s < STAGES - 1; ++s) {
    if (s < KT) {
      qlin_load_stage<kQlinBM, S::kThreads, ALIGNED>(sA + s * S::kStageA, a.xq, m0, a.M, s * kQlinBK, a.K);
      qlin_load_stage<BN, S::kThreads, ALIGNED>(sB + s * S::kStageB, a.wq, n0, a.N, s * kQlinBK, a.K);
    }
    qlin_cp_commit();
  }

  for (int kt = 0; kt < KT; ++kt) {
    // STAGES - 1 + kt groups committed: with at most STAGES - 2 pending, group kt (tile kt) is done.
    qlin_cp_wait<STAGES - 2>();
    __syncthreads();
    const int pre = kt + STAGES - 1;
    if (pre < KT) {
      const int ps = pre % STAGES;
      qlin_load_stage<kQlinBM, S::kThreads, ALIGNED>(sA + ps * S::kStageA, a.xq, m0, a.M, pre * kQlinBK, a.K);
      qlin_load_stage<BN, S::kThreads, ALIGNED>(sB + ps * S::kStageB, a.wq, n0, a.N, pre * kQlinBK, a.K);
    }
    qlin_cp_commit();

    const int cs = kt % STAGES;
    const uint32_t tA = sA + cs * S::kStageA, tB = sB + cs * S::kStageB;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      uint32_t af[4][4], bf[8][2];
#pragma unroll
      for (int mt = 0; mt < 4; ++mt) qlin_ldsm_x4(af[mt], tA + a_off[h] + mt * 16 * kQlinBK);
#pragma unroll
      for (int np = 0; np < 4; ++np) {
        uint32_t r[4];
        qlin_ldsm_x4(r, tB + b_off[h] + np * 16 * kQlinBK);
        bf[2 * np][0] = r[0], bf[2 * np][1] = r[1], bf[2 * np + 1][0] = r[2], bf[2 * np + 1][1] = r[3];
      }
#pragma unroll
      for (int mt = 0; mt < 4; ++mt)
#pragma unroll
        for (int nt = 0; nt < 8; ++nt)
          qlin_mma(acc[mt][nt], af[mt][0], af[mt][1], af[mt][2], af[mt][3], bf[nt][0], bf[nt][1]);
    }
  }
  // Every real copy was waited for (tile KT − 1 at the last iteration); the groups still pending
  // are empty.

  // Epilogue: the lane's 16 columns' s_w and b once (its 8 rows reuse them), then each row.
  // Rows and columns relative to the tile (m0, n0).
  const int g = lane >> 2, t = lane & 3;
  const int mlim = a.M - m0, nlim = a.N - n0;
  float swc[8][2], bc[8][2];
#pragma unroll
  for (int nt = 0; nt < 8; ++nt)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int col = wn * 64 + nt * 8 + 2 * t + e;
      swc[nt][e] = col < nlim ? a.sw[n0 + col] : 0.0f;
      bc[nt][e] = col < nlim ? a.b[n0 + col] : 0.0f;
    }
#pragma unroll
  for (int mt = 0; mt < 4; ++mt)
#pragma unroll
    for (int hh = 0; hh < 2; ++hh) {
      const int row = wm * 64 + mt * 16 + g + 8 * hh;
      if (row >= mlim) continue;
      const QlinRowOut r = qlin_row_out(a, m0 + row, n0);
#pragma unroll
      for (int nt = 0; nt < 8; ++nt)
        qlin_store_pair(a, r, wn * 64 + nt * 8 + 2 * t, nlim, acc[mt][nt][2 * hh], acc[mt][nt][2 * hh + 1], swc[nt][0],
                        swc[nt][1], bc[nt][0], bc[nt][1]);
    }
}

// ---- version 1b: the tiled forward on Hopper's warpgroup MMA (sm_90a; a bench variant) --------
//
// Version 1's tiles with wgmma in place of mma.sync and ldmatrix: a warpgroup (4 warps) multiplies
// its 64 rows of x by the block's BN rows of W straight from shared memory, asynchronously, int8 in
// and int32 out (wgmma m64nBNk32 .s32.s8.s8; 8-bit operands must be K-major, which x and W are).
// A block of 2 warpgroups takes 128 × BN outputs and walks K in stages of 128 bytes: each row of a
// stage is one 128-byte line, stored with the 128-byte swizzle (16-byte chunk c of row r at c ^
// (r % 8), 1024-byte atoms), which is what the descriptors describe: 8 rows apart by SBO = 1024
// bytes, a k32 step 32 bytes into the line (the layout lab 7's version 4 uses, checked without a
// GPU by bench/attention_wgmma_layout.py). cp.async by all 256 threads fills a ring of STAGES stages;
// per stage: wait for it, fence.proxy.async (the copies' writes before the tensor cores' reads),
// barrier; 4 wgmma, committed as a group; wait for the group before (this one may run on); barrier
// (both warpgroups are past the stage the next copy overwrites); copy stage kt + STAGES − 1.
// The accumulators: BN/2 int32 a thread, the mma.sync C layout per 8 columns, so version 1's
// epilogue applies. Only ALIGNED problems (the launcher hands the rest to version 1).
template <int BN, int STAGES>
struct QlinWgShape {
  static constexpr int BM = 128, BK = 128;  // rows of x, bytes of K per stage
  static constexpr int kThreads = 256;
  static constexpr int kStageA = BM * BK, kStageB = BN * BK;
  static constexpr size_t kSmem = (size_t)STAGES * (kStageA + kStageB) + 1024;  // + room to align to 1024
  static_assert(BN == 128 || BN == 256, "a wgmma n of 128 or 256");
};

// The wgmma statements of this version: int32 accumulators d[n/8][4] as operands %0 .. %(n/2 − 1).
#define EM_QWG_ACC4(i) "+r"(d[i][0]), "+r"(d[i][1]), "+r"(d[i][2]), "+r"(d[i][3])
#define EM_QWG_ACC8(i) EM_QWG_ACC4(i), EM_QWG_ACC4(i + 1), EM_QWG_ACC4(i + 2), EM_QWG_ACC4(i + 3), \
                       EM_QWG_ACC4(i + 4), EM_QWG_ACC4(i + 5), EM_QWG_ACC4(i + 6), EM_QWG_ACC4(i + 7)
#define EM_QWG_D64 \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, " \
  "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, " \
  "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}"
#define EM_QWG_D128 \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, " \
  "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, " \
  "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, " \
  "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, " \
  "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, " \
  "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, " \
  "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}"
static __device__ __forceinline__ void qlin_wg_n128(int32_t (&d)[16][4], uint64_t da, uint64_t db) {
  asm volatile("wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8 " EM_QWG_D64 ", %64, %65, 1;\n"
               : EM_QWG_ACC8(0), EM_QWG_ACC8(8)
               : "l"(da), "l"(db));
}
static __device__ __forceinline__ void qlin_wg_n256(int32_t (&d)[32][4], uint64_t da, uint64_t db) {
  asm volatile("wgmma.mma_async.sync.aligned.m64n256k32.s32.s8.s8 " EM_QWG_D128 ", %128, %129, 1;\n"
               : EM_QWG_ACC8(0), EM_QWG_ACC8(8), EM_QWG_ACC8(16), EM_QWG_ACC8(24)
               : "l"(da), "l"(db));
}
#undef EM_QWG_ACC4
#undef EM_QWG_ACC8
#undef EM_QWG_D64
#undef EM_QWG_D128

// Rows [r0, r0 + R) × bytes [k0, k0 + 128) of a row-major rows × K int8 matrix into the swizzled
// stage at st (rows at or past `rows`, and K past its end, as zeros: nothing is read for them).
template <int R>
static __device__ __forceinline__ void qlin_wg_load(uint32_t st, const int8_t *g, int r0, int rows, int k0, int K) {
  static_assert(R * 8 % 256 == 0, "every thread copies the same number of chunks");
#pragma unroll
  for (int i = 0; i < R * 8 / 256; ++i) {
    const int id = (int)threadIdx.x + 256 * i, r = id >> 3, c = id & 7;
    const int k = k0 + 16 * c;
    const bool in = r < rows - r0 && k < K;  // ALIGNED: K % 16 == 0, a chunk is all in or all out
    em__cp16(st + (uint32_t)(r * 128 + ((c ^ (r & 7)) << 4)), in ? g + (int64_t)(r0 + r) * K + k : g, in);
  }
}

template <int BN, int STAGES>
__global__ void __launch_bounds__(256, 1) qlin_fwd_wg_kernel(QlinFwdArgs a) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using S = QlinWgShape<BN, STAGES>;
  constexpr int NB = BN / 8;  // 8-column chunks of a warpgroup's accumulators
  extern __shared__ __align__(1024) unsigned char qlin_smem_wg[];
  const uint32_t base = ((uint32_t)__cvta_generic_to_shared(qlin_smem_wg) + 1023u) & ~1023u;
  const uint32_t sA = base, sB = base + STAGES * S::kStageA;
  int tm, tn;
  qlin_tile_of(blockIdx.x, a.tiles_m, a.tiles_n, tm, tn);
  const int m0 = tm * S::BM, n0 = tn * BN;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, wg = warp >> 2;
  const int KT = (a.K + S::BK - 1) / S::BK;

  int32_t acc[NB][4];
#pragma unroll
  for (int j = 0; j < NB; ++j) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0;

#pragma unroll
  for (int s = 0; s < STAGES - 1; ++s) {
    if (s < KT) {
      qlin_wg_load<S::BM>(sA + s * S::kStageA, a.xq, m0, a.M, s * S::BK, a.K);
      qlin_wg_load<BN>(sB + s * S::kStageB, a.wq, n0, a.N, s * S::BK, a.K);
    }
    qlin_cp_commit();
  }
  for (int kt = 0; kt < KT; ++kt) {
    qlin_cp_wait<STAGES - 2>();  // stage kt's copies (this thread's) are done
    em__fence_proxy_async();
    __syncthreads();
    const int cs = kt % STAGES;
    const uint32_t tA = sA + cs * S::kStageA + wg * (64 * 128), tB = sB + cs * S::kStageB;
    em__wg_fence();
#pragma unroll
    for (int ks = 0; ks < 4; ++ks) {
      if constexpr (BN == 128) qlin_wg_n128(acc, em__wg_desc(tA + 32 * ks), em__wg_desc(tB + 32 * ks));
      else qlin_wg_n256(acc, em__wg_desc(tA + 32 * ks), em__wg_desc(tB + 32 * ks));
    }
    em__wg_commit();
    em__wg_wait<1>();  // stage kt − 1's MMAs are done
    __syncthreads();  // ... in both warpgroups: its buffers may be refilled
    const int pre = kt + STAGES - 1;
    if (pre < KT) {
      const int ps = pre % STAGES;
      qlin_wg_load<S::BM>(sA + ps * S::kStageA, a.xq, m0, a.M, pre * S::BK, a.K);
      qlin_wg_load<BN>(sB + ps * S::kStageB, a.wq, n0, a.N, pre * S::BK, a.K);
    }
    qlin_cp_commit();
  }
  em__wg_wait<0>();
#pragma unroll
  for (int j = 0; j < NB; ++j)
#pragma unroll
    for (int e = 0; e < 4; ++e) asm volatile("" : "+r"(acc[j][e])::"memory");  // no read above the wait

  // Epilogue: this lane's rows (g and g + 8 of its warp's 16) and its two columns of each chunk.
  const int g = lane >> 2, t = lane & 3;
  const int mlim = a.M - m0, nlim = a.N - n0;
#pragma unroll
  for (int hh = 0; hh < 2; ++hh) {
    const int row = warp * 16 + g + 8 * hh;  // warp w of the block: rows 16w.. (wg·64 + 16·(w % 4))
    if (row >= mlim) continue;
    const QlinRowOut r = qlin_row_out(a, m0 + row, n0);
#pragma unroll
    for (int j = 0; j < NB; ++j) {
      const int col = 8 * j + 2 * t;
      const float sw0 = col < nlim ? a.sw[n0 + col] : 0.0f, sw1 = col + 1 < nlim ? a.sw[n0 + col + 1] : 0.0f;
      const float b0 = col < nlim ? a.b[n0 + col] : 0.0f, b1 = col + 1 < nlim ? a.b[n0 + col + 1] : 0.0f;
      qlin_store_pair(a, r, col, nlim, acc[j][2 * hh], acc[j][2 * hh + 1], sw0, sw1, b0, b1);
    }
  }
#else
  (void)a;  // built for another target than sm_90a: qlin_fwd_wg_launch never launches this
#endif
}

// ---- version 2: the decode forward (M ≤ 16) -----------------------------------------------------
//
// With a handful of rows the forward is a stream of W (N·K bytes) past a small x: 2·M operations per
// byte of W, far below what the tensor cores could use, so the kernel is built around reading W
// once at the DRAM's pace. x is padded to 16 rows (zeros past M) as the A operand of mma.m16n8k32;
// B comes straight from global memory into registers, no shared memory:
//   - a block of 8 warps owns NT·8 rows of W (NT n8 tiles) and its warps split K between them
//     (warp w takes the 64-byte steps w, w + 8, ...), so 8·NT rows are read by 8 warps in parallel;
//   - lane 4·g + t loads 16 bytes of row g of each n tile at k0 + 16t (a quad reads 64 contiguous
//     bytes of a row), and 16 bytes of x rows g and g + 8 at the same k. Those registers feed two
//     mma: k is permuted (logical k 4t + i of mma j is physical k0 + 16t + 8j + i, its logical
//     16 + 4t + i is k0 + 16t + 8j + 4 + i) the same way for A and B, so the sum is exact as ever;
//   - U steps of loads are issued before their mma (U·NT·512 bytes of W per warp in flight);
//   - W is read with ld.global.nc.L1::no_allocate (read once: it should not evict x from the L1)
//     and a 256-byte L2 prefetch hint; x with ordinary loads: every block reads all of x, from the L2;
//   - at the end the 8 warps' int32 partial sums meet in shared memory (exact) and the block's
//     threads apply the epilogue.
// NT is chosen by the launcher (qlin_fwd_launch: 2 → 512 blocks at N = 8192). ALIGNED as for
// version 1; otherwise x and W are read byte by byte.
// Where its time goes at M = 16, N = K = 8192 (two H100s, 2026-12-06, bench/qlinear.cu and
// scripts/device-lab8.sh ncu): a plain read of W 25.3 and 24.8 µs, the same with half its warps (this
// kernel's occupancy) 25.0, W read in this kernel's order with its grid and nothing else 26.7 and
// 25.8, the kernel 27.1 and 26.2. So most of the gap to a plain read is the order of W's addresses
// (all 8192 rows at once, 64 bytes of each a load), not the occupancy, and not x: x adds about 17 MB
// to the 71 MB the L1 asks of the L2, and 37% of the kernel's loads hit the L1 already. Two groups
// of 8 warps to a block, each with its own 16 rows (so that the L1 would serve a block's x once for
// 32 rows), lost: 28.5 against 27.2 µs, alternated five times, the L2 asked for as many bytes.
// Nor is it short of loads in flight (2026-12-07, an H100, bench/qlinear.cu, the kernel at 84-85%):
// held to 2 or 3 blocks per SM it fell to 58-63% of copy, and its loop software-pipelined at 4
// blocks per SM (kQlinOrderPipelined) tied with 1-step passes and lost with 2.

static const int kQlinDecodeThreads = 256;
static_assert(kQlinDecodeThreads == 256, "qlin_decode_reduce_store sums 8 warps' partial sums with 256 threads");

template <bool ALIGNED>
static __device__ __forceinline__ uint4 qlin_ld16_w(const int8_t *p, int k, int K) {
  if (ALIGNED) {
    uint4 r;
    asm("ld.global.nc.L1::no_allocate.L2::256B.v4.u32 {%0,%1,%2,%3}, [%4];\n"
        : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
        : "l"(p + k));
    return r;
  }
  uint32_t w[4] = {0u, 0u, 0u, 0u};
#pragma unroll
  for (int e = 0; e < 16; ++e)
    if (k + e < K) w[e >> 2] |= (uint32_t)(uint8_t)p[k + e] << (8 * (e & 3));
  return make_uint4(w[0], w[1], w[2], w[3]);
}

template <bool ALIGNED>
static __device__ __forceinline__ uint4 qlin_ld16_x(const int8_t *p, int k, int K) {
  if (ALIGNED) return __ldg((const uint4 *)(p + k));
  return qlin_ld16_w<false>(p, k, K);
}

// Output v (0 ≤ v < NT·128) of a decode tile, as its threads store it: the mma accumulator
// element e (0-3) of lane l of n tile nt, i.e. row and column (from the tile's n0) of y.
static __device__ __forceinline__ void qlin_decode_out(int v, int &row, int &col) {
  const int i = v >> 5, l = v & 31, nt = i >> 2, e = i & 3;
  row = (l >> 2) + 8 * (e >> 1);
  col = nt * 8 + 2 * (l & 3) + (e & 1);
}

// Where the decode kernel's epilogue operands (s_x, s_w and b; flushed from the L2 with everything
// else) come from. Late: read after the stream, so their DRAM latency comes at the end of every
// block at once, the last thing the kernel waits for. Shared (shipped for NT = 2): copied into
// shared memory by cp.async as the block starts (16 + 16·NT floats, one thread each), so the
// latency hides behind W's stream and no register is held through it. Measured on an H100 at
// M = 16, N = K = 8192 (bench/qlinear.cu and bench/l2_flush.cu, one call, 2026-12-06): NT = 2
// 26.4 µs against 26.7 (86% of copy against 85%), M = 1 25.8 against 26.0, after the matched flush
// 26.3 against 26.6; NT = 4 gained nothing (27.5-27.8 against 27.2-27.5). A third way, the operands
// held in registers from the block's start, lost: the registers cost NT = 2 a resident block per SM
// (77-78% of copy against 83-85%).
enum QlinEpi { kQlinEpiLate = 0, kQlinEpiShared = 1 };

// The order in which a decode block's warps walk K (bench variants; flags, 0 the shipped order):
//   kQlinOrderConsecutive  a warp's U steps of loads are consecutive 64-byte steps (each row's
//                          128-byte line asked for by one warp at once), not 8 steps apart;
//   kQlinOrderRotated      block b starts its walk at step 37·b mod (K/64) and wraps around, so that
//                          the blocks in flight do not all read the same offset of their rows: W's
//                          rows are 2^13 bytes apart at K = 8192, and addresses that share their low
//                          13 bits may crowd the same DRAM banks. The int32 sum does not depend on
//                          the order, so every order gives the same bits.
// Neither helps (an H100, 2026-12-06, bench/qlinear.cu at M = 16, N = K = 8192, between two runs of
// the shipped order at 26.2 and 26.3 µs, 85% and 84% of copy): consecutive 26.2 µs; rotated 27.6
// (80%); both 35.7 (62%). W read alone in each order: shipped 86% of copy, consecutive 87%, rotated
// 83%, both 82%, where a plain read of W reaches 89%. So the blocks walking their rows in step is not
// what costs (spreading their offsets costs more), and rotation also costs x its L1 hits (the four
// blocks of an SM no longer read the same k at once: 28% of the kernel's loads hit, not 36%).
//   kQlinOrderPipelined    not an order but a schedule of the shipped one: each pass's U steps of
//                          loads are issued before the mma of the pass before (registers for 2·U
//                          steps), so a warp always has loads in flight, where the shipped loop
//                          waits for its U steps, multiplies, and only then asks for the next U.
//                          Held to 2 or 3 blocks per SM, version 2 lost 21-26 points of copy (and a
//                          read of W alone 16), so the bytes a warp keeps in flight might have cost the
//                          2 points between the kernel and W read alone in its order. They do not: on
//                          an H100 (2026-12-07, two runs) 1-step passes made 83-84% of copy and 2-step
//                          passes 79%, the shipped loop 84% between them (both 64 registers, 4 blocks
//                          per SM; the 2-step passes' registers let ptxas overlap only part of a pass).
enum QlinDecodeOrder { kQlinOrderConsecutive = 1, kQlinOrderRotated = 2, kQlinOrderPipelined = 4 };

// Step u of the pass that starts at s0 in the block's own order (see QlinDecodeOrder; steps or more
// past the end), and where in K a step lies after the rotation.
template <int ORDER, int W>
static __device__ __forceinline__ int qlin_decode_step(int s0, int u) {
  return s0 + ((ORDER & kQlinOrderConsecutive) ? u : W * u);
}
template <int ORDER>
static __device__ __forceinline__ int qlin_decode_place(int s, int steps, int rot) {
  if (!(ORDER & kQlinOrderRotated)) return s;
  const int r = s + rot;
  return r >= steps ? r - steps : r;
}
template <int ORDER, int U, int W>
static __device__ __forceinline__ int qlin_decode_first(int warp) {
  return (ORDER & kQlinOrderConsecutive) ? warp * U : warp;
}
template <int ORDER>
static __device__ __forceinline__ int qlin_decode_rot(int steps) {
  return (ORDER & kQlinOrderRotated) && steps > 0 ? (int)((blockIdx.x * 37u) % (unsigned)steps) : 0;
}

// The 8 warps' partial sums of the tile at n0 (red[warp][nt·4 + e][lane], written before the
// barrier this follows) summed and stored through the epilogue, by 256 threads (version 2's block,
// version 2b's consumer warps), with the operands from epi where the block copied them early
// (kQlinEpiShared: s_x of rows 0-15, then s_w and b of the tile's 8·NT columns), else read now.
// Output v of the tile at n0 (qlin_decode_out), its int32 sum done: y through the epilogue, and acc
// where asked for; the operands from epi or read now, as qlin_decode_reduce_store says.
template <int NT>
static __device__ __forceinline__ void qlin_decode_store(const QlinFwdArgs &a, int v, int n0, int32_t sum,
                                                         const float *epi) {
  int row, col;
  qlin_decode_out(v, row, col);
  if (row < a.M && col < a.N - n0) {
    const int64_t o = (int64_t)row * a.N + n0 + col;
    a.y[o] = epi ? qlin_dequant(epi[row], epi[kQlinDecodeMaxM + col], sum, epi[kQlinDecodeMaxM + 8 * NT + col])
                 : qlin_dequant(a.sx[row], a.sw[n0 + col], sum, a.b[n0 + col]);
    if (a.acc) a.acc[o] = sum;
  }
}

template <int NT>
static __device__ __forceinline__ void qlin_decode_reduce_store(const QlinFwdArgs &a, int32_t (*red)[NT * 4][32],
                                                                int n0, const float *epi = nullptr) {
  constexpr int kPer = (NT * 4 * 32 + 255) / 256;  // outputs per thread: v = threadIdx.x + 256·j
#pragma unroll
  for (int j = 0; j < kPer; ++j) {
    const int v = threadIdx.x + 256 * j;
    if (v >= NT * 4 * 32) break;
    const int i = v >> 5, l = v & 31;
    int32_t sum = 0;
#pragma unroll
    for (int w = 0; w < 8; ++w) sum += red[w][i][l];
    qlin_decode_store<NT>(a, v, n0, sum, epi);
  }
}

// kQlinEpiShared's copies: s_x of rows 0-15, then s_w and b of the tile's 8·NT columns, into epi by
// cp.async (one operand a thread), committed as one group that the epilogue waits for.
template <int NT>
static __device__ __forceinline__ void qlin_decode_epi_copy(const QlinFwdArgs &a, float *epi, int n0) {
  static_assert(kQlinDecodeMaxM + 16 * NT <= kQlinDecodeThreads, "one thread per operand");
  const int i = threadIdx.x, c = (i - kQlinDecodeMaxM) % (8 * NT);
  const float *src = i < kQlinDecodeMaxM ? (i < a.M ? a.sx + i : nullptr)
                     : c >= a.N - n0 || i >= kQlinDecodeMaxM + 16 * NT ? nullptr
                     : i < kQlinDecodeMaxM + 8 * NT ? a.sw + n0 + c
                                                   : a.b + n0 + c;
  if (src) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"((unsigned)__cvta_generic_to_shared(epi + i)),
                 "l"(src)
                 : "memory");
  }
  qlin_cp_commit();
}

// A warp's int32 partial sums of the tile at n0 over the 64-byte steps [lo, hi) of K (of steps in
// all), walked in the order ORDER gives by the block's W warps: the stream of W the decode kernels
// are built around.
template <int NT, bool ALIGNED, int U, int ORDER, int W = kQlinDecodeThreads / 32>
static __device__ __forceinline__ void qlin_decode_stream(const QlinFwdArgs &a, int n0, int lo, int hi, int steps,
                                                          int32_t (&acc)[NT][4]) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const bool xa_in = g < a.M, xb_in = g + 8 < a.M;
  const int8_t *xa = a.xq + (int64_t)(xa_in ? g : 0) * a.K;
  const int8_t *xb = a.xq + (int64_t)(xb_in ? g + 8 : 0) * a.K;
  const int8_t *wr[NT];
  bool w_in[NT];
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) {
    w_in[nt] = nt * 8 + g < a.N - n0;
    wr[nt] = a.wq + (w_in[nt] ? (int64_t)n0 + nt * 8 + g : 0) * a.K;
  }

#pragma unroll
  for (int nt = 0; nt < NT; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) acc[nt][e] = 0;

  const uint4 zero = make_uint4(0u, 0u, 0u, 0u);
  const int rot = qlin_decode_rot<ORDER>(steps);
  // The U steps of the pass at s0: x's rows g and g + 8 and W's NT rows at each, zeros past the end.
  const auto load = [&](int s0, uint4 (&xv)[U][2], uint4 (&wv)[U][NT]) {
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int s = qlin_decode_step<ORDER, W>(s0, u);
      const int k = 64 * qlin_decode_place<ORDER>(s, steps, rot) + 16 * t;
      const bool k_in = s < hi && k < a.K;  // ALIGNED: K % 16 == 0, the chunk is all in or all out
      xv[u][0] = xa_in && k_in ? qlin_ld16_x<ALIGNED>(xa, k, a.K) : zero;
      xv[u][1] = xb_in && k_in ? qlin_ld16_x<ALIGNED>(xb, k, a.K) : zero;
#pragma unroll
      for (int nt = 0; nt < NT; ++nt) wv[u][nt] = w_in[nt] && k_in ? qlin_ld16_w<ALIGNED>(wr[nt], k, a.K) : zero;
    }
  };
  const auto multiply = [&](const uint4 (&xv)[U][2], const uint4 (&wv)[U][NT]) {
#pragma unroll
    for (int u = 0; u < U; ++u)
#pragma unroll
      for (int nt = 0; nt < NT; ++nt) {
        qlin_mma(acc[nt], xv[u][0].x, xv[u][1].x, xv[u][0].y, xv[u][1].y, wv[u][nt].x, wv[u][nt].y);
        qlin_mma(acc[nt], xv[u][0].z, xv[u][1].z, xv[u][0].w, xv[u][1].w, wv[u][nt].z, wv[u][nt].w);
      }
  };
  const int first = lo + qlin_decode_first<ORDER, U, W>(warp);
  if constexpr ((ORDER & kQlinOrderPipelined) != 0) {
    static_assert(ORDER == kQlinOrderPipelined, "pipelined: the shipped order only");
    uint4 xv[U][2], wv[U][NT];
    load(first, xv, wv);  // zeros where first is past the end
    for (int s0 = first; s0 < hi; s0 += W * U) {
      uint4 xn[U][2], wn[U][NT];
      load(s0 + W * U, xn, wn);  // the next pass's loads, in flight while this pass multiplies
      multiply(xv, wv);
#pragma unroll
      for (int u = 0; u < U; ++u) {
        xv[u][0] = xn[u][0];
        xv[u][1] = xn[u][1];
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) wv[u][nt] = wn[u][nt];
      }
    }
  } else {
    for (int s0 = first; s0 < hi; s0 += W * U) {
      uint4 xv[U][2], wv[U][NT];
      load(s0, xv, wv);
      multiply(xv, wv);
    }
  }
}

// kQlinEpiShared asks for 4 blocks per SM (64 registers), what NT = 2, U = 2 gets unasked with its
// operands read late: left to itself the compiler takes 66 for the copies' prologue, and 3 blocks
// per SM.
template <int NT, bool ALIGNED, int U, int EPI, int ORDER = 0>
__global__ void __launch_bounds__(kQlinDecodeThreads, EPI == kQlinEpiShared ? 4 : 2)
    qlin_fwd_decode_kernel(QlinFwdArgs a) {
  constexpr int W = kQlinDecodeThreads / 32;
  __shared__ int32_t red[W][NT * 4][32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int n0 = blockIdx.x * (8 * NT);
  const int steps = (a.K + 63) / 64;
  // Declared for every EPI so that the epilogue can name it (no pointer held through the stream);
  // one unused float elsewhere, which the compiler drops.
  __shared__ float epi[EPI == kQlinEpiShared ? kQlinDecodeMaxM + 16 * NT : 1];
  if constexpr (EPI == kQlinEpiShared) qlin_decode_epi_copy<NT>(a, epi, n0);

  int32_t acc[NT][4];
  qlin_decode_stream<NT, ALIGNED, U, ORDER>(a, n0, 0, steps, steps, acc);

#pragma unroll
  for (int nt = 0; nt < NT; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) red[warp][nt * 4 + e][lane] = acc[nt][e];
  if constexpr (EPI == kQlinEpiShared) qlin_cp_wait<0>();  // this thread's copy; the barrier publishes all
  __syncthreads();
  qlin_decode_reduce_store<NT>(a, red, n0, EPI == kQlinEpiShared ? epi : nullptr);
}

// ---- version 2c: the decode forward with K split across a cluster's blocks (sm_90; bench variant) --
//
// Version 2 reads every row of W at once (8192 rows at N = 8192, 512 blocks all resident), 64 bytes
// of each a load, and a read of W in that order alone reaches 86% of copy on an H100 where a read of
// consecutive addresses reaches 89%. Here the S blocks of a thread-block cluster share one tile of
// 8·NT rows and each streams a contiguous S-th of K, so the blocks resident at once read about
// 8192 / S rows, S times as much of each; the S partial sums meet through distributed shared memory
// (each block's own sum of its 8 warps, read by the cluster's blocks, exact in int32), and each block
// stores an S-th of the tile's outputs through the epilogue. Grid: S·ceil(N / (8·NT)) blocks in
// clusters of S, set at launch (qlin_fwd_decode_split_launch): a __cluster_dims__ attribute would
// not compile for the sm_80 half of the student edition's library.
// Timed on an H100 (2026-12-07, M = 16, N = K = 8192) and lost: 72% of copy in clusters of 2, 60%
// in clusters of 4, against version 2's 82% in the same run (version 2d below tries the split
// without the cluster).
static __device__ __forceinline__ unsigned qlin_cluster_rank() {
  unsigned r;
  asm volatile("mov.u32 %0, %%cluster_ctarank;\n" : "=r"(r));
  return r;
}
// A barrier of the cluster's threads: what each wrote to shared memory before it (release) is
// visible to the others' reads after it (acquire).
static __device__ __forceinline__ void qlin_cluster_sync() {
  asm volatile("barrier.cluster.arrive.release.aligned;\nbarrier.cluster.wait.acquire.aligned;\n" ::: "memory");
}
// The int32 at p's place in the shared memory of the cluster's block of the given rank.
static __device__ __forceinline__ int32_t qlin_dsmem_ld(const int32_t *p, unsigned rank) {
  uint32_t remote;
  int32_t v;
  asm volatile("mapa.shared::cluster.u32 %0, %1, %2;\n"
               : "=r"(remote)
               : "r"((uint32_t)__cvta_generic_to_shared(p)), "r"(rank));
  asm volatile("ld.shared::cluster.u32 %0, [%1];\n" : "=r"(v) : "r"(remote) : "memory");
  return v;
}

// Versions 2c and 2d: the block's part of S of the tile at n0, a contiguous S-th of K's 64-byte
// steps; the epilogue's operands copied into epi, the 8 warps' sums into red, then, for thread v,
// the block's sum of output v of the tile (0 for v past its 8·NT·16 outputs).
template <int NT, bool ALIGNED, int U, int S>
static __device__ __forceinline__ int32_t qlin_decode_part(const QlinFwdArgs &a, int32_t (*red)[NT * 4][32],
                                                           float *epi, int n0, int part) {
  constexpr int W = kQlinDecodeThreads / 32, OUT = NT * 4 * 32;
  static_assert(OUT <= kQlinDecodeThreads, "one output of the tile a thread");
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int steps = (a.K + 63) / 64, per = (steps + S - 1) / S;
  const int lo = min(steps, part * per), hi = min(steps, lo + per);
  qlin_decode_epi_copy<NT>(a, epi, n0);

  int32_t acc[NT][4];
  qlin_decode_stream<NT, ALIGNED, U, 0>(a, n0, lo, hi, steps, acc);

#pragma unroll
  for (int nt = 0; nt < NT; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) red[warp][nt * 4 + e][lane] = acc[nt][e];
  qlin_cp_wait<0>();
  __syncthreads();
  const int v = threadIdx.x;
  int32_t sum = 0;
  if (v < OUT) {
#pragma unroll
    for (int w = 0; w < W; ++w) sum += red[w][v >> 5][v & 31];
  }
  return sum;
}

template <int NT, bool ALIGNED, int U, int S>
__global__ void __launch_bounds__(kQlinDecodeThreads, 4) qlin_fwd_decode_split_kernel(QlinFwdArgs a) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  constexpr int W = kQlinDecodeThreads / 32, OUT = NT * 4 * 32;
  __shared__ int32_t red[W][NT * 4][32];
  __shared__ float epi[kQlinDecodeMaxM + 16 * NT];
  const unsigned rank = qlin_cluster_rank();
  const int n0 = (blockIdx.x / S) * (8 * NT);
  const int32_t mine = qlin_decode_part<NT, ALIGNED, U, S>(a, red, epi, n0, (int)rank);
  // This block's sum of its warps, into red[0] (each thread reads and writes its own entry).
  const int v = threadIdx.x, i = v >> 5, l = v & 31;
  if (v < OUT) red[0][i][l] = mine;
  qlin_cluster_sync();  // every block's red[0] written and visible to the cluster
  if (v < OUT && v % S == (int)rank) {
    int32_t sum = 0;
#pragma unroll
    for (int r = 0; r < S; ++r) sum += qlin_dsmem_ld(&red[0][i][l], r);
    qlin_decode_store<NT>(a, v, n0, sum, epi);
  }
  qlin_cluster_sync();  // no block leaves while another may still read its shared memory
#else
  (void)a;  // clusters are sm_90 on: the launcher never launches this elsewhere
#endif
}

// ---- version 2d: the decode forward with K split among blocks, sums met in the L2 (bench variant) --
//
// Version 2c's split without the cluster: timed on an H100 (bench/qlinear.cu --decode-only, M = 16,
// N = K = 8192, copy 2996 GB/s), W read alone in the decode order reached 84% of copy whole, 87%, 89%
// and 91% with K split among 2, 4 and 8 blocks a tile, but version 2c made 72% (clusters of 2) and
// 60% (of 4) against the shipped kernel's 82%: the cluster cost more than the shorter rows win (its
// two barriers and its blocks placed together, presumably; not profiled). Here the S blocks of a tile are independent
// (consecutive in the grid, so the blocks resident at once read about 8192 / S rows): each adds its
// 8 warps' int32 sums into the tile's 256 words of a workspace in global memory (atomicAdd: exact
// in int32 and the same in any order), then counts itself done; the tile's last block takes the
// totals (atomicExch, leaving zeros for the next launch, as it leaves the count) and stores the
// outputs through the epilogue. Timed on an H100 (the same bench, copy 3012 GB/s): 72%, 68% and 59%
// of copy with S = 2, 4 and 8, against version 2's 82% and 2c's 73% and 61% in the same run. So
// the cluster was not the cost: what each extra block pays (the epilogue operands, the sums
// through shared memory, 256 atomics) outweighs the shorter rows, the more so the more blocks.
template <int NT, bool ALIGNED, int U, int S>
__global__ void __launch_bounds__(kQlinDecodeThreads, 4)
    qlin_fwd_decode_splitk_kernel(QlinFwdArgs a, int32_t *sums, unsigned *count) {
  constexpr int W = kQlinDecodeThreads / 32, OUT = NT * 4 * 32;
  __shared__ int32_t red[W][NT * 4][32];
  __shared__ float epi[kQlinDecodeMaxM + 16 * NT];
  __shared__ int last;
  const int tile = blockIdx.x / S;
  const int n0 = tile * (8 * NT);
  // Every block copies the epilogue's operands: which one is last is known only at the end.
  const int32_t mine = qlin_decode_part<NT, ALIGNED, U, S>(a, red, epi, n0, blockIdx.x % S);
  const int v = threadIdx.x;
  int32_t *tile_sums = sums + (int64_t)tile * OUT;
  if (v < OUT) atomicAdd(tile_sums + v, mine);
  __threadfence();  // this thread's addition is in before the count says so
  __syncthreads();
  if (threadIdx.x == 0) {
    last = atomicAdd(count + tile, 1u) == S - 1;
    if (last) count[tile] = 0;  // every block of the tile has counted: ready for the next launch
  }
  __syncthreads();
  if (!last) return;
  __threadfence();
  if (v < OUT) qlin_decode_store<NT>(a, v, n0, atomicExch(tile_sums + v, 0), epi);
}

// ---- version 2e: 16 warps a tile, a block's tiles in turn (bench variant) -------------------------
//
// W read alone in version 2's order reaches 86% of copy, and 88% with K split in 2 blocks a tile
// (half of W's rows read at once), but the splits that meet their sums across blocks (2c, 2d) lost
// more than that. Here one block of 16 warps owns a tile (the 16 split K: steps w, w + 16, ...), its
// sums meet in its own shared memory as version 2's do, and with 2 blocks per SM (64 registers) the
// SMs hold as many warps as version 2's 4 blocks of 8. TILES = 2: a grid of N / 32 blocks (256 at
// N = 8192: one wave of 264 slots), block b taking tiles b and b + 256 in turn, so the blocks
// resident at once read 4096 rows, not 8192; each tile's stream is half as long, and a block drains
// between its tiles (two barriers, the epilogue). TILES = 1: a block a tile, 1.9 waves.
// Timed on an H100 (2026-12-07, M = 16, N = K = 8192, copy 3023 GB/s, two runs): 81% of copy with
// TILES = 2 and 80% with 1, against version 2's 84% between them. Half the rows at once did not
// pay for a warp's stream half as long: 16 warps a tile lose even with a tile a block. The tile's
// body is spelled out rather than taken from qlin_decode_part (with W = 16, S = 1): that form,
// the same operations, compiled to other machine code and measured 77-78% (the next call).
static const int kQlinWideThreads = 512;
template <int NT, bool ALIGNED, int U>
__global__ void __launch_bounds__(kQlinWideThreads, 2) qlin_fwd_decode_wide_kernel(QlinFwdArgs a) {
  constexpr int W = kQlinWideThreads / 32, OUT = NT * 4 * 32;
  static_assert(OUT <= kQlinWideThreads, "one output of the tile a thread");
  __shared__ int32_t red[W][NT * 4][32];
  __shared__ float epi[kQlinDecodeMaxM + 16 * NT];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int steps = (a.K + 63) / 64, tiles = (a.N + 8 * NT - 1) / (8 * NT);
  for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {  // the same trips for the whole block
    const int n0 = tile * (8 * NT);
    qlin_decode_epi_copy<NT>(a, epi, n0);
    int32_t acc[NT][4];
    qlin_decode_stream<NT, ALIGNED, U, 0, W>(a, n0, 0, steps, steps, acc);
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) red[warp][nt * 4 + e][lane] = acc[nt][e];
    qlin_cp_wait<0>();
    __syncthreads();
    const int v = threadIdx.x;
    if (v < OUT) {
      int32_t sum = 0;
#pragma unroll
      for (int w = 0; w < W; ++w) sum += red[w][v >> 5][v & 31];
      qlin_decode_store<NT>(a, v, n0, sum, epi);
    }
    __syncthreads();  // red and epi are the next tile's
  }
}

// ---- version 2b: the decode forward with W through Hopper bulk copies (sm_90; bench variants) ----
//
// Version 2 keeps W's bytes in flight in registers: U·NT·512 bytes a warp, issued by one load
// instruction per 64 bytes of each of 8 rows, and a warp's stream stops while it waits for them.
// Here one producer warp keeps a ring of STAGES shared-memory stages of W filling on its own, with
// cp.async.bulk (the TMA's 1-D copy: contiguous bytes, no tensor map), and 8 consumer warps read
// their B fragments from shared memory and issue the same mma as version 2 (same k permutation,
// same exact int32 sums, the same epilogue). What this asks of the hardware: many bytes in flight
// per SM (STAGES·8·NT·KS) for a handful of instructions, each request a contiguous KS-byte piece of
// a row, where version 2 asks for 64 bytes of 8 rows per instruction.
//   - A stage holds a KS-byte piece of each of the tile's R = 8·NT rows (one bulk copy each, one
//     lane of the producer warp per row): the mma needs 8 rows at the same k, and a row's piece is
//     what is contiguous in memory (rows are K bytes apart). The pieces are KS + 64 bytes apart in
//     the stage: ≡ 64 mod 128, so the two rows that a quarter-warp's 16-byte loads touch (lanes
//     4g + t, rows g and g + 1, bytes 16t..) fall in different halves of the 32 banks.
//   - x: XRES = false, the M pieces of x at the same k travel in the same stage (x is read from the
//     L2 once per tile, as in version 2); XRES, all of x (M × K, the same padded row stride) is
//     copied once per block before the ring starts, and the grid is persistent (a block per SM walks
//     the tiles blockIdx.x, + gridDim.x, ...): x is read once per SM, and the ring streams on across
//     a block's tiles (the producer runs into the next tile while the consumers reduce this one).
//   - Barriers (mbarrier, 8 bytes each): full[s] (count 1: the producer's arrive.expect_tx, after
//     which the copies' bytes complete the phase) and empty[s] (count 8: one lane per consumer warp,
//     after its reads). Fill f uses stage f % STAGES in round f / STAGES: consumers wait full with
//     parity round & 1, the producer waits empty with the other parity (try_wait.parity waits for
//     the phase of that parity to complete, and a fresh barrier counts the one before its phase 0
//     as complete, so round 0 passes at once). Every consumer warp waits for and releases every
//     fill, work or not, so empty's count is met each round and no warp runs a round ahead. The
//     producer waits for the last fills' release before it leaves.
//   - Consumer warp w takes the 64-byte k steps ≡ w (mod 8) of the whole row (a stage of KS = 256
//     bytes, 4 steps, goes to warps 0-3 and the next to 4-7). Their partial sums meet in shared
//     memory as in version 2, behind a named barrier of the 256 consumer threads (the producer warp
//     never reaches it).
// Only ALIGNED problems (the copies need 16-byte aligned addresses and sizes: x and W 16-byte
// aligned, K % 16 == 0) and only sm_90 or newer: the launcher hands anything else to version 2.

static const int kQlinBulkConsumers = 8;                          // warps
static_assert(kQlinBulkConsumers == 8, "qlin_decode_reduce_store sums 8 warps' partial sums with 256 threads");
static const int kQlinBulkThreads = 32 * (kQlinBulkConsumers + 1);  // and the producer warp

template <int NT, int KS, int STAGES, bool XRES>
struct QlinBulkShape {
  static_assert(NT >= 1 && NT <= 4, "a producer lane per row of a tile: 32 rows at most");
  static_assert(KS % 128 == 0 && (KS / 64 % 8 == 0 || 8 % (KS / 64) == 0),
                "a piece stride of KS + 64 ≡ 64 (mod 128), and the 8 warps' steps falling evenly");
  static constexpr int kRows = 8 * NT;
  static constexpr int kXRows = XRES ? 0 : kQlinDecodeMaxM;  // x's pieces in each stage
  static constexpr int kPiece = KS + 64;                     // bytes from one row's piece to the next
  static constexpr int kStage = (kRows + kXRows) * kPiece;
  static constexpr int kBars = 128;  // full[STAGES], empty[STAGES], the x barrier
  static_assert((2 * STAGES + 1) * 8 <= kBars, "the barriers fit their 128 bytes");
  static constexpr int kRed = kQlinBulkConsumers * NT * 4 * 32 * 4;  // the partial sums, int32
  static constexpr int kRing = kBars + kRed;                         // where the stages start
  static constexpr size_t kFixed = (size_t)kRing + (size_t)STAGES * kStage;  // x (XRES) after it
  static constexpr int kMinBlocks = XRES ? 1 : 2;  // per SM: the smem sizes chosen allow this many
};

// XRES: bytes from one row of x to the next in shared memory (≡ 64 mod 128, as the pieces).
static __host__ __device__ __forceinline__ int qlin_bulk_xstride(int K) { return (K + 127) / 128 * 128 + 64; }

// bytes (a multiple of 16) from global src to shared dst (both 16-byte aligned), counted on bar.
static __device__ __forceinline__ void qlin_bulk_copy(uint32_t dst, const void *src, uint32_t bytes, uint32_t bar) {
  asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n" ::"r"(dst),
               "l"(src), "r"(bytes), "r"(bar)
               : "memory");
}
// volatile and "memory": no fragment load may move above the wait that publishes its stage.
static __device__ __forceinline__ uint4 qlin_lds16(uint32_t addr) {
  uint4 r;
  asm volatile("ld.shared.v4.u32 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
               : "r"(addr)
               : "memory");
  return r;
}
// The consumer warps alone (named barrier 1; __syncthreads would wait for the producer warp).
static __device__ __forceinline__ void qlin_bar_consumers() {
  asm volatile("bar.sync 1, %0;\n" ::"n"(32 * kQlinBulkConsumers) : "memory");
}

// The ring's barriers (at full, empty: STAGES each, 8 bytes apart) and x's, initialised by one
// thread and published to the block; a barrier of the whole block, so before the roles split.
template <int STAGES>
static __device__ __forceinline__ void qlin_bulk_init(uint32_t full, uint32_t empty, uint32_t xbar) {
  if (threadIdx.x == 0) {
    for (int s = 0; s < STAGES; ++s) {
      em__mbar_init(full + 8 * s, 1);
      em__mbar_init(empty + 8 * s, kQlinBulkConsumers);
    }
    em__mbar_init(xbar, 1);
    em__mbar_init_fence();
  }
  __syncthreads();
}

// The producer warp: x first (XRES), then every piece of every tile of this block, in the order
// the consumers take them.
template <int NT, int KS, int STAGES, bool XRES>
static __device__ __forceinline__ void qlin_bulk_produce(const QlinFwdArgs &a, uint32_t full, uint32_t empty,
                                                         uint32_t xbar, uint32_t ring, uint32_t xs) {
  using S = QlinBulkShape<NT, KS, STAGES, XRES>;
  const int lane = threadIdx.x & 31;
  if (XRES) {
    const int xstride = qlin_bulk_xstride(a.K);
    if (lane == 0) em__mbar_expect_tx(xbar, (uint32_t)(a.M * a.K));  // < 2^20: the launcher checked it fits
    __syncwarp();
    if (lane < a.M) qlin_bulk_copy(xs + lane * xstride, a.xq + (int64_t)lane * a.K, (uint32_t)a.K, xbar);
  }
  const int tiles = (a.N + S::kRows - 1) / S::kRows, chunks = (a.K + KS - 1) / KS;
  const int xrows = XRES ? 0 : a.M;
  uint32_t f = 0;  // fills so far
  for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const int n0 = tile * S::kRows, rows = min(S::kRows, a.N - n0);
    for (int c = 0; c < chunks; ++c, ++f) {
      const uint32_t s = f % STAGES, round = f / STAGES;
      em__mbar_wait(empty + 8 * s, (round & 1) ^ 1);
      const int k0 = c * KS, kb = min(KS, a.K - k0);  // kb: a multiple of 16 (ALIGNED)
      const uint32_t st = ring + s * S::kStage, bar = full + 8 * s;
      if (lane == 0) em__mbar_expect_tx(bar, (uint32_t)((rows + xrows) * kb));
      __syncwarp();  // the bytes are expected before any of them can arrive
      if (lane < rows) qlin_bulk_copy(st + lane * S::kPiece, a.wq + ((int64_t)n0 + lane) * a.K + k0, (uint32_t)kb, bar);
      if (lane < xrows)
        qlin_bulk_copy(st + (S::kRows + lane) * S::kPiece, a.xq + (int64_t)lane * a.K + k0, (uint32_t)kb, bar);
    }
  }
  // Stay until the consumers have given back the last STAGES fills (their empty phases), so that
  // no copy this warp issued is still landing when it leaves. The consumers hold the block open
  // until then anyway; this costs an idle warp, and makes the producer's exit not a question.
  for (uint32_t q = f > (uint32_t)STAGES ? f - STAGES : 0u; q < f; ++q)
    em__mbar_wait(empty + 8 * (q % STAGES), (q / STAGES) & 1);
}

template <int NT, int KS, int STAGES, bool XRES>
__global__ void __launch_bounds__(kQlinBulkThreads, QlinBulkShape<NT, KS, STAGES, XRES>::kMinBlocks)
    qlin_fwd_decode_bulk_kernel(QlinFwdArgs a) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 900
  __trap();  // bulk copies and mbarrier tx counts are sm_90's; the launcher never starts it below
#else
  using S = QlinBulkShape<NT, KS, STAGES, XRES>;
  constexpr int R = S::kRows, SPC = KS / 64;  // 64-byte k steps per piece
  extern __shared__ __align__(128) unsigned char qlin_smem[];
  const uint32_t base = (uint32_t)__cvta_generic_to_shared(qlin_smem);
  const uint32_t full = base, empty = base + 8 * STAGES, xbar = base + 16 * STAGES;
  const uint32_t ring = base + S::kRing, xs = base + (uint32_t)S::kFixed;
  int32_t(*red)[NT * 4][32] = reinterpret_cast<int32_t(*)[NT * 4][32]>(qlin_smem + S::kBars);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;

  qlin_bulk_init<STAGES>(full, empty, xbar);
  if (warp == kQlinBulkConsumers) {
    qlin_bulk_produce<NT, KS, STAGES, XRES>(a, full, empty, xbar, ring, xs);
    return;
  }

  const int g = lane >> 2, t = lane & 3;
  const bool xa_in = g < a.M, xb_in = g + 8 < a.M;
  const int xstride = qlin_bulk_xstride(a.K);
  // The lane's 16 bytes at the first k of a piece: W row g of n tile 0 (tile nt: + nt·8 pieces),
  // x rows g and g + 8, in a stage or (XRES) in x's resident copy (+ k0 there, which holds M rows
  // only: a row past M reads row 0 instead, replaced by zeros as every read past the data is).
  const uint32_t w_off = g * S::kPiece + 16 * t;
  const uint32_t xa_off = XRES ? xs + (xa_in ? g : 0) * xstride + 16 * t : (R + g) * S::kPiece + 16 * t;
  const uint32_t xb_off = XRES ? xs + (xb_in ? g + 8 : 0) * xstride + 16 * t : (R + g + 8) * S::kPiece + 16 * t;
  const int tiles = (a.N + R - 1) / R, chunks = (a.K + KS - 1) / KS;
  const uint4 zero = make_uint4(0u, 0u, 0u, 0u);
  if (XRES) em__mbar_wait(xbar, 0);

  uint32_t f = 0;  // fills consumed so far: the producer's count, fill for fill
  for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const int n0 = tile * R;
    bool w_in[NT];
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) w_in[nt] = nt * 8 + g < a.N - n0;
    int32_t acc[NT][4];
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[nt][e] = 0;

    for (int c = 0; c < chunks; ++c, ++f) {
      const uint32_t s = f % STAGES, round = f / STAGES;
      em__mbar_wait(full + 8 * s, round & 1);
      const uint32_t st = ring + s * S::kStage;
      const int k0 = c * KS;
      // this warp's first step in the piece: global step c·SPC + j ≡ warp (mod 8)
      for (int j = (int)(((unsigned)warp - (unsigned)(c * SPC)) & 7u); j < SPC; j += 8) {
        if (k0 + 64 * j >= a.K) break;  // the rest of the last piece is past K (same for the warp)
        // Every load is made (all inside the stage or x's rows: k < K + 48 ≤ the row stride) and
        // what lies past M, N or K replaced by zeros after: no branch between the loads.
        // ALIGNED: a lane's 16-byte chunk is all in or all out of K.
        const bool k_in = k0 + 64 * j + 16 * t < a.K;
        const uint32_t kj = 64 * j + (XRES ? k0 : 0);
        uint4 xa = qlin_lds16(XRES ? xa_off + kj : st + xa_off + kj);
        uint4 xb = qlin_lds16(XRES ? xb_off + kj : st + xb_off + kj);
        uint4 wv[NT];
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) wv[nt] = qlin_lds16(st + w_off + 64 * j + nt * 8 * S::kPiece);
        if (!(xa_in && k_in)) xa = zero;
        if (!(xb_in && k_in)) xb = zero;
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) {
          if (!(w_in[nt] && k_in)) wv[nt] = zero;
          qlin_mma(acc[nt], xa.x, xb.x, xa.y, xb.y, wv[nt].x, wv[nt].y);
          qlin_mma(acc[nt], xa.z, xb.z, xa.w, xb.w, wv[nt].z, wv[nt].w);
        }
      }
      __syncwarp();  // every lane's reads of the stage are done (the mma used them) ...
      if (lane == 0) em__mbar_arrive(empty + 8 * s);  // ... before the warp gives it back
    }

#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) red[warp][nt * 4 + e][lane] = acc[nt][e];
    qlin_bar_consumers();
    qlin_decode_reduce_store<NT>(a, red, n0);
    qlin_bar_consumers();  // red read by all before the next tile writes it
  }
#endif
}

// ---- version 3: the backward's float32 products (FFMA) -----------------------------------------
//
// Both products have the form C[p][q] = Σ_j A(p, j)·(s[j]·Bq[j][q]) with Bq int8 and K-contiguous:
//   dx = dy·Ŵ:   p = r, q = k, j = o: A(p, j) = dy[p][j],  Bq = Wq, s = s_w   (C is M × K)
//   dW = dyᵀ·x̂:  p = o, q = k, j = r: A(p, j) = dy[j][p],  Bq = xq, s = s_x   (C is N × K)
// so one kernel serves both, AT saying which way A is read. The dequantisation s[j]·Bq[j][q] (one
// rounding, as x̂ and Ŵ are defined) happens once per element as a B tile goes into shared memory,
// which then holds float32; the inner loop is the plain float32 one.
// A classic register-blocked SGEMM: block tile 128 × 128, j in steps of 16, 256 threads, each
// owning 8 × 8 outputs (rows pr..pr+3 and pr+32..pr+35, columns qc..qc+3 and qc+16..qc+19 of its
// warp's 64 × 32). Per j a thread loads 2 float4 of A and 2 of B from shared memory and does 64
// FMAs. The lane layout (lq from lane bits 0 and 2, lp from bits 1, 3, 4) puts lanes n and n ^ 1 on
// the same A address and lanes n and n ^ 2 on the same B address, which is what lets an LDS.128
// finish in half the wavefronts (lab 7's attention kernels measured the same rule). Next tile's
// global loads are issued into registers before the current tile's FMAs and stored to the other
// shared buffer after them: one barrier per tile. dx's A tile is read along j (dy's rows) and
// stored transposed (As[j][p]): thread i takes row i % 128 and 8 consecutive j (a 32-byte sector),
// so that the transposed scalar stores of a warp fill 32 consecutive words.
// db[o] = Σ_r dy[r][o] is the column sum of dW's A operand: the blocks of dW's first column of
// tiles add up the A tiles they load anyway (sequentially in r, one thread per o), no extra pass.
// VEC: dy 16-byte aligned with N % 4 == 0, and Bq 4-byte aligned with K % 4 == 0: float4 and
// 4-byte loads whose chunks are wholly inside or outside; otherwise element by element.
// TF32 is never involved: FFMA only.

static const int kQlinGemmBM = 128, kQlinGemmBN = 128, kQlinGemmBK = 16;
static const int kQlinGemmThreads = 256;

struct QlinGemmArgs {
  const float *a;    // dy (M × N)
  const int8_t *bq;  // J × Q, row stride Q
  const float *s;    // J scales
  float *c;          // P × Q
  float *colsum;     // db, or NULL (AT only)
  int P, Q, J;
  int lda;           // dy's row stride: N
  int tiles_p, tiles_q;
  int vec_c;         // c 16-byte aligned and Q % 4 == 0
};

// Two blocks per SM cap a thread at 128 registers, which the VEC kernels meet exactly; the
// element-by-element loads of !VEC need a few more (ptxas spilled one word a tile at 128), and
// that variant only serves odd shapes and pointers: one block per SM is enough for it.
template <bool AT, bool VEC>
__global__ void __launch_bounds__(kQlinGemmThreads, VEC ? 2 : 1) qlin_sgemm_kernel(QlinGemmArgs g) {
  constexpr int BM = kQlinGemmBM, BN = kQlinGemmBN, BK = kQlinGemmBK;
  __shared__ __align__(16) float As[2][BK][BM];
  __shared__ __align__(16) float Bs[2][BK][BN];
  int tp, tq;
  qlin_tile_of(blockIdx.x, g.tiles_p, g.tiles_q, tp, tq);
  const int p0 = tp * BM, q0 = tq * BN;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int lq = (lane & 1) | ((lane >> 1) & 2), lp = ((lane >> 1) & 1) | ((lane >> 2) & 6);
  const int pr = (warp >> 2) * 64 + lp * 4;  // rows pr.., pr + 32..
  const int qc = (warp & 3) * 32 + lq * 4;   // columns qc.., qc + 16..
  const int KT = (g.J + BK - 1) / BK;
  const bool do_colsum = AT && g.colsum != nullptr && tq == 0;

  // What a thread copies: A (AT = false) row ap of the tile, j 8·ah .. 8·ah + 7; A (AT) and B rows
  // jr and jr + 8, 4 columns from c4. Running pointers, advanced a tile at a time, rather than
  // 64-bit offsets recomputed per load: the registers they save keep the kernel within the 128
  // that two blocks per SM allow.
  const int ap = tid & 127, ah = tid >> 7;
  const int jr = tid >> 5, c4 = (tid & 31) * 4;
  // Bounds as what is left of the matrix past the tile's corner (P − p0, J − j0): no int overflow
  // for sizes within a tile of 2^31.
  const bool a_in = AT ? c4 < g.P - p0 : ap < g.P - p0;  // the p this thread's A loads are at
  const bool b_in = c4 < g.Q - q0;
  const float *a_src = AT ? g.a + (int64_t)jr * g.lda + (a_in ? p0 + c4 : 0)
                          : g.a + (int64_t)(a_in ? p0 + ap : 0) * g.lda + 8 * ah;
  const int64_t a_step = AT ? (int64_t)BK * g.lda : BK;  // one tile further along j
  const int8_t *b_src = g.bq + (int64_t)jr * g.Q + (b_in ? q0 + c4 : 0);
  const int64_t b_step = (int64_t)BK * g.Q;

  float4 ra[2];
  uint32_t rb[2];
  float rs[2];
  // Loads tile j0 (whose first row a_src, b_src point at) into registers.
  auto load_global = [&](int j0) {
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      // The j of load i (from j0), and where it is relative to a_src: AT, rows jr + 8i (8i rows
      // down); otherwise columns 8·ah + 4i (4i further along the row).
      const int j = AT ? jr + 8 * i : 8 * ah + 4 * i;
      const float *src = a_src + (AT ? (int64_t)8 * i * g.lda : 4 * i);
      const int lim = AT ? g.P - p0 - c4 : g.J - j0 - j;  // elements of this float4 inside the matrix
      const bool in = a_in && (AT ? j < g.J - j0 : true);
      if (VEC) {
        ra[i] = in && lim > 0 ? *(const float4 *)src : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      } else {
        ra[i].x = in && lim > 0 ? src[0] : 0.0f;
        ra[i].y = in && lim > 1 ? src[1] : 0.0f;
        ra[i].z = in && lim > 2 ? src[2] : 0.0f;
        ra[i].w = in && lim > 3 ? src[3] : 0.0f;
      }
    }
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int j = jr + 8 * i;  // from j0
      const int8_t *src = b_src + (int64_t)8 * i * g.Q;
      const bool in = b_in && j < g.J - j0;
      rs[i] = j < g.J - j0 ? g.s[j0 + j] : 0.0f;
      if (VEC) {
        rb[i] = in ? *(const uint32_t *)src : 0u;
      } else {
        const int lim = g.Q - q0 - c4;
        rb[i] = 0u;
#pragma unroll
        for (int e = 0; e < 4; ++e)
          if (in && lim > e) rb[i] |= (uint32_t)(uint8_t)src[e] << (8 * e);
      }
    }
    a_src += a_step;
    b_src += b_step;
  };
  auto store_shared = [&](int buf) {
    if (!AT) {
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        As[buf][8 * ah + 4 * i + 0][ap] = ra[i].x;
        As[buf][8 * ah + 4 * i + 1][ap] = ra[i].y;
        As[buf][8 * ah + 4 * i + 2][ap] = ra[i].z;
        As[buf][8 * ah + 4 * i + 3][ap] = ra[i].w;
      }
    } else {
#pragma unroll
      for (int i = 0; i < 2; ++i) *(float4 *)&As[buf][jr + 8 * i][c4] = ra[i];
    }
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      float4 v;
      v.x = __fmul_rn(rs[i], (float)(int8_t)(rb[i] & 0xff));
      v.y = __fmul_rn(rs[i], (float)(int8_t)((rb[i] >> 8) & 0xff));
      v.z = __fmul_rn(rs[i], (float)(int8_t)((rb[i] >> 16) & 0xff));
      v.w = __fmul_rn(rs[i], (float)(int8_t)(rb[i] >> 24));
      *(float4 *)&Bs[buf][jr + 8 * i][c4] = v;
    }
  };

  float acc[8][8];
#pragma unroll
  for (int i = 0; i < 8; ++i)
#pragma unroll
    for (int j = 0; j < 8; ++j) acc[i][j] = 0.0f;
  float colsum = 0.0f;

  load_global(0);
  store_shared(0);
  __syncthreads();
  for (int kt = 0; kt < KT; ++kt) {
    const int buf = kt & 1;
    if (kt + 1 < KT) load_global((kt + 1) * BK);  // a_src, b_src already point at it
    if (do_colsum && tid < BM) {
#pragma unroll
      for (int k = 0; k < BK; ++k) colsum += As[buf][k][tid];
    }
#pragma unroll
    for (int k = 0; k < BK; ++k) {
      const float4 a0 = *(const float4 *)&As[buf][k][pr], a1 = *(const float4 *)&As[buf][k][pr + 32];
      const float4 b0 = *(const float4 *)&Bs[buf][k][qc], b1 = *(const float4 *)&Bs[buf][k][qc + 16];
      const float av[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
      const float bv[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
    if (kt + 1 < KT) store_shared(buf ^ 1);
    __syncthreads();
  }

  if (do_colsum && tid < BM && tid < g.P - p0) g.colsum[p0 + tid] = colsum;
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const int p = pr + (i & 3) + (i >> 2) * 32;  // from p0
    if (p >= g.P - p0) continue;
    float *cr = g.c + ((int64_t)p0 + p) * g.Q;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int q = q0 + qc + 16 * h;  // q < 2^17 + 128: no overflow
      if (g.vec_c && q + 3 < g.Q) {
        *(float4 *)(cr + q) = make_float4(acc[i][4 * h], acc[i][4 * h + 1], acc[i][4 * h + 2], acc[i][4 * h + 3]);
      } else {
#pragma unroll
        for (int e = 0; e < 4; ++e)
          if (q + e < g.Q) cr[q + e] = acc[i][4 * h + e];
      }
    }
  }
}

// ---- version 4: the backward on the bf16 tensor cores, float32 accuracy (bf16x3) ---------------
//
// The same two products as version 3, C[p][q] = Σ_j A(p, j)·s[j]·Bq[j][q], on the tensor cores
// without giving up float32. The int8 operand is exact in bfloat16 (every integer up to 256 is), so
// the scale moves to the float32 operand: A'(p, j) = fl32(A(p, j)·s[j]), one rounding, as x̂ = s·q
// has. Each A' is then split exactly into three bf16 pieces, a = a0 + a1 + a2 with a0 = bf16(a) and
// a1 = bf16(a − a0) rounded to nearest, and a2 = a − a0 − a1, which has at most 8 significant bits
// left and so is a bf16 already: the residuals are exact float32 subtractions and 3 × 8 significant
// bits hold float32's 24. Every piece × int8 product is then exact in the tensor core and only the
// float32 accumulation rounds: three mma.sync.m16n8k16 (bf16 in, float32 accumulators) per k16 step
// and tile, the same B fragment, the smallest piece first.
// Three times the work of a plain bf16 GEMM is still far less time than FFMA's: the float32 FMA
// rate is about a fifteenth of the bf16 tensor cores' on an H100 or H200.
// Where the split is not exact: below bf16's smallest denormal, 2^-133 (|A'| below about 2^-110),
// a2 loses its last bits, at most 2^-133 an element: J·127·2^-133 on an output at worst, far below
// the checker's absolute slack (1e-30); so would tensor cores that flushed denormals to zero (each
// |A'| < 2^-126: J·127·2^-126, 1e-32 at J = 8192). How the tensor cores round their float32 sums is
// not documented (truncation without guard bits has been reported); bench/qlinear_bwd_split.py
// models it on the bench's inputs and stays well within the bench's bound.
// Block tile 128 (p) × 128 (q), j in steps of 32, 256 threads: 8 warps in a 4 × 2 grid, each owning
// 32 × 64 outputs (2 m16 × 8 n8 tiles: 64 float accumulators a lane; its two m16 tiles are rows
// wm·16 and wm·16 + 64, which keeps dW's A addresses in one register, see below). Per k16 step a
// warp loads its B fragments with 4 ldmatrix.x4.trans, then per piece the A fragments of its 2 m16
// tiles with 2 ldmatrix.x4 and issues 16 mma, each on its own accumulator (no mma waits for the
// one before).
// Why 32 × 64 and not 64 × 32: A's fragments are read three times (once per piece), so a warp tile
// short in p and long in q reads 10 KB of shared memory per k32 step instead of 14 KB for the same
// 96 mma. Shared memory moves 128 bytes a clock per SM; with 64 × 32 tiles the fragment loads and
// the 32 KB of converted stores a step would have kept it about as busy as the tensor cores (an
// estimate, not a measurement). Two blocks per SM: at most 128 registers a thread, 64 KB of shared
// memory a block.
// Pipeline: as version 3, through registers, since every element is converted on its way in: the
// next tile's global loads are issued before the current tile's mma, and scaled, split or converted
// into the other shared buffer after them; one barrier per tile. A stage (32 KB) holds the three A'
// pieces and B, all bf16:
//   dx (AT false): A' read along j (dy's rows), stored [p][j] in rows of 32 bf16 (64 bytes), chunk
//     c of row r at c ^ ((r >> 1) & 3) as the forward's tiles (qlin_swz); fragments by ldmatrix;
//   dW (AT): A' read along p (j is dy's row), stored [j][p] in rows of 128 bf16 (256 bytes), chunk c
//     of row r at c ^ (r & 7) (qlin_swz256); fragments by ldmatrix.trans;
//   B (both): Bq[j][q] is row-major along q: stored [j][q] like dW's A; fragments by ldmatrix.trans.
// Either swizzle puts the 8 rows an ldmatrix matrix reads on 8 distinct 16-byte bank groups, and
// the stores of a warp (whole rows of consecutive chunks) on every bank group equally often.
// db: fused as in version 3, from the raw dy values dW's first column of tiles loads anyway: a
// thread sums its 4 columns over the rows it loads (those ≡ its warp mod 8), and the 8 warps' sums
// meet in shared memory at the end. A separate kernel would read dy (256 MB at 8192²) once more.
// Shapes and pointers: this kernel takes dy 16-byte aligned with N % 4 == 0 and Bq 16-byte aligned
// with K % 16 == 0, so that every float4 of A and 16 bytes of B is wholly inside or outside the
// matrix; the launcher sends anything else to version 3. Rows and columns past the matrix and j past
// J are loaded as zeros, whose pieces and products are zeros.

static const int kQlinTcBM = 128, kQlinTcBN = 128, kQlinTcBK = 32;  // p, q, j of a tile
static const int kQlinTcThreads = 256;
static const int kQlinTcPiece = kQlinTcBM * kQlinTcBK * 2;                  // bytes of one A' piece
static const int kQlinTcStage = 3 * kQlinTcPiece + kQlinTcBK * kQlinTcBN * 2;  // the pieces and B
static const int kQlinTcSmem = 2 * kQlinTcStage;                            // two stages: 64 KB

// Byte offset of 16-byte chunk c (0..15) of row r in a tile of 256-byte rows.
static __device__ __forceinline__ uint32_t qlin_swz256(int r, int c) {
  return (uint32_t)(r * 256 + ((c ^ (r & 7)) << 4));
}

// The exact split of a pair: w[0] + w[1] + w[2] == (x, y), piece by piece (bf16 → float32 is the
// bits shifted up, so the residuals need no conversion back). The last residuals are bf16 already
// (see above): their upper halves, packed by a PRMT, not a conversion (cvt.bf16x2 issues at a
// quarter of PRMT's rate).
static __device__ __forceinline__ void qlin_split2(float x, float y, uint32_t (&w)[3]) {
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    w[i] = em__bf16x2(x, y);
    x = __fsub_rn(x, __uint_as_float(w[i] << 16));
    y = __fsub_rn(y, __uint_as_float(w[i] & 0xffff0000u));
  }
  w[2] = __byte_perm(__float_as_uint(x), __float_as_uint(y), 0x7632);
}

// The four int8 of w (lowest address in the lowest byte) as two bf16x2 words, exactly and without
// the conversion unit: I2F and F2FP issue at 16 a clock per SM, and the A split already keeps that
// unit busy, while PRMT and FADD issue at 64 and 128 (the CUDA C++ Programming Guide's throughput
// table, compute capability 9.0). byte ^ 0x80 is v + 128 as an unsigned byte; PRMT makes it the low
// byte of 0x4B000000 (the float 2^23), giving the float 2^23 + 128 + v, and subtracting 2^23 + 128
// leaves v exactly. Its bf16 is then the float's upper half (v has at most 8 significant bits, the
// lower half is zero), and one more PRMT packs two upper halves.
static __device__ __forceinline__ void qlin_s8x4_bf16(uint32_t w, uint32_t &lo, uint32_t &hi) {
  const uint32_t u = w ^ 0x80808080u;
  uint32_t f[4];
#pragma unroll
  for (int k = 0; k < 4; ++k)
    f[k] = __float_as_uint(__fsub_rn(__uint_as_float(__byte_perm(u, 0x4B000000u, 0x7440 + k)), 8388736.0f));
  lo = __byte_perm(f[0], f[1], 0x7632);
  hi = __byte_perm(f[2], f[3], 0x7632);
}

static __device__ __forceinline__ void qlin_st_shared8(uint32_t dst, uint32_t w0, uint32_t w1) {
  asm volatile("st.shared.v2.u32 [%0], {%1,%2};\n" ::"r"(dst), "r"(w0), "r"(w1) : "memory");
}
static __device__ __forceinline__ void qlin_ldsm_x4_trans(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr)
               : "memory");
}

template <bool AT>
__global__ void __launch_bounds__(kQlinTcThreads, 2) qlin_bwd_tc_kernel(QlinGemmArgs g) {
  constexpr int BM = kQlinTcBM, BN = kQlinTcBN, BK = kQlinTcBK;
  extern __shared__ __align__(128) unsigned char qlin_smem[];
  int tp, tq;
  qlin_tile_of(blockIdx.x, g.tiles_p, g.tiles_q, tp, tq);
  const int p0 = tp * BM, q0 = tq * BN;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wm = warp & 3, wn = warp >> 2;  // outputs: rows wm·16 and wm·16 + 64 (16 each), columns wn·64..
  const uint32_t smem = (uint32_t)__cvta_generic_to_shared(qlin_smem);
  const int KT = (g.J + BK - 1) / BK;
  const bool do_colsum = AT && g.colsum != nullptr && tq == 0;  // the same for the whole block

  // What a thread loads per tile: A, dx: rows ar + 32i (i < 4) of the tile, j 4·ac .. 4·ac + 3;
  // A, dW: rows (j) ar + 8i, p 4·ac .. 4·ac + 3; B: row (j) br, q 16·bc .. 16·bc + 15. Running
  // pointers, advanced a tile at a time, as in version 3. Bounds as what is left of the matrix
  // past the tile's corner (no int overflow near 2^31); a pointer outside is never dereferenced.
  const int ar = AT ? tid >> 5 : tid >> 3, ac = AT ? tid & 31 : tid & 7;
  const int br = tid >> 3, bc = tid & 7;
  const float *a_src = AT ? g.a + (int64_t)ar * g.lda + p0 + 4 * ac : g.a + ((int64_t)p0 + ar) * g.lda + 4 * ac;
  const int64_t a_step = AT ? (int64_t)BK * g.lda : BK;
  const int8_t *b_src = g.bq + (int64_t)br * g.Q + q0 + 16 * bc;
  const int64_t b_step = (int64_t)BK * g.Q;
  const bool b_in = 16 * bc < g.Q - q0;

  float4 ra[4];
  float rs[4];  // the scales: dx, of A's 4 columns (j); dW, of its 4 rows (j)
  uint4 rb;
  float cs[4] = {0.0f, 0.0f, 0.0f, 0.0f};  // db: this thread's 4 columns

  auto load_global = [&](int j0) {
    const float4 zero = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      if (AT) {
        const bool j_in = ar + 8 * i < g.J - j0;
        ra[i] = j_in && 4 * ac < g.P - p0 ? *(const float4 *)(a_src + (int64_t)8 * i * g.lda) : zero;
        rs[i] = j_in ? g.s[j0 + ar + 8 * i] : 0.0f;
      } else {
        const bool in = ar + 32 * i < g.P - p0 && 4 * ac < g.J - j0;
        ra[i] = in ? *(const float4 *)(a_src + (int64_t)32 * i * g.lda) : zero;
        rs[i] = 4 * ac + i < g.J - j0 ? g.s[j0 + 4 * ac + i] : 0.0f;
      }
    }
    rb = b_in && br < g.J - j0 ? *(const uint4 *)b_src : make_uint4(0u, 0u, 0u, 0u);
    a_src += a_step;
    b_src += b_step;
  };

  auto store_shared = [&](int buf) {
    const uint32_t st = smem + buf * kQlinTcStage;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float v[4] = {ra[i].x, ra[i].y, ra[i].z, ra[i].w};
      float a[4];
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        if (AT && do_colsum) cs[e] += v[e];
        a[e] = __fmul_rn(v[e], AT ? rs[i] : rs[e]);
      }
      uint32_t lo[3], hi[3];
      qlin_split2(a[0], a[1], lo);
      qlin_split2(a[2], a[3], hi);
      const uint32_t off = (AT ? qlin_swz256(ar + 8 * i, ac >> 1) : qlin_swz(ar + 32 * i, ac >> 1)) + (ac & 1) * 8;
#pragma unroll
      for (int x = 0; x < 3; ++x) qlin_st_shared8(st + x * kQlinTcPiece + off, lo[x], hi[x]);
    }
    const uint32_t sb = st + 3 * kQlinTcPiece;
    uint32_t wb[8];
    qlin_s8x4_bf16(rb.x, wb[0], wb[1]);
    qlin_s8x4_bf16(rb.y, wb[2], wb[3]);
    qlin_s8x4_bf16(rb.z, wb[4], wb[5]);
    qlin_s8x4_bf16(rb.w, wb[6], wb[7]);
    qlin_st_shared16(sb + qlin_swz256(br, 2 * bc), wb[0], wb[1], wb[2], wb[3]);
    qlin_st_shared16(sb + qlin_swz256(br, 2 * bc + 1), wb[4], wb[5], wb[6], wb[7]);
  };

  // ldmatrix addresses (offsets in a stage) for the first k16 half and the first m16 tile or n16
  // pair; the others differ by constants. A, dx: lanes 0-15 name rows 0-15 at the half's first
  // chunk, 16-31 the same rows at its second (a[0..3]); the second half is chunk + 2, which is
  // the offset ^ 32 under qlin_swz, and tile mt, 64 rows further, is + 64·64 bytes. A, dW (.trans):
  // lanes 8m .. 8m + 7 name the 8 rows (j) of matrix m, j + 8 for m ≥ 2, at p chunk + (m & 1);
  // tile mt is p chunk + 8·mt, which the swizzle (bits 0-2 of the chunk) leaves alone: + 128 bytes
  // (were the tiles adjacent, chunk + 2·mt would be an XOR, and its second address register made
  // ptxas spill). B (.trans): rows j + 8 for matrices 1 and 3, q chunk + 1 for 2 and 3 (b0, b1 of
  // n8 tile 2·np, then of 2·np + 1); pair np is chunk + 2·np = chunk ^ 2·np (wn·8 above, lane >> 4
  // below), the offset ^ 32·np. A k16 half further is 16 rows (j) further: + 16·256 bytes for dW's
  // A and for B.
  const uint32_t a_off = AT ? qlin_swz256((lane & 7) + 8 * (lane >> 4), wm * 2 + ((lane >> 3) & 1))
                            : qlin_swz(wm * 16 + (lane & 15), lane >> 4);
  const uint32_t b_off = 3 * kQlinTcPiece + qlin_swz256((lane & 7) + 8 * ((lane >> 3) & 1), wn * 8 + (lane >> 4));

  float acc[2][8][4];
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 8; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.0f;

  load_global(0);
  store_shared(0);
  __syncthreads();
  for (int kt = 0; kt < KT; ++kt) {
    if (kt + 1 < KT) load_global((kt + 1) * BK);  // a_src, b_src already point at it
    const uint32_t st = smem + (kt & 1) * kQlinTcStage;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      uint32_t bf[8][2];
#pragma unroll
      for (int np = 0; np < 4; ++np) {
        uint32_t r[4];
        qlin_ldsm_x4_trans(r, st + ((b_off ^ (32 * np)) + h * 16 * 256));
        bf[2 * np][0] = r[0], bf[2 * np][1] = r[1], bf[2 * np + 1][0] = r[2], bf[2 * np + 1][1] = r[3];
      }
#pragma unroll
      for (int x = 2; x >= 0; --x) {  // the smallest piece first
        uint32_t af[2][4];
#pragma unroll
        for (int mt = 0; mt < 2; ++mt) {
          const uint32_t at = st + x * kQlinTcPiece;
          if (AT)
            qlin_ldsm_x4_trans(af[mt], at + (a_off + h * 16 * 256 + mt * 128));
          else
            qlin_ldsm_x4(af[mt], at + ((a_off ^ (32 * h)) + mt * 64 * 64));
        }
#pragma unroll
        for (int mt = 0; mt < 2; ++mt)
#pragma unroll
          for (int nt = 0; nt < 8; ++nt) em__mma_bf16(acc[mt][nt], af[mt], bf[nt][0], bf[nt][1]);
      }
    }
    if (kt + 1 < KT) store_shared((kt + 1) & 1);
    __syncthreads();
  }

  // db: after the loop's last barrier no warp reads the stages any more; the first 4 KB hold the
  // 8 warps' partial sums ([warp][p], 128 floats each), which the first 128 threads add in order.
  if (do_colsum) {
    float *red = (float *)qlin_smem;
    *(float4 *)&red[warp * BM + 4 * ac] = make_float4(cs[0], cs[1], cs[2], cs[3]);
    __syncthreads();
    if (tid < BM && tid < g.P - p0) {
      float sum = 0.0f;
#pragma unroll
      for (int w = 0; w < kQlinTcThreads / 32; ++w) sum += red[w * BM + tid];
      g.colsum[p0 + tid] = sum;
    }
  }

  // Epilogue: rows and columns relative to the tile (p0, q0); pairs of columns as one float2 store
  // where c allows (vec_c: 16-byte aligned, Q % 4 == 0).
  const int gr = lane >> 2, t = lane & 3;
  const int plim = g.P - p0, qlim = g.Q - q0;
#pragma unroll
  for (int mt = 0; mt < 2; ++mt)
#pragma unroll
    for (int hh = 0; hh < 2; ++hh) {
      const int row = wm * 16 + mt * 64 + gr + 8 * hh;
      if (row >= plim) continue;
      float *cr = g.c + ((int64_t)p0 + row) * g.Q + q0;
#pragma unroll
      for (int nt = 0; nt < 8; ++nt) {
        const int col = wn * 64 + nt * 8 + 2 * t;
        const float v0 = acc[mt][nt][2 * hh], v1 = acc[mt][nt][2 * hh + 1];
        if (col + 1 < qlim && g.vec_c) {
          *(float2 *)(cr + col) = make_float2(v0, v1);
        } else {
          if (col < qlim) cr[col] = v0;
          if (col + 1 < qlim) cr[col + 1] = v1;
        }
      }
    }
}

// ---- launching ------------------------------------------------------------------------------------
// These return CUDA's error; the library turns it into em__fail, the bench into CHECK. Sizes are the
// caller's to check first (1 ≤ M, N < 2^31, 1 ≤ K ≤ 2^17, the grids below 2^31 blocks).

static inline bool qlin_aligned(const void *p, uintptr_t n) { return ((uintptr_t)p & (n - 1)) == 0; }

#ifndef EM_SM90A_TU  // not needed by an sm_90a object, and compiled wherever seen (not a template)
static inline cudaError_t qlin_quantize_launch(const float *a, int64_t rows, int64_t cols, int8_t *aq, float *scale) {
  const int64_t max_blocks = (int64_t)1 << 30;  // beyond, the kernels' row loops take the rest
  if (cols <= kQlinQuantWarpCols) {
    constexpr int rpb = kQlinQuantThreads / 32;
    const int64_t blocks = (rows + rpb - 1) / rpb;
    qlin_quantize_kernel<32><<<(unsigned)(blocks < max_blocks ? blocks : max_blocks), kQlinQuantThreads>>>(
        a, rows, cols, aq, scale);
  } else {
    qlin_quantize_kernel<kQlinQuantThreads><<<(unsigned)(rows < max_blocks ? rows : max_blocks), kQlinQuantThreads>>>(
        a, rows, cols, aq, scale);
  }
  return cudaGetLastError();
}
#endif

template <int BN>
static inline void qlin_fwd_tiles(QlinFwdArgs *a) {
  a->tiles_m = (a->M + kQlinBM - 1) / kQlinBM;
  a->tiles_n = (a->N + BN - 1) / BN;
}

// The arguments of a forward call (the tiles are set again by the launcher for its tile width).
static inline QlinFwdArgs qlin_fwd_args(const int8_t *xq, const float *sx, const int8_t *wq, const float *sw,
                                        const float *b, int32_t *acc, float *y, int64_t M, int64_t N, int64_t K) {
  QlinFwdArgs a;
  a.xq = xq, a.wq = wq, a.sx = sx, a.sw = sw, a.b = b, a.acc = acc, a.y = y;
  a.M = (int)M, a.N = (int)N, a.K = (int)K;
  qlin_fwd_tiles<256>(&a);
  a.vec_y = qlin_aligned(y, 8) && N % 2 == 0;
  a.vec_acc = acc != nullptr && qlin_aligned(acc, 8) && N % 2 == 0;
  return a;
}

static inline bool qlin_fwd_aligned(const QlinFwdArgs &a) {
  return qlin_aligned(a.xq, 16) && qlin_aligned(a.wq, 16) && a.K % 16 == 0;
}

template <int BN, int STAGES>
static inline cudaError_t qlin_fwd_mma_launch(QlinFwdArgs a) {
  using S = QlinMmaShape<BN, STAGES>;
  qlin_fwd_tiles<BN>(&a);
  const bool al = qlin_fwd_aligned(a);
  const void *k = al ? (const void *)qlin_fwd_mma_kernel<BN, STAGES, true>
                     : (const void *)qlin_fwd_mma_kernel<BN, STAGES, false>;
  // Above 48 KB of dynamic shared memory a kernel must opt in; the carveout preference asks for the
  // largest shared-memory split, so that the blocks per SM the design counts on fit (the copies go
  // around the L1 anyway: cp.async.cg).
  cudaError_t e = cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)S::kSmem);
  if (e == cudaSuccess)
    e = cudaFuncSetAttribute(k, cudaFuncAttributePreferredSharedMemoryCarveout, (int)cudaSharedmemCarveoutMaxShared);
  if (e != cudaSuccess) return e;
  const unsigned blocks = (unsigned)((int64_t)a.tiles_m * a.tiles_n);
  if (al)
    qlin_fwd_mma_kernel<BN, STAGES, true><<<blocks, S::kThreads, S::kSmem>>>(a);
  else
    qlin_fwd_mma_kernel<BN, STAGES, false><<<blocks, S::kThreads, S::kSmem>>>(a);
  return cudaGetLastError();
}

// EPI (QlinEpi): where the epilogue's operands come from (see QlinEpi); ORDER (QlinDecodeOrder).
template <int NT, int U = 2, int EPI = kQlinEpiLate, int ORDER = 0>
static inline cudaError_t qlin_fwd_decode_launch(const QlinFwdArgs &a) {
  const unsigned blocks = (unsigned)((a.N + 8 * NT - 1) / (8 * NT));
  if (qlin_fwd_aligned(a))
    qlin_fwd_decode_kernel<NT, true, U, EPI, ORDER><<<blocks, kQlinDecodeThreads>>>(a);
  else
    qlin_fwd_decode_kernel<NT, false, U, EPI, ORDER><<<blocks, kQlinDecodeThreads>>>(a);
  return cudaGetLastError();
}

// Version 2c (a bench variant): S blocks a tile, one cluster. Clusters are sm_90 on: before that it
// answers cudaErrorNotSupported.
template <int NT, int S>
static inline cudaError_t qlin_fwd_decode_split_launch(const QlinFwdArgs &a) {
  int dev = 0, major = 0;
  cudaError_t e = cudaGetDevice(&dev);
  if (e == cudaSuccess) e = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
  if (e != cudaSuccess) return e;
  if (major < 9) return cudaErrorNotSupported;
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3((unsigned)(S * ((a.N + 8 * NT - 1) / (8 * NT))));
  cfg.blockDim = dim3(kQlinDecodeThreads);
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeClusterDimension;
  attr[0].val.clusterDim.x = S, attr[0].val.clusterDim.y = 1, attr[0].val.clusterDim.z = 1;
  cfg.attrs = attr, cfg.numAttrs = 1;
  return qlin_fwd_aligned(a) ? cudaLaunchKernelEx(&cfg, qlin_fwd_decode_split_kernel<NT, true, 2, S>, a)
                             : cudaLaunchKernelEx(&cfg, qlin_fwd_decode_split_kernel<NT, false, 2, S>, a);
}

// Version 2e (a bench variant): 16 warps a tile, TILES tiles a block in turn.
template <int NT, int TILES>
static inline cudaError_t qlin_fwd_decode_wide_launch(const QlinFwdArgs &a) {
  const int tiles = (a.N + 8 * NT - 1) / (8 * NT);
  const unsigned blocks = (unsigned)((tiles + TILES - 1) / TILES);
  if (qlin_fwd_aligned(a))
    qlin_fwd_decode_wide_kernel<NT, true, 2><<<blocks, kQlinWideThreads>>>(a);
  else
    qlin_fwd_decode_wide_kernel<NT, false, 2><<<blocks, kQlinWideThreads>>>(a);
  return cudaGetLastError();
}

// Version 2d (a bench variant): S blocks a tile, their sums in sums (256 int32 a tile of 8·NT = 16
// columns, NT = 2) and count (one a tile), both zero before the first launch; each launch leaves
// them zero.
template <int NT, int S>
static inline cudaError_t qlin_fwd_decode_splitk_launch(const QlinFwdArgs &a, int32_t *sums, unsigned *count) {
  const unsigned blocks = (unsigned)(S * ((a.N + 8 * NT - 1) / (8 * NT)));
  if (qlin_fwd_aligned(a))
    qlin_fwd_decode_splitk_kernel<NT, true, 2, S><<<blocks, kQlinDecodeThreads>>>(a, sums, count);
  else
    qlin_fwd_decode_splitk_kernel<NT, false, 2, S><<<blocks, kQlinDecodeThreads>>>(a, sums, count);
  return cudaGetLastError();
}

// Version 2b (bench variants for now). persistent: as many blocks as the SMs hold at once (up to
// kMinBlocks each, fewer where the shared memory allows fewer), each walking tiles; otherwise one
// block per tile, as version 2. Falls back to version 2 with the same NT where bulk copies cannot
// serve (before sm_90; x or W not 16-byte aligned, or K % 16 != 0: its byte path) and, for XRES, to
// x carried in the stages where M rows of x do not fit beside the ring (NT = 2, KS = 1024, 4
// stages: M = 16 up to K = 9472). The attribute calls cost the host a few µs a launch, which a
// real decode step would cache; the bench's timer queues them behind its L2 flush.
template <int NT, int KS, int STAGES, bool XRES>
static inline cudaError_t qlin_fwd_bulk_launch(const QlinFwdArgs &a, bool persistent) {
  using S = QlinBulkShape<NT, KS, STAGES, XRES>;
  int dev = 0, major = 0, sms = 0, optin = 0, per_sm_smem = 0;
  cudaError_t e = cudaGetDevice(&dev);
  if (e == cudaSuccess) e = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
  if (e == cudaSuccess) e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
  if (e == cudaSuccess) e = cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev);
  if (e == cudaSuccess) e = cudaDeviceGetAttribute(&per_sm_smem, cudaDevAttrMaxSharedMemoryPerMultiprocessor, dev);
  if (e != cudaSuccess) return e;
  // Version 2 would only drop rows past 16; here their copies would overrun a stage's x rows.
  if (a.M > kQlinDecodeMaxM) return cudaErrorInvalidValue;
  if (major < 9 || !qlin_fwd_aligned(a)) return qlin_fwd_decode_launch<NT>(a);
  const size_t smem = S::kFixed + (XRES ? (size_t)a.M * qlin_bulk_xstride(a.K) : 0);
  if (smem > (size_t)optin) {
    if constexpr (XRES) return qlin_fwd_bulk_launch<NT, KS, STAGES, false>(a, persistent);
    return qlin_fwd_decode_launch<NT>(a);  // not for the shapes chosen: the fixed part fits 227 KB
  }
  const void *k = (const void *)qlin_fwd_decode_bulk_kernel<NT, KS, STAGES, XRES>;
  e = cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
  if (e == cudaSuccess)
    e = cudaFuncSetAttribute(k, cudaFuncAttributePreferredSharedMemoryCarveout, (int)cudaSharedmemCarveoutMaxShared);
  if (e != cudaSuccess) return e;
  const int64_t tiles = ((int64_t)a.N + S::kRows - 1) / S::kRows;
  // 1 KB a block: what the runtime keeps of each block's shared memory for itself (sm_8x, sm_90)
  const int64_t fit = (int64_t)per_sm_smem / (int64_t)(smem + 1024);
  const int64_t slots = (int64_t)sms * (fit < S::kMinBlocks ? (fit > 1 ? fit : 1) : S::kMinBlocks);
  const unsigned blocks = (unsigned)(persistent && slots < tiles ? slots : tiles);
  qlin_fwd_decode_bulk_kernel<NT, KS, STAGES, XRES><<<blocks, kQlinBulkThreads, smem>>>(a);
  return cudaGetLastError();
}

// Version 1b (sm_90a builds only: the caller knows; its kernel body is empty elsewhere). Problems
// off 16 bytes or with K % 16 != 0: cudaErrorNotSupported, and the caller runs version 1 (so that an
// sm_90a object holds only the kernels it adds).
template <int BN, int STAGES>
static inline cudaError_t qlin_fwd_wg_launch(QlinFwdArgs a) {
  using S = QlinWgShape<BN, STAGES>;
  if (!qlin_fwd_aligned(a)) return cudaErrorNotSupported;  // the caller runs version 1
  a.tiles_m = (a.M + S::BM - 1) / S::BM;
  a.tiles_n = (a.N + BN - 1) / BN;
  const void *k = (const void *)qlin_fwd_wg_kernel<BN, STAGES>;
  cudaError_t e = cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)S::kSmem);
  if (e == cudaSuccess)
    e = cudaFuncSetAttribute(k, cudaFuncAttributePreferredSharedMemoryCarveout, (int)cudaSharedmemCarveoutMaxShared);
  if (e != cudaSuccess) return e;
  qlin_fwd_wg_kernel<BN, STAGES><<<(unsigned)((int64_t)a.tiles_m * a.tiles_n), S::kThreads, S::kSmem>>>(a);
  return cudaGetLastError();
}

#ifndef EM_SM90A_TU  // not needed by an sm_90a object, and compiled wherever seen (not a template)
// The shipped dispatch: M ≤ 16 streams W with NT = 2 where that still gives every SM a block, its
// epilogue operands copied early (QlinEpi), else NT = 1 (on an H100 at N = K = 8192, after the
// checker's flush: NT = 2 82% of copy, NT = 4 80%, two runs each; bench/l2_flush.cu: blocks of fewer
// registers, four of them to an SM, keep twice the warps streaming), larger M the tiled kernel.
static inline cudaError_t qlin_fwd_launch(const QlinFwdArgs &a) {
  if (a.M <= kQlinDecodeMaxM) {
    int dev = 0, sms = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    if (e != cudaSuccess) return e;
    const int64_t n8 = ((int64_t)a.N + 7) / 8;
    if ((n8 + 1) / 2 >= sms) return qlin_fwd_decode_launch<2, 2, kQlinEpiShared>(a);
    return qlin_fwd_decode_launch<1>(a);
  }
  // 128 × 128 tiles, 4 stages: on the H200 at M = N = K = 8192 (bench/qlinear.cu, 2026-12-05) they
  // ran at 829 int8 TOP/s against 653 for 128 × 256 (3 and 5 stages of those: 625, 642); two blocks
  // of 4 warps per SM keep more tiles in flight than one of 8.
  return qlin_fwd_mma_launch<128, 4>(a);
}
#endif

// Two blocks of 32 KB per SM: ask for a shared-memory split that holds them (a preference the
// driver otherwise chooses itself).
template <bool AT, bool VEC>
static inline cudaError_t qlin_sgemm_launch(const QlinGemmArgs &g) {
  cudaError_t e = cudaFuncSetAttribute(qlin_sgemm_kernel<AT, VEC>, cudaFuncAttributePreferredSharedMemoryCarveout,
                                       (int)cudaSharedmemCarveoutMaxShared);
  if (e != cudaSuccess) return e;
  qlin_sgemm_kernel<AT, VEC><<<(unsigned)((int64_t)g.tiles_p * g.tiles_q), kQlinGemmThreads>>>(g);
  return cudaGetLastError();
}

#ifndef EM_SM90A_TU  // not needed by an sm_90a object, and compiled wherever seen (not a template)
// dx (M × K) and dW (N × K), db fused into dW's kernel.
static inline cudaError_t qlin_bwd_launch(const float *dy, const int8_t *xq, const float *sx, const int8_t *wq,
                                          const float *sw, float *dx, float *dw, float *db, int64_t M, int64_t N,
                                          int64_t K) {
  const bool vec = qlin_aligned(dy, 16) && N % 4 == 0 && qlin_aligned(xq, 4) && qlin_aligned(wq, 4) && K % 4 == 0;
  QlinGemmArgs g;
  g.a = dy, g.lda = (int)N, g.Q = (int)K;
  g.tiles_q = (int)((K + kQlinGemmBN - 1) / kQlinGemmBN);

  g.bq = wq, g.s = sw, g.c = dx, g.colsum = nullptr, g.P = (int)M, g.J = (int)N;
  g.tiles_p = (int)((M + kQlinGemmBM - 1) / kQlinGemmBM);
  g.vec_c = qlin_aligned(dx, 16) && K % 4 == 0;
  cudaError_t e = vec ? qlin_sgemm_launch<false, true>(g) : qlin_sgemm_launch<false, false>(g);
  if (e != cudaSuccess) return e;

  g.bq = xq, g.s = sx, g.c = dw, g.colsum = db, g.P = (int)N, g.J = (int)M;
  g.tiles_p = (int)((N + kQlinGemmBM - 1) / kQlinGemmBM);
  g.vec_c = qlin_aligned(dw, 16) && K % 4 == 0;
  return vec ? qlin_sgemm_launch<true, true>(g) : qlin_sgemm_launch<true, false>(g);
}
#endif

// Version 4, one product: 64 KB of dynamic shared memory is above the 48 KB a kernel gets without
// opting in, and two blocks per SM need the largest shared-memory split.
template <bool AT>
static inline cudaError_t qlin_bwd_tc_launch1(const QlinGemmArgs &g) {
  cudaError_t e =
      cudaFuncSetAttribute(qlin_bwd_tc_kernel<AT>, cudaFuncAttributeMaxDynamicSharedMemorySize, kQlinTcSmem);
  if (e == cudaSuccess)
    e = cudaFuncSetAttribute(qlin_bwd_tc_kernel<AT>, cudaFuncAttributePreferredSharedMemoryCarveout,
                             (int)cudaSharedmemCarveoutMaxShared);
  if (e != cudaSuccess) return e;
  qlin_bwd_tc_kernel<AT><<<(unsigned)((int64_t)g.tiles_p * g.tiles_q), kQlinTcThreads, kQlinTcSmem>>>(g);
  return cudaGetLastError();
}

// Both sums at least this long (J = N for dx, M for dW) before version 4 takes a backward. Why: the
// tolerance of a sum of J terms is (J + 2)·u·Σ|term| (harness/specs/qlinear.c), the worst case of
// J float32 roundings. Version 4 rounds each term once on the way in (A' = fl(A·s), 2u against the
// contract's dy·fl(s·q) at worst) and then, if the tensor cores truncate, up to 2u·Σ|term| at each
// of its three mma per 16 terms: 2 + 6·⌈J/16⌉ units, within J + 2 from J = 6 on but not below (at
// J = 1, 4u against 3u). The speed is in the large products anyway, where version 4 measured far
// inside the bound (bench/qlinear.cu on an H100: at most 13.7·u·Σ|term| at M = 131, N = 260, where
// the bound is at least 133 units).
static const int64_t kQlinTcMinJ = 16;

// What version 4 needs of the backward's shapes and pointers (see there and kQlinTcMinJ).
static inline bool qlin_bwd_tc_fits(const float *dy, const int8_t *xq, const int8_t *wq, int64_t M, int64_t N,
                                    int64_t K) {
  return qlin_aligned(dy, 16) && N % 4 == 0 && qlin_aligned(xq, 16) && qlin_aligned(wq, 16) && K % 16 == 0 &&
         M >= kQlinTcMinJ && N >= kQlinTcMinJ;
}

#ifndef EM_SM90A_TU  // not needed by an sm_90a object, and compiled wherever seen (not a template)
// The backward on the tensor cores (version 4), as qlin_bwd_launch: dx (M × K) and dW (N × K), db
// fused into dW's kernel; shapes or pointers version 4 does not take go to qlin_bwd_launch.
static inline cudaError_t qlin_bwd_tc_launch(const float *dy, const int8_t *xq, const float *sx, const int8_t *wq,
                                             const float *sw, float *dx, float *dw, float *db, int64_t M, int64_t N,
                                             int64_t K) {
  if (!qlin_bwd_tc_fits(dy, xq, wq, M, N, K)) return qlin_bwd_launch(dy, xq, sx, wq, sw, dx, dw, db, M, N, K);
  QlinGemmArgs g;
  g.a = dy, g.lda = (int)N, g.Q = (int)K;
  g.tiles_q = (int)((K + kQlinTcBN - 1) / kQlinTcBN);

  g.bq = wq, g.s = sw, g.c = dx, g.colsum = nullptr, g.P = (int)M, g.J = (int)N;
  g.tiles_p = (int)((M + kQlinTcBM - 1) / kQlinTcBM);
  g.vec_c = qlin_aligned(dx, 16) && K % 4 == 0;
  cudaError_t e = qlin_bwd_tc_launch1<false>(g);
  if (e != cudaSuccess) return e;

  g.bq = xq, g.s = sx, g.c = dw, g.colsum = db, g.P = (int)N, g.J = (int)M;
  g.tiles_p = (int)((N + kQlinTcBM - 1) / kQlinTcBM);
  g.vec_c = qlin_aligned(dw, 16) && K % 4 == 0;
  return qlin_bwd_tc_launch1<true>(g);
}
#endif

// The library's Hopper launcher (version 1b), compiled for sm_90a alone in qlinear_sm90a.cu: it
// fails with cudaErrorNoKernelImageForDevice where the build holds no sm_90a image (see mma.cuh).
cudaError_t em__qlin_fwd_sm90a_launch(const QlinFwdArgs &a);

#endif  // EM_REFERENCE_CUDA_QLINEAR_KERNELS_CUH
