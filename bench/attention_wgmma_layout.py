"""Lab 7, versions 4 and 5 (wgmma): checks, without a GPU, that the shared-memory layout the kernels'
copies write (attn_wg_load in reference/cuda/attention_kernels.cuh; version 5's TMA writes the same
through its tensor maps' 128-byte swizzle) is the one their matrix descriptors describe.

The copies put the 16-byte chunk c of row r of a tile at byte (c // 8)·(R·128) + r·128 +
((c % 8) ^ (r % 8))·16: blocks of 64 columns, rows of 128 bytes, the 128-byte swizzle. The
descriptors are read here as the PTX ISA's canonical 128-byte-swizzle layouts (in the form CUTLASS
writes them, cute/atom/mma_traits_sm90_gmma.hpp):
  K-major (Q as A, K as B):   element (mn, k) at start + (mn % 8)·128 + (mn // 8)·SBO + 2k;
  MN-major (V as B, tnspB):   element (k, n) at start + 2·(n % 64) + (n // 64)·LBO + (k % 8)·128 + (k // 8)·SBO;
then the swizzle: address bits 4-6 XOR bits 7-9. For every warpgroup, k16 step and tile shape the
kernels use, the elements read back must be Q's, K's and V's. What this cannot check is the reading
itself: bench/attention.cu's self-check on a GPU does (its "V strides swapped" variant asks the
hardware which of LBO and SBO is which for V).

Run: python3 bench/attention_wgmma_layout.py   (exit 1 on a mismatch)
"""
import sys


def load(rows, R, D):
    """attn_wg_load: byte offset -> the element placed there (2-byte elements)."""
    mem, cpr = {}, D // 8
    for i in range(R * cpr):
        r, c = divmod(i, cpr)
        off = (c >> 3) * (R * 128) + r * 128 + (((c & 7) ^ (r & 7)) << 4)
        for e in range(8):
            mem[off + 2 * e] = rows[r][8 * c + e]
    return mem


def swizzle(addr):
    return addr ^ (((addr >> 7) & 7) << 4)


def k_major(mem, start, n, sbo):
    return [[mem[swizzle(start + (mn % 8) * 128 + (mn // 8) * sbo + 2 * k)] for k in range(16)] for mn in range(n)]


def mn_major(mem, start, n, lbo, sbo):
    return [[mem[swizzle(start + 2 * (j % 64) + (j // 64) * lbo + (k % 8) * 128 + (k // 8) * sbo)] for j in range(n)]
            for k in range(16)]


def main():
    bad = 0
    for D in (64, 128):
        for BC in (64, 128):
            q = [[("q", r, c) for c in range(D)] for r in range(128)]
            k = [[("k", r, c) for c in range(D)] for r in range(BC)]
            v = [[("v", r, c) for c in range(D)] for r in range(BC)]
            mq, mk, mv = load(q, 128, D), load(k, BC, D), load(v, BC, D)
            for kk in range(D // 16):  # attn_wg_issue_s
                kin = (kk & 3) * 32
                for wg in (0, 1):
                    a = k_major(mq, (kk >> 2) * (128 * 128) + wg * 64 * 128 + kin, 64, 1024)
                    bad += sum(a[m][j] != q[64 * wg + m][16 * kk + j] for m in range(64) for j in range(16))
                b = k_major(mk, (kk >> 2) * (BC * 128) + kin, BC, 1024)
                bad += sum(b[n][j] != k[n][16 * kk + j] for n in range(BC) for j in range(16))
            for kk in range(BC // 16):  # the P·V MMAs
                b = mn_major(mv, kk * 2048, D, BC * 128, 1024)
                bad += sum(b[j][n] != v[16 * kk + j][n] for j in range(16) for n in range(D))
            print(f"d={D:<3} keys per tile {BC:<3}: {'ok' if not bad else f'{bad} elements misplaced'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
