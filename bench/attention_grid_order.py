"""The causal attention grid's order, modelled: how long 4096 blocks of unequal length take on the
GPU's block slots when each slot takes the next block of the grid as soon as it is free (list
scheduling), head by head (each head's longest tile first: the library's order until an H100 run
timed groups of 8 heads 3-6% faster) and in groups of G heads (every head's longest tile of the
group, then the next longest, ...; the library's order now, G = 8): the --group option of
bench/attention.cu, which times the same thing on a GPU.

    python3 bench/attention_grid_order.py [--heads 64] [--tiles 64] [--slots 264] [--overhead 1]

A block of query tile t (0-based) under the mask with n = m computes t + 1 key tiles, plus a fixed
cost (its Q tile, the first copies, the output) in tile-times. The model knows nothing of an SM
that runs its only block faster, so it bounds what the order can win rather than predicting it.

Without the mask every block computes all its key tiles, and the grid's only loss is its last wave:
4096 blocks on 264 slots are 15.5 waves, the last half empty. The model then also splits the keys
of the grid's last blocks among S blocks each (whose partial outputs would be merged, as lab 6's
rule merges two softmax halves, at a cost of --merge tile-times a piece). bench/attention.cu --waves
times the real grid at h = 62 to 68 heads: on an H100 the tail cost 2.7% (the model: 3.1%), and the
split in thirds won 4.8% where the model allows 1.9%, for the reason above (a tail block alone on
its SM runs faster); the library's float32 FMA kernel now splits so (attn_fma_split_kernel)."""
import argparse
import heapq


def makespan(durations, slots):
    free = [0.0] * slots
    end = 0.0
    for d in durations:
        t = heapq.heappop(free) + d
        end = max(end, t)
        heapq.heappush(free, t)
    return end


def by_head(heads, tiles, cost):
    return [cost(tiles - 1 - i) for _ in range(heads) for i in range(tiles)]


def grouped(heads, tiles, cost, g):
    return [cost(tiles - 1 - i) for first in range(0, heads, g) for i in range(tiles)
            for _ in range(first, min(heads, first + g))]


def split_tail(blocks, tiles, slots, overhead, split, last, merge):
    """The unmasked grid, its last `last` blocks' keys split in `split` pieces each."""
    whole = [tiles + overhead] * (blocks - last)
    return whole + [tiles / split + overhead + merge] * (last * split)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heads", type=int, default=64, help="b·h (default: b = 4, h = 16)")
    ap.add_argument("--tiles", type=int, default=64, help="query tiles per head (n = 4096, 64 a tile)")
    ap.add_argument("--slots", type=int, default=264, help="blocks resident at once (2 per SM of 132)")
    ap.add_argument("--overhead", type=float, default=1.0, help="a block's fixed cost, in tile-times")
    ap.add_argument("--merge", type=float, default=0.5, help="merging a split block's piece, in tile-times")
    a = ap.parse_args()
    cost = lambda t: t + 1 + a.overhead  # noqa: E731
    work = sum(by_head(a.heads, a.tiles, cost)) / a.slots
    print(f"{a.heads} heads x {a.tiles} query tiles on {a.slots} slots: the work alone {work:.1f} tile-times")
    rows = [("head by head", by_head(a.heads, a.tiles, cost))]
    for g in (2, 4, 8, 16):
        label = f"groups of {g:2d} heads" + (" (the library)" if g == 8 else "")
        rows.append((label, grouped(a.heads, a.tiles, cost, g)))
    for label, order in rows:
        print(f"  {label + ':':36s}{makespan(order, a.slots) / work:.4f}x")

    blocks = a.heads * a.tiles
    work = blocks * (a.tiles + a.overhead) / a.slots
    print(f"without the mask, {blocks} blocks of {a.tiles} key tiles: the work alone {work:.1f} tile-times "
          f"({blocks / a.slots:.2f} waves)")
    launched = split_tail(blocks, a.tiles, a.slots, a.overhead, 1, 0, 0)
    print(f"  {'as launched:':36s}{makespan(launched, a.slots) / work:.4f}x")
    part = blocks % a.slots
    for last in sorted({part, part + a.slots} - {0}):
        if last > blocks:
            continue
        for split in (2, 3, 4):
            order = split_tail(blocks, a.tiles, a.slots, a.overhead, split, last, a.merge)
            label = f"last {last} blocks in {split} pieces:"
            print(f"  {label:36s}{makespan(order, a.slots) / work:.4f}x")


if __name__ == "__main__":
    main()
