#!/usr/bin/env bash
# `make dist-student`: the course repository students get, build/dist/emlab-student-<version>.tar.gz,
# packed by build/em-archive. It holds the labs, the headers, the harness, the oracles and
# reference/core as sources, and the reference library prebuilt (lib/libem-cuda.a: CUDA objects for
# sm_80 and sm_90; lib/libem-cpu.a: for machines without nvcc), so the solutions are there compiled
# (the checker times against them) but their sources are not. A file `edition` holding "student"
# tells the shipped Makefile to link lib/ instead of building reference/.
#
# What goes in is an allowlist over the files git knows (tracked, or new and not ignored): a stray
# file in the tree is never shipped. A denylist then checks the staged tree again, so a later change
# to the allowlist cannot ship a solution source unnoticed. Exit 0 written, 2 anything else.
set -euo pipefail
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}

die() { echo "[emlab] dist-student: $*" >&2; exit 2; }

version=$(sed -n 's/^#define EM_VERSION "\(.*\)"$/\1/p' include/em/version.h)
[ -n "$version" ] || die "no EM_VERSION in include/em/version.h: the edition is named after it"
name=emlab-student-$version
dist=build/dist
out=$dist/$name.tar.gz
stage=$dist/stage

[ "$(uname -m)" = x86_64 ] || die "the prebuilt libem.a is for x86-64 and this machine is $(uname -m): build the edition on x86-64"
nvcc=$(command -v nvcc || true)
[ -n "$nvcc" ] || [ -x /usr/local/cuda/bin/nvcc ] ||
  die "nvcc not found: the edition's libem-cuda.a needs the CUDA toolkit to build (put nvcc on PATH)"

# The library students link: x86-64-v3 (AVX2 and FMA: any x86-64 since 2013) instead of the
# maintainers' -march=native, which would only run on a CPU like this one. Lab 8's CPU kernels pick
# AVX-512 at run time where the CPU has it (reference/cpu/qlinear_isa.h). The CUDA objects are SASS
# for the course's A100 (sm_80) and H200 (sm_90), plus compute_90 PTX that newer GPUs compile when
# loading. CI=1: the GPU of this machine is not asked (there may be none; the targets are fixed).
opt="-O3 -march=x86-64-v3"
# GCC warns (-Wpsabi) that reference/cpu's 64-byte vector helpers pass arguments differently
# without AVX-512; they are static inline, never called across objects, so the ABI note is moot.
warn="-Wall -Wextra -Werror -Wno-format-truncation -Wno-psabi"
gencode="-gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=[sm_90,compute_90]"
echo "[emlab] dist-student: libem.a with CUDA (sm_80, sm_90) and without, for x86-64-v3"
# NVCC_LINEINFO= : no line tables in the GPU code. strip --strip-debug (below) cannot reach them
# inside the fat binaries, they would name the solutions' source lines, and with them the library
# outgrew the 16 MiB that em-archive packs in one file.
$MAKE --no-print-directory lib BUILD=$dist/lib-cuda OPT="$opt" WARN="$warn" CUDA_GENCODE="$gencode" \
  NVCC_LINEINFO= CI=1 ||
  die "the CUDA library did not build (above): fix it, then make dist-student again"
$MAKE --no-print-directory lib BUILD=$dist/lib-cpu OPT="$opt" WARN="$warn" NO_CUDA=1 CI=1 ||
  die "the CPU library did not build (above): fix it, then make dist-student again"

