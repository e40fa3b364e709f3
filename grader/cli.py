"""python3 -m grader grade SUBMISSIONS... --out DIR [...],   python3 -m grader slurm SUBMISSIONS... --out DIR
[...],   python3 -m grader collect DIR,   python3 -m grader report DIR [--html FILE]   and   python3 -m grader course FILE."""
from __future__ import annotations

import argparse
import sys

from . import batch, course, report, slurm


def _positive(s: str) -> float:
    v = float(s)
    if not v > 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return v


def _grading_args(g: argparse.ArgumentParser) -> None:
    g.add_argument("submissions", nargs="+", help="archives (make submit's .tar.gz, or tar/zip), or folders of them")
    g.add_argument("--out", required=True, help="output folder: gradebook.csv/.json, journal.jsonl, submissions/, work/")
    g.add_argument("--hidden", help="the instructor's cases file (em-check --cases JSON, with its secret \"seed\")")
    g.add_argument("--hidden-only", action="store_true", help="run only the hidden file's cases, not the lab's built-in ones")
    g.add_argument("--seed", type=int, help="the secret seed (default: the hidden file's)")
    g.add_argument("--lab", type=int, help="grade every archive as lab N (default: manifest.json, else the file names)")
    g.add_argument("--track", choices=["cpu", "cuda", "all"], help="default: cpu without a GPU, all with one")
    g.add_argument("--jobs", type=int, default=1, help="submissions graded at once (a GPU track: at least one per GPU, see --gpus)")
    g.add_argument("--gpus", type=int, metavar="N",
                   help="GPU-track submissions timed at once, one per GPU (default: every visible GPU)")
    g.add_argument("--timeout", type=_positive, default=300.0, help="wall-clock seconds of one checker run (default 300)")
    g.add_argument("--config", help="scoring config JSON (weights, threshold, performance share): README.md, Grading")
    g.add_argument("--keep", action="store_true", help="keep each submission's work dir under OUT/work/")
    g.add_argument("--repo", help="the pristine emlab tree (default: the one this grader is in)")
    g.add_argument("--pristine", help="the pristine build folder (default OUT/pristine; made or brought up to date by make)")
    g.add_argument("--em-archive", help="the em-archive binary (default: built into the pristine build)")
    g.add_argument("--budget", type=_positive, help="em-check --budget: timing seconds per case, speed cases 5x (default 0.05)")
    g.add_argument("--threads", type=int, help="em-check --threads (default: all cores, divided by --jobs)")
    g.add_argument("--memory", type=int, default=8192, metavar="MB",
                   help="address-space limit of one checker run, CPU track (default 8192 MB; a GPU run is "
                        "not limited: CUDA reserves huge virtual ranges)")
    g.add_argument("--file-size", type=int, default=2048, metavar="MB",
                   help="largest file one checker run may write (default 2048 MB; its output tensors must fit: "
                        "past it the run is limit-exceeded)")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m grader", description="emlab's batch grader, its HTML report and course grades")
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("grade", help="grade submission archives into a gradebook")
    _grading_args(g)
    sl = sub.add_parser("slurm", help="grade on a Slurm cluster: an array job, a task per archive, then a collecting job")
    _grading_args(sl)
    sl.add_argument("--partition", help="sbatch --partition")
    sl.add_argument("--gres", help="sbatch --gres of each task, e.g. gpu:1 (a GPU track needs it)")
    sl.add_argument("--max-parallel", type=int, metavar="K", help="at most K tasks running at once (--array=...%%K)")
    sl.add_argument("--time", help="sbatch --time of each task (a task past it gets a timeout row)")
    sl.add_argument("--dry-run", action="store_true", help="print the two scripts, submit nothing")
    co = sub.add_parser("collect", help="a `grader slurm` batch's gradebook now (what its collecting job does)")
    co.add_argument("out", metavar="OUT")
    t = sub.add_parser("task", help=argparse.SUPPRESS)  # one array task of `grader slurm`
    t.add_argument("out", metavar="OUT")
    t.add_argument("index", type=int)
    r = sub.add_parser("report", help="an HTML gradebook (charts and a sortable table) of a grading folder")
    r.add_argument("out", metavar="OUT", help="the folder grade --out wrote (gradebook.json, submissions/)")
    r.add_argument("--html", metavar="FILE", help="write the page here (default OUT/report.html)")
    c = sub.add_parser("course", help="final course grades from component percentages")
    c.add_argument("file", help="CSV: student,homework,review,project (percentages 0-100)")
    c.add_argument("--gradebook", help="a grader gradebook.json: fills empty homework cells from the lab scores")
    c.add_argument("--out", help="write the grades CSV here (default: stdout)")
    a = p.parse_args(argv)
    if a.cmd == "report":
        return report.main(a.out, a.html)
    if a.cmd == "course":
        return course.main(a.file, a.out, a.gradebook)
    if a.cmd == "collect":
        return slurm.collect(a.out)
    if a.cmd == "task":
        return slurm.task(a.out, a.index)
    if a.jobs < 1:
        p.error("--jobs must be at least 1")
    if a.gpus is not None and a.gpus < 1:
        p.error("--gpus must be at least 1 (for no GPU at all: --track cpu)")
    if a.memory < 256:
        p.error("--memory must be at least 256 (MB): the checker's own buffers need that much")
    if a.file_size < 1:
        p.error("--file-size must be at least 1 (MB): every run writes its output tensors")
    o = batch.Options(
        submissions=a.submissions, out=a.out, hidden=a.hidden, seed=a.seed, lab=a.lab, track=a.track,
        jobs=a.jobs, timeout=a.timeout, config=a.config, keep=a.keep, repo=a.repo, em_archive=a.em_archive,
        budget=a.budget, threads=a.threads, pristine=a.pristine, hidden_only=a.hidden_only,
        memory_mb=a.memory, file_size_mb=a.file_size, gpus=a.gpus)
    if a.cmd == "slurm":
        if a.max_parallel is not None and a.max_parallel < 1:
            p.error("--max-parallel must be at least 1")
        return slurm.submit(o, slurm.SlurmOptions(a.partition, a.gres, a.max_parallel, a.time, a.dry_run))
    return batch.grade(o)


if __name__ == "__main__":
    sys.exit(main())
