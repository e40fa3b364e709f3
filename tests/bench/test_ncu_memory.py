"""bench/ncu_memory.py on metric tables written the way ncu --csv --print-units base writes them (one
row per launch and metric, the demangled kernel name, the program's own output mixed in), so that
its runs of launches and its medians are checked without a GPU or ncu."""
import csv
import importlib.util
import io
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
HEADER = ["ID", "Process ID", "Process Name", "Host Name", "Kernel Name", "Context", "Stream", "Block Size",
          "Grid Size", "Device", "CC", "Section Name", "Metric Name", "Metric Unit", "Metric Value"]


def load():
    spec = importlib.util.spec_from_file_location("ncu_memory", ROOT / "bench" / "ncu_memory.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def launch_metrics(mod, grid, us, l2_mb, dram_mb=67.1, ld_hits=0.0):
    """One launch's metrics: l2_mb of L1 -> L2 reads, half of them L2 hits; ld_hits of L1 load hits."""
    m = {name: 50.0 for name in mod.METRICS}
    m.update({"gpu__time_duration.sum": us * 1e3, "launch__grid_size": grid, "dram__bytes_read.sum": dram_mb * 1e6,
              "dram__bytes_write.sum": 2e6, "lts__t_sectors_srcunit_tex_op_read.sum": l2_mb * 1e6 / 32,
              "lts__t_sectors_srcunit_tex_op_read_lookup_hit.sum": l2_mb * 1e6 / 64,
              "l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum": 1000.0,
              "l1tex__t_sectors_pipe_lsu_mem_global_op_ld_lookup_hit.sum": 1000.0 * ld_hits})
    return m


def table(tmp_path, launches):
    """launches: [(kernel name, metrics)]; values as ncu writes them (thousands separated by commas)."""
    f = io.StringIO()
    f.write("==PROF== Connected to process 1806\nself-check: 0 failure(s)\ncopy 3024 GB/s, FP32 FMA 65.3 TFLOP/s\n")
    w = csv.writer(f, quoting=csv.QUOTE_ALL)
    w.writerow(HEADER)
    for i, (name, m) in enumerate(launches):
        for metric, value in m.items():
            w.writerow([str(i), "1806", "qlinear", "127.0.0.1", name, "1", "7", "(256, 1, 1)", "(512, 1, 1)", "0",
                        "9.0", "Command line profiler metrics", metric, "", f"{value:,.0f}"])
    p = tmp_path / "prof.csv"
    p.write_text(f.getvalue())
    return p


READ = "<unnamed>::read_only_kernel(const uint4 *, unsigned long, unsigned int *)"
DECODE = "void qlin_fwd_decode_kernel<2, 1, 2, 1>(QlinFwdArgs)"


def test_runs_of_one_kernel_and_grid_give_medians(tmp_path, capsys):
    mod = load()
    launches = [(DECODE, launch_metrics(mod, 3, 5.0, 0.1)),  # a self-check's small launch: left out
                (READ, launch_metrics(mod, 1056, 25.0, 67.1)), (READ, launch_metrics(mod, 1056, 26.0, 67.1)),
                (READ, launch_metrics(mod, 1056, 40.0, 67.1)),
                (READ, launch_metrics(mod, 528, 25.8, 67.1)),  # the same kernel at another grid: its own run
                (DECODE, launch_metrics(mod, 512, 26.7, 87.6, ld_hits=0.36)),
                (DECODE, launch_metrics(mod, 512, 26.9, 87.6, ld_hits=0.36))]
    p = table(tmp_path, launches)
    assert [(mod.short(n), g, len(ms)) for (n, g), ms in mod.runs(mod.read(p), 256)] == [
        ("read_only_kernel", 1056, 3), ("read_only_kernel", 528, 1), ("qlin_fwd_decode_kernel<2, 1, 2, 1>", 512, 2)]
    assert mod.main([str(p)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3
    assert out[0].startswith("read_only_kernel") and "( 3 launches):  26.00 us" in out[0]  # the median, not the mean
    assert "L1->L2 reads   67.1 MB (50% hit)" in out[0] and "L1 load hits 0%" in out[0]
    assert "grid  528" in out[1]
    assert "( 2 launches):  26.80 us" in out[2] and "L1->L2 reads   87.6 MB" in out[2] and "L1 load hits 36%" in out[2]


def test_what_cannot_be_read_says_what_to_run(tmp_path, capsys):
    mod = load()
    with pytest.raises(SystemExit, match="give the file ncu's CSV was written to"):
        mod.main([str(tmp_path / "missing.csv")])
    text = tmp_path / "plain.txt"
    text.write_text("self-check: 0 failure(s)\n")
    with pytest.raises(SystemExit, match="--print-units base --metrics"):
        mod.main([str(text)])
    m = launch_metrics(mod, 512, 26.7, 87.6)
    del m["dram__bytes_read.sum"]
    with pytest.raises(SystemExit, match="dram__bytes_read.sum"):
        mod.main([str(table(tmp_path, [(DECODE, m)]))])
    small = table(tmp_path, [(DECODE, launch_metrics(mod, 3, 5.0, 0.1))])
    assert mod.main([str(small)]) == 1
    assert "no launch of 256 blocks or more" in capsys.readouterr().err
    assert mod.main([str(small), "--min-grid", "1"]) == 0
