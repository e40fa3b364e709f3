"""The memory counters of a kernel's launches from Nsight Compute's raw CSV, one line per run of
launches:

    ncu --metrics "$(python3 bench/ncu_memory.py --metrics)" --print-units base --csv \\
        --kernel-name "regex:..." --launch-count N PROGRAM ARGS > prof.csv
    python3 bench/ncu_memory.py prof.csv [--min-grid 256]

A run is a stretch of consecutive profiled launches of one kernel at one grid size (a bench times
each variant over many launches, one variant after another), and its line gives the medians over
the run: the kernel's own duration, DRAM bytes read and written, what the L1 asked of the L2 and how
much of it the L2 held, the L1's hits on global loads, and the warps resident. Launches with fewer
than --min-grid blocks (a self-check's small shapes) are left out. scripts/device-lab8.sh's ncu step
runs it on lab 8's decode kernel in each of the bench's orders of K, beside reads of W alone
(BENCHMARKS.md). Python's standard library only.
"""
import argparse
import csv
import statistics
import sys

METRICS = [
    "gpu__time_duration.sum", "launch__grid_size", "dram__bytes_read.sum", "dram__bytes_write.sum",
    "dram__throughput.avg.pct_of_peak_sustained_elapsed", "lts__t_sectors_srcunit_tex_op_read.sum",
    "lts__t_sectors_srcunit_tex_op_read_lookup_hit.sum", "l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum",
    "l1tex__t_sectors_pipe_lsu_mem_global_op_ld_lookup_hit.sum", "lts__throughput.avg.pct_of_peak_sustained_elapsed",
    "sm__warps_active.avg.pct_of_peak_sustained_active",
]
SECTOR = 32  # bytes


def read(path):
    """[(kernel name, {metric: value})] in launch order. Rows of the program's own output (fewer
    fields) are skipped; values must be in base units (ncu --print-units base)."""
    launches = {}
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(f) if len(r) > 10]
    if not rows or "Metric Name" not in rows[0]:
        raise ValueError("no ncu metrics table: write it with ncu --csv --metrics ...")
    head = rows[0]
    ids, names, metric, value = (head.index(c) for c in ("ID", "Kernel Name", "Metric Name", "Metric Value"))
    for r in rows[1:]:
        launch = launches.setdefault(int(r[ids]), (r[names], {}))
        launch[1][r[metric]] = float(r[value].replace(",", ""))
    return [launches[i] for i in sorted(launches)]


def runs(launches, min_grid):
    """[((kernel, grid), [metrics of each launch])]: consecutive launches of one kernel and grid."""
    out = []
    for name, m in launches:
        grid = int(m.get("launch__grid_size", 0))
        if grid < min_grid:
            continue
        if not out or out[-1][0] != (name, grid):
            out.append(((name, grid), []))
        out[-1][1].append(m)
    return out


def short(name):
    """The kernel's name as ncu writes it (demangled) without its parameters, return type and
    namespace: read_only_kernel for '<unnamed>::read_only_kernel(const uint4 *, ...)', its
    template arguments kept (they tell variants apart)."""
    return name.split("(")[0].removeprefix("void ").rsplit("::", 1)[-1]


def line(name, grid, ms):
    def med(key):
        return statistics.median(m[key] for m in ms)

    def pct(a, b):
        return 100.0 * a / b if b else 0.0

    l2 = med("lts__t_sectors_srcunit_tex_op_read.sum")
    ld = med("l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum")
    return (f"{short(name):36s} grid {grid:4d} ({len(ms):2d} launches): {med('gpu__time_duration.sum') / 1e3:6.2f} us,"
            f" DRAM read {med('dram__bytes_read.sum') / 1e6:5.1f} MB write {med('dram__bytes_write.sum') / 1e6:4.1f} MB"
            f" ({med('dram__throughput.avg.pct_of_peak_sustained_elapsed'):.0f}% of peak),"
            f" L1->L2 reads {l2 * SECTOR / 1e6:6.1f} MB"
            f" ({pct(med('lts__t_sectors_srcunit_tex_op_read_lookup_hit.sum'), l2):.0f}% hit),"
            f" L1 load hits {pct(med('l1tex__t_sectors_pipe_lsu_mem_global_op_ld_lookup_hit.sum'), ld):.0f}%,"
            f" L2 {med('lts__throughput.avg.pct_of_peak_sustained_elapsed'):.0f}% of peak,"
            f" warps active {med('sm__warps_active.avg.pct_of_peak_sustained_active'):.0f}%")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("csv", nargs="?", help="ncu --csv --print-units base --metrics ... > FILE")
    ap.add_argument("--min-grid", type=int, default=256, help="leave out launches of fewer blocks (default 256)")
    ap.add_argument("--metrics", action="store_true", help="print the metrics to give ncu --metrics, and exit")
    args = ap.parse_args(argv)
    if args.metrics:
        print(",".join(METRICS))
        return 0
    if not args.csv:
        ap.error("give the file ncu's CSV was written to (or --metrics)")
    try:
        launches = read(args.csv)
    except OSError as e:
        raise SystemExit(f"{args.csv}: {e.strerror}: give the file ncu's CSV was written to")
    except ValueError as e:
        raise SystemExit(f"{args.csv}: {e}: run ncu with --csv --print-units base --metrics "
                         "\"$(python3 bench/ncu_memory.py --metrics)\"")
    found = runs(launches, args.min_grid)
    if not found:
        print(f"{args.csv}: no launch of {args.min_grid} blocks or more: profile the timed launches "
              "(a larger --launch-count) or lower --min-grid", file=sys.stderr)
        return 1
    try:
        lines = [line(name, grid, ms) for (name, grid), ms in found]
    except KeyError as e:
        raise SystemExit(f"{args.csv}: metric {e} missing: give ncu --metrics \"$(python3 bench/ncu_memory.py --metrics)\"")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
