"""bench/ncu_stalls.py on source pages written the way ncu writes them (a kernel-name row, then the
header, then one row per machine instruction), so that its blocks and shares are checked without a
GPU or ncu."""
import importlib.util
import io
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def load():
    spec = importlib.util.spec_from_file_location("ncu_stalls", ROOT / "bench" / "ncu_stalls.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


HEADER = ['"Address"', '"Source"', '"Instructions Executed"', '"stall_selected"', '"stall_not_selected"',
          '"stall_long_sb"', '"stall_dispatch"']


def page(tmp_path, rows, kernel="void k<(int)1>(Args)"):
    text = f'"Kernel Name","{kernel}",\n' + ",".join(HEADER) + "\n"
    for i, (src, ex, sel, ns, lsb, dis) in enumerate(rows):
        text += f'"0x{i * 16:x}","{src}","{ex}","{sel}","{ns}","{lsb}","{dis}"\n'
    p = tmp_path / "src.csv"
    p.write_text(text)
    return p


def test_blocks_are_runs_of_equal_execution_counts_ranked_by_samples(tmp_path):
    mod = load()
    # a loop body run 1,000 times (90 samples), then copies run 10 times that wait (110 samples)
    rows = [("FFMA R1, R2, R3, R1", "1,000", 30, 10, 0, 5), ("LDS.128 R4, [R5]", "1000", 20, 5, 0, 0),
            ("@!P0 BRA 0x10", "1000", 10, 10, 0, 0), ("MOV R52, R6", "10", 5, 5, 60, 0),
            ("LDGSTS.E.BYPASS.128 [R1], desc[UR8][R52.64]", "10", 5, 5, 30, 0)]
    kernel, parsed = mod.read(page(tmp_path, rows))
    assert kernel == "void k<(int)1>(Args)"
    assert mod.blocks(parsed) == [(0, 2), (3, 4)]
    assert [mod.opcode(r[0]) for r in parsed] == ["FFMA", "LDS", "BRA", "MOV", "LDGSTS"]
    out = io.StringIO()
    assert mod.report(kernel, parsed, top=5, out=out) == 0
    text = out.getvalue()
    assert "5 instructions, 200 warp samples" in text
    assert "all: long sb 45.0%, selected 35.0%, not selected 17.5%, dispatch 2.5%" in text  # largest first
    first, second = text.index("    3-4 "), text.index("    0-2 ")
    assert first < second, "the block with more samples comes first"
    assert "x10 " in text and "55.0%" in text and "[MOV 1 LDGSTS 1]" in text
    assert "long sb 81.8%" in text  # 90 of the copies' 110 samples


def test_a_page_without_samples_or_header_is_refused_with_what_to_run(tmp_path):
    mod = load()
    p = tmp_path / "details.txt"
    p.write_text("  Section: GPU Speed Of Light Throughput\n")
    with pytest.raises(SystemExit, match="--page source --csv"):
        mod.read(p)
    q = tmp_path / "nosamples.csv"
    q.write_text('"Kernel Name","k",\n"Address","Source","Instructions Executed"\n"0x0","NOP","1"\n')
    with pytest.raises(SystemExit, match="SourceCounters"):
        mod.read(q)
    with pytest.raises(SystemExit, match="give the file"):
        mod.main([str(tmp_path / "missing.csv")])


def test_a_page_whose_samples_are_all_zero_fails_and_says_why(tmp_path, capsys):
    mod = load()
    p = page(tmp_path, [("FFMA R1, R2, R3, R1", "10", 0, 0, 0, 0)])
    assert mod.main([str(p)]) == 1
    assert "no warp samples" in capsys.readouterr().err


SASS = """
	code for sm_90
		Function : _Z5otherv
	.headerflags	@"EF_CUDA_SM90 EF_CUDA_VIRTUAL_SM(EF_CUDA_SM90)"
        /*0000*/                   NOP ;                                      /* 0x0000000000007918 */
		Function : _Z1kv
	.headerflags	@"EF_CUDA_SM90 EF_CUDA_VIRTUAL_SM(EF_CUDA_SM90)"
        /*0000*/                   FFMA R1, R2.reuse, R3, R1 ;                /* 0x0000000302017223 */
        /*0010*/                   FFMA R4, R2, R5, R4 ;                      /* 0x0000000502047223 */
        /*0020*/                   FFMA R6, R7, R8.reuse, R6 ;                /* 0x0000000807067223 */
        /*0030*/                   FFMA R9, R10, R11, R9 ;                    /* 0x0000000b0a097223 */
        /*0040*/                   FFMA R12, R12, R12, RZ ;                   /* 0x0000000c0c0c7223 */
        /*0050*/               @!P0 BRA 0x10 ;                                /* 0x0000000000008947 */
"""


def test_sass_gives_each_ffma_its_register_file_reads(tmp_path):
    mod = load()
    rows = [("FFMA R1, R2, R3, R1", "100", 10, 0, 0, 4), ("FFMA R4, R2, R5, R4", "100", 10, 0, 0, 2),
            ("FFMA R6, R7, R8, R6", "100", 10, 0, 0, 6), ("FFMA R9, R10, R11, R9", "100", 10, 0, 0, 8),
            ("FFMA R12, R12, R12, RZ", "100", 10, 0, 0, 0), ("@!P0 BRA 0x7f0000000010", "100", 5, 0, 0, 0)]
    p = page(tmp_path, rows, kernel="void k()")
    s = tmp_path / "k.sass"
    s.write_text(SASS)
    kernel, parsed = mod.read(p)
    name, code = mod.match_sass(parsed, mod.sass_functions(s))
    assert name == "_Z1kv" and len(code) == 6
    # R2 reused into the second FFMA's first slot; R8 marked but the next FFMA reads R11 there;
    # the same register in several slots is read once; RZ is no register read.
    assert mod.register_reads(code) == [3, 2, 3, 3, 1, None]
    out = io.StringIO()
    assert mod.report(kernel, parsed, top=3, out=out, reads=mod.register_reads(code)) == 0
    text = out.getvalue()
    assert "1 reads: 1 (0 dispatch samples each), 2 reads: 1 (2 dispatch samples each), " \
           "3 reads: 3 (6 dispatch samples each)" in text
    assert mod.main([str(p), "--sass", str(s)]) == 0
    t = tmp_path / "wrong.sass"
    t.write_text(SASS.replace("_Z1kv", "_Z1jv").replace("        /*0050*/               @!P0 BRA 0x10 ;", ""))
    with pytest.raises(SystemExit, match="disassemble the binary that was profiled"):
        mod.main([str(p), "--sass", str(t)])
