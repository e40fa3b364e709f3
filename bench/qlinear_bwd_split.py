#!/usr/bin/env python3
"""Lab 8's tensor-core backward, modelled in numpy before it runs on a GPU.

qlin_bwd_tc_kernel (reference/cuda/qlinear_kernels.cuh) computes C[p][q] = sum_j A'(p, j)·Bq[j][q]
with A' = fl32(dy·s) split exactly into three bfloat16 pieces a0 + a1 + a2 and Bq int8 (exact in
bf16): each piece × int8 product is exact, so only the float32 accumulation of the tensor cores
rounds. How it rounds is not documented: this script models it three ways,
  rn      a float32 sum in round-to-nearest, one product at a time;
  trunc16 per mma (k = 16), the accumulator and the 16 products aligned to the largest exponent,
          every bit below float32's 24 dropped (truncation, no guard bits), summed exactly, the
          result truncated to float32: a pessimistic model of what tensor cores are reported to do;
  trunc8  the same with k = 8 (the instruction done as two halves);
on bench/qlinear.cu's inputs (its hash, its special rows: zeros, exact halves, 1e15, 1e-40) for
the self-check's shapes and the timed 8192³ (its sampled rows, 512 of the K columns), and prints
the worst error over the bench's bound (J + 3)·u·Σ|t| + 1e-30 (> 1 fails) and the worst
err / (u·Σ|t|), beside the same for the shipped FFMA kernel (modelled: x̂ = fl32(s·q), one fused
multiply-add at a time). The split is modelled as the kernel does it (a0 and a1 rounded to nearest,
a2 the residual's upper half) and with a0 and a1 truncated too (rz-split).
Run: python3 bench/qlinear_bwd_split.py [--quick]   (numpy; about a minute, --quick a few seconds)
"""
import sys

import numpy as np

U = 2.0**-24
M64 = np.uint64


def hashed(i, salt):
    """bench/qlinear.cu's hashed(): uniform in [-1, 1) from (index, salt), as float32."""
    with np.errstate(over="ignore"):
        x = i.astype(M64) * M64(0x9E3779B97F4A7C15) + M64(salt) * M64(0xBF58476D1CE4E5B9)
        x ^= x >> M64(31)
        x *= M64(0x94D049BB133111EB)
        x ^= x >> M64(29)
    return ((x >> M64(40)).astype(np.float64) * (1.0 / 8388608.0)).astype(np.float32) - np.float32(1)


def kind_of(row, rows, ones):
    if ones:
        return 5
    if rows < 3:
        return 0
    if row == 1:
        return 1
    if row == 2:
        return 2
    if rows >= 6 and row == rows - 2:
        return 3
    if rows >= 6 and row == rows - 1:
        return 4
    return 0


def rows_of(rows, cols, salt, ones, which):
    """Rows `which` of a bench input matrix (rows × cols), float32."""
    out = np.empty((len(which), cols), np.float32)
    k = np.arange(cols, dtype=np.int64)
    for n, r in enumerate(which):
        kind = kind_of(r, rows, ones)
        h = hashed(r * cols + k, salt)
        if kind == 1:
            out[n] = 0
        elif kind == 2:
            out[n] = np.where(k == 0, 127.0, (k % 8) - 3.5)
        elif kind == 3:
            out[n] = np.float32(1e15) * h
        elif kind == 4:
            out[n] = np.float32(1e-40) * h
        elif kind == 5:
            out[n] = 1
        else:
            out[n] = h
    return out


def quantize(a):
    """host_quantize of bench/qlinear.cu: s per row, q int8."""
    m = np.abs(a).max(axis=1).astype(np.float64)
    s = (m / 127.0).astype(np.float32)
    q = np.zeros(a.shape, np.int8)
    nz = s != 0
    quot = (a[nz].astype(np.float64) / s[nz, None].astype(np.float64)).astype(np.float32)
    q[nz] = np.clip(np.rint(quot), -127, 127).astype(np.int8)
    return s, q