# ---- what ships ----------------------------------------------------------------------------------
# The student's tree, the harness they build, and what the student commands run (make deps, hint,
# report, bench's PyTorch side, the grid-order model of lab 7's README, the ncu stall summary). Not
# shipped: reference/cpu, cuda, naive (the solutions), bench/*.cu, *.h and *_cpu.c (they include the
# solutions' kernels or variants of them), tests/ (planted wrong code, and suites that build the solutions), grader/
# (instructors'), the device scripts, BENCHMARKS.md (the reference's design in numbers, for after
# the course).
ships() {
  case $1 in
    Makefile | include/em/*.h | harness/*.c | harness/*.h | harness/specs/*) return 0 ;;
    reference/core/* | reference/oracle/*) return 0 ;;
    labs/lab[0-9]*/*) return 0 ;;
    scripts/install-deps.sh | scripts/hint.py | scripts/report.py | bench/torch_bench.py) return 0 ;;
    bench/attention_grid_order.py) return 0 ;;  # the model lab 7's README runs; no solution in it
    bench/ncu_stalls.py) return 0 ;;            # where a kernel's warps wait, from ncu; no solution in it
  esac
  return 1
}
# Never, whatever ships() says.
forbidden() {
  case $1 in
    reference/cpu/* | reference/cuda/* | reference/naive/* | tests/* | grader/*) return 0 ;;
    bench/*.cu | bench/*.cuh | bench/*.h | bench/*_cpu.c) return 0 ;;  # kernels of the solutions, or their variants
  esac
  return 1
}

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files --cached --others --exclude-standard | sort)
else
  mapfile -t files < <(find . -type f ! -path './build/*' ! -path './.git/*' | sed 's|^\./||' | sort)
fi

rm -rf "$stage" "$out"
root=$stage/$name
mkdir -p "$root/lib" "$root/.github/workflows"
shipped=0
for f in "${files[@]}"; do
  [ -f "$f" ] || continue # deleted in the work tree, still in the index
  ships "$f" || continue
  mkdir -p "$root/$(dirname "$f")"
  cp -p "$f" "$root/$f"
  shipped=$((shipped + 1))
done
# The lab pages name the reference solutions' files where they teach their design; this edition
# leaves those sources out, so each such page says so under its title (hint.py reads only the
# "## ... track" sections, so the line under the title changes no hint).
note='> The reference solutions'"'"' sources that this page names (`reference/cpu`, `reference/cuda`, `reference/naive`) are not in the student edition: what they do is described here, and the checker times your code against them, prebuilt in `lib/`.'
for f in "$root"/labs/lab*/README.md "$root"/labs/lab*/hints.md; do
  [ -f "$f" ] && grep -qE 'reference/(cpu|cuda|naive)/' "$f" || continue
  awk -v note="$note" 'NR == 1 { print; print ""; print note; next } { print }' "$f" >"$f.tmp" && mv "$f.tmp" "$f" ||
    die "could not add the edition note to $f"
done
# The student README: dist/student/README.md, each "<!-- README.md: ## Title -->" line replaced by
# that section of the maintainers' README.md, so the student guide is written once.
awk '
  FNR == NR { if (/^## /) sec = $0; if (sec != "") body[sec] = body[sec] $0 "\n"; next }
  /^<!-- README.md: ## .* -->$/ { t = $0; sub(/^<!-- README.md: /, "", t); sub(/ -->$/, "", t)
    if (!(t in body)) { print "no section \"" t "\" in README.md" > "/dev/stderr"; exit 3 }
    printf "%s", body[t]; next }
  { print }' README.md dist/student/README.md > "$root/README.md" ||
  die "dist/student/README.md names a section README.md does not have (above)"
touch -r dist/student/README.md "$root/README.md"
cp -p dist/student/gitignore "$root/.gitignore"
cp -p dist/student/.github/workflows/check.yml "$root/.github/workflows/check.yml"
echo student > "$root/edition"
# Debug sections only: they name the solutions' source lines but hold no source, and are most of
# the bytes. The symbols stay: the checker links against them.
for v in cuda cpu; do
  cp "$dist/lib-$v/libem.a" "$root/lib/libem-$v.a"
  strip --strip-debug "$root/lib/libem-$v.a"
done

while IFS= read -r f; do
  forbidden "${f#"$root/"}" && die "${f#"$root/"} is a solution or maintainers' file and must not ship: fix ships() in $0"
done < <(find "$root" -type f)

build/em-archive pack "$out" --root "$stage" "$name" >/dev/null ||
  die "em-archive could not pack $stage/$name (above)"
echo "[emlab] dist-student: $out ($shipped source files, $(du -k "$out" | cut -f1) KiB): unpack it, then  make lab1 && make check"
