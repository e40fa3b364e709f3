# What scripts/device-lab7.sh and device-lab8.sh share, sourced by both: the step banner, the step
# filter, a compute-sanitizer run, and the checker step (the reference solution's CUDA track timed,
# then the lab's suite). Each script sets out (the evidence folder), steps and status first.

step() { echo; echo "=== $*"; }
want() { [[ " $steps " == *" $1 "* ]]; }

# san tool log-name [sanitizer options] command...: one compute-sanitizer run, its summary line
# printed and the whole report kept in $out; a finding makes the script's status 1.
san() {
  local tool=$1 log=$2
  shift 2
  compute-sanitizer --tool "$tool" --error-exitcode 9 "$@" >"$out/sanitizer-$log.txt" 2>&1
  local st=$?
  echo "$tool $log: exit $st ($(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/sanitizer-$log.txt" | tail -1))"
  [ $st -ne 0 ] && status=1
}

# checker_step N: lab N's reference solution through em-check on the CUDA track, timed, and the
# suite's tests of lab N (its CUDA planted files, the skeleton).
checker_step() {
  local n=$1 st
  step "em-check: lab $n's reference solution, CUDA track, timed"
  make -j"$(nproc)" lab"$n" SOLUTION=1 >>"$out/build.log" 2>&1 || { echo "make lab$n SOLUTION=1 failed"; status=1; }
  build/lab"$n"/em-check --track cuda --color never --json "$out/lab$n-solution.json" >"$out/lab$n-solution.txt" 2>&1
  st=$?
  echo "solution exit: $st (want 0)"
  [ $st -ne 0 ] && status=1
  tail -25 "$out/lab$n-solution.txt"
  step "the suite's lab $n tests"
  make -j"$(nproc)" test-build >>"$out/build.log" 2>&1
  build/tests/test_lab"$n" -j1 >"$out/test_lab$n.txt" 2>&1
  st=$?
  echo "test_lab$n exit: $st (want 0)"
  [ $st -ne 0 ] && status=1
  grep -aE "FAIL|Synthesis|SKIP" "$out/test_lab$n.txt" | head -20
}