def quantized(rows, cols, salt, ones, keep_cols):
    """s (all rows) and q (all rows, the kept columns), built in chunks of rows."""
    s = np.empty(rows, np.float32)
    q = np.empty((rows, len(keep_cols)), np.int8)
    for r0 in range(0, rows, 256):
        rr = list(range(r0, min(rows, r0 + 256)))
        sc, qc = quantize(rows_of(rows, cols, salt, ones, rr))
        s[r0 : r0 + len(rr)], q[r0 : r0 + len(rr)] = sc, qc[:, keep_cols]
    return s, q


def bf16(a, rz):
    """float32 → bfloat16 (as float32), round to nearest even or toward zero; denormals kept."""
    u = a.view(np.uint32).astype(np.uint64)
    if not rz:
        u = u + 0x7FFF + ((u >> 16) & 1)
    return (u & 0xFFFF0000).astype(np.uint32).view(np.float32)


def split3(a, rz):
    a0 = bf16(a, rz)
    r1 = a - a0  # exact in float32
    a1 = bf16(r1, rz)
    a2 = bf16(r1 - a1, True)  # the kernel takes the upper half: exact but for denormals below 2^-133
    return a0, a1, a2


def to_f32_rz(v):
    f = v.astype(np.float32)
    over = np.abs(f.astype(np.float64)) > np.abs(v)
    f[over] = np.nextafter(f[over], np.float32(0))
    return f


def mma_trunc(c, t):
    """c (R, Q) float32 + Σ_i t[:, i, :] as the truncation model: align to the largest exponent,
    keep 24 bits below it, sum exactly, truncate to float32."""
    v = np.concatenate([c[:, None, :].astype(np.float64), t], axis=1)
    _, e = np.frexp(np.abs(v).max(axis=1, keepdims=True))
    quantum = np.ldexp(1.0, e - 24)
    return to_f32_rz((np.trunc(v / quantum) * quantum).sum(axis=1))


def product(a, b, model, rz=False):
    """C = A·B, A (R × J) float32 already scaled, B (J × Q) int8, by the given model."""
    R, J = a.shape
    Q = b.shape[1]
    bf = b.astype(np.float64)
    c = np.zeros((R, Q), np.float32)
    if model == "ffma":
        for j in range(J):  # a·b exact in float64, then one rounding: an FMA
            c = (c.astype(np.float64) + a[:, j, None].astype(np.float64) * bf[j]).astype(np.float32)
        return c
    pieces = split3(a, rz)
    kb = 16 if model != "trunc8" else 8
    for j0 in range(0, J, 16):
        for p in (pieces[2], pieces[1], pieces[0]):  # the kernel's order: smallest piece first
            for h0 in range(j0, min(J, j0 + 16), kb):
                h1 = min(J, h0 + kb)
                t = p[:, h0:h1, None].astype(np.float64) * bf[None, h0:h1, :]  # exact
                if model == "rn":
                    for i in range(t.shape[1]):
                        c = (c.astype(np.float64) + t[:, i, :]).astype(np.float32)
                else:
                    c = mma_trunc(c, t)
    return c


MODELS = [("ffma", False), ("rn", False), ("trunc16", False), ("trunc8", False), ("trunc16", True)]


