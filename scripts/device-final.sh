#!/usr/bin/env bash
# One call on the GPU machine for what the last merge added: lab 4 on both tracks, its skeleton and
# the sanitizer, the lab 4 and lab 6 suites (GPU tests), then make bench for every lab.
set -uo pipefail
out=${OUT:-device-out}; mkdir -p "$out"
[ -d .debs ] && source scripts/use-debs.sh
j=$(nproc)
make -j$j build/demo/em-check test-build >"$out/build.log" 2>&1 || { tail -20 "$out/build.log"; exit 2; }
echo "=== lab 4 reference, both tracks"
build/demo/em-check --lab 4 --json "$out/lab4.json" > "$out/lab4.txt" 2>&1; echo "exit $?"
grep -E "perf|passed|fail" "$out/lab4.txt" | head
echo "=== lab 4 skeleton (CUDA) and sanitizer"
make -j$j lab4 >/dev/null 2>&1; make check TRACK=cuda ARGS=--no-timing >/dev/null 2>&1; echo "skeleton exit $? (want 1)"
compute-sanitizer --tool memcheck --error-exitcode 9 build/demo/em-check --lab 4 --track cuda --no-timing --json /tmp/s.json 2>&1 | grep "ERROR SUMMARY"
echo "=== lab 4 and lab 6 suites"
for t in test_lab4 test_lab6; do build/tests/$t > "$out/$t.txt" 2>&1; echo "$t exit $?"; grep -E "Synthesis|\[FAIL\]" "$out/$t.txt"; grep -A12 "Assertion" "$out/$t.txt" | head -40; done
echo "=== make bench"
make bench BENCH_ARGS="--compile-budget 60 --budget 0.3" > "$out/bench.txt" 2>&1; echo "bench exit $?"
sed -n '/^track /,$p' "$out/bench.txt"
cp build/bench/bench.json build/bench/results.json "$out/" 2>/dev/null