def report(name, dy_rows, s_j, bq, J, results):
    """dy_rows (R × J) float32 rows of A before scaling; s_j (J) the scales; bq (J × Q)."""
    step = max(1, (1 << 23) // (J * bq.shape[1]))  # rows at a time: the float64 terms stay small
    for r0 in range(0, dy_rows.shape[0], step):
        report_rows(dy_rows[r0 : r0 + step], s_j, bq, J, results)


def report_rows(dy_rows, s_j, bq, J, results):
    a = (dy_rows * s_j[None, :]).astype(np.float32)  # fl32(dy·s), one rounding
    terms_ref = dy_rows.astype(np.float64)[:, :, None] * (
        s_j.astype(np.float64)[:, None] * bq.astype(np.float64)
    )[None]
    ref = terms_ref.sum(axis=1)
    mag = np.abs(terms_ref).sum(axis=1)
    del terms_ref
    for model, rz in MODELS:
        if model == "ffma":
            xhat = (s_j[:, None] * bq.astype(np.float32)).astype(np.float32)
            got = np.zeros(ref.shape, np.float32)
            for j in range(J):
                got = (got.astype(np.float64) + dy_rows[:, j, None].astype(np.float64) * xhat[j]).astype(np.float32)
        else:
            got = product(a, bq, model, rz)
        err = np.abs(got.astype(np.float64) - ref)
        worst = (err / ((J + 3) * U * mag + 1e-30)).max()
        typ = (err[mag > 1e-20] / (U * mag[mag > 1e-20])).max(initial=0.0)
        key = model + (" rz-split" if rz else "")
        w, t = results.get(key, (0.0, 0.0))
        results[key] = (max(w, worst), max(t, typ))


def shape(M, N, K, ones, results, xrows=None, wrows=None, kcols=None):
    kcols = np.arange(K) if kcols is None else kcols
    xrows = list(range(M)) if xrows is None else xrows
    wrows = list(range(N)) if wrows is None else wrows
    sx, xq = quantized(M, K, 1, ones, kcols)
    sw, wq = quantized(N, K, 2, ones, kcols)
    dy_all = rows_of(M, N, 4, False, range(M))  # M × N
    report("dx", dy_all[xrows], sw, wq, N, results)  # dx rows r: Σ_o dy[r][o]·s_w[o]·Wq[o][k]
    report("dW", np.ascontiguousarray(dy_all.T[wrows]), sx, xq, M, results)  # dW rows o: Σ_r dy[r][o]·x̂[r][k]


def main():
    quick = "--quick" in sys.argv
    small = [(1, 1, 1), (1, 1, 3), (1, 5, 17), (2, 3, 64), (6, 7, 1024), (6, 7, 1025), (7, 9, 9000),
             (16, 33, 64), (16, 300, 1040), (9, 64, 4096), (3, 130, 17), (17, 129, 200), (130, 257, 1000),
             (128, 256, 64), (200, 300, 1040), (257, 513, 2048), (300, 1, 128), (131, 260, 1056)]
    if quick:
        small = [(1, 5, 17), (16, 33, 64), (17, 129, 200), (130, 257, 1040), (131, 260, 1056)]
    big = [] if quick else [(2, 3, 131072, True), (20, 24, 131072, True)]
    shapes = [(m, n, k, False) for m, n, k in small] + big
    tc = [sh for sh in shapes if sh[1] % 4 == 0 and sh[2] % 16 == 0]  # the rest go to the FFMA kernels
    cases = [("self-check shapes the tensor-core path takes (N % 4 == 0, K % 16 == 0)", tc),
             ("all self-check shapes (those with J = 1..3 are the tightest)", shapes)]
    print("worst err/bound (<= 1 passes) and worst err/(u·Σ|t|), u = 2^-24, per accumulation model")
    for title, shapes in cases:
        results = {}
        for M, N, K, ones in shapes:
            kc = None if K <= 4096 else np.unique(np.linspace(0, K - 1, 256).astype(np.int64))
            shape(M, N, K, ones, results, kcols=kc)
        print_results(title, results)
    if not quick:
        n = 8192
        rows = sorted({0, 1, 2, n // 3, n // 2, n - 2, n - 1})
        results = {}
        shape(n, n, n, False, results, rows, rows, np.unique(np.linspace(0, n - 1, 512).astype(np.int64)))
        print_results("M=N=K=8192, the bench's sampled rows, 512 columns", results)


def print_results(title, results):
    print(title)
    for key, (w, t) in results.items():
        print(f"  {key:18s} err/bound {w:9.3g}   err/(u·Σ|t|) {t:9.3g}")


if __name__ == "__main__":
    main()
