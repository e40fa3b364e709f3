# The test suite (included by the Makefile). `make test` builds the Criterion suites, the checker
# for every lab's skeleton and solution, and the planted wrong implementations, then runs the suites;
# on a machine without a GPU the CUDA tests skip with the reason.
#
# tests/test_*.c               Criterion suites: $(BUILD)/tests/test_*
# tests/grader/                the grader's pytest suite (a Python >= 3.11 with pytest: GRADER_PY, probed)
# tests/hints/                 `make hint` (scripts/hint.py) and every lab's hints.md, with the same pytest
# tests/browser/               the HTML pages in headless Chromium (tests/browser/chromium.py), with the
#                              same pytest; screenshots for a person to look at in $(BUILD)/tests/browser/
# tests/report/                `make report` (scripts/report.py) on hand-made build folders, with the same pytest
# tests/sanitize/              scripts/sanitize.py reading compute-sanitizer's reports (recorded), with the same pytest
# tests/bench/                 bench/torch_bench.py's GPU timer against a stand-in PyTorch (the L2 flush before each
#                              run), bench/ncu_stalls.py on hand-made ncu source pages and bench/ncu_memory.py on
#                              hand-made ncu metric tables, with the same pytest
# tests/docker/                the Dockerfile: hadolint (from PyPI, into $(BUILD)/tools/) and CI's build steps
# tests/slides/                `make slides` built, opened in headless Chromium, its PDFs paged and one rendered
# tests/dist/                  `make dist-student`: the student edition built, unpacked and used, with the same pytest
# tests/scripts/               the shell scripts (scripts/*.sh, .ci/run) through shellcheck at its warning level
# tests/planted/labN/<bug>.c   a deliberately wrong lab N implementation (CPU track), linked into
#                              its own checker $(BUILD)/tests/planted/labN/<bug>/em-check, whose
#                              diagnostics the suites assert on. <bug>.cu: the same for CUDA.

TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
PLANTED_SRC := $(wildcard tests/planted/lab*/*.c)
# Headers the planted files share (tests/planted/fingerprint.h ...): a change rebuilds them all.
PLANTED_H := $(wildcard tests/planted/*.h tests/planted/*.cuh tests/planted/lab*/*.h)
PLANTED_BIN := $(PLANTED_SRC:tests/planted/%.c=$(BUILD)/tests/planted/%/em-check)
ifeq ($(HAVE_CUDA),1)
PLANTED_CU := $(wildcard tests/planted/lab*/*.cu)
PLANTED_BIN += $(PLANTED_CU:tests/planted/%.cu=$(BUILD)/tests/planted/%.cu/em-check)
endif
TEST_LABS := $(foreach d,$(LAB_DIRS),$(call lab_num,$(d)))
TEST_LAB_BIN := $(foreach n,$(TEST_LABS),$(BUILD)/tests/skeleton/lab$(n)/em-check $(BUILD)/tests/solution/lab$(n)/em-check)

$(BUILD)/tests/test_%: tests/test_%.c $(wildcard tests/*.h) $(LIB) $(HARNESS) $(HEADERS) | deps
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(CPPFLAGS) -Iharness -Itests $(CFLAGS) -DEM_BUILD_DIR='"$(BUILD)"' $< -o $@ $(HARNESS) $(LIB) -lcriterion $(LDLIBS)

# tests/test_lab8_example.c runs lab 8's worked example.
$(BUILD)/tests/test_lab8_example: $(LAB8_EXAMPLE)

# The lab number of a planted file: tests/planted/lab1/x.c -> 1.
planted_lab = $(patsubst lab%,%,$(firstword $(subst /, ,$(1))))

$(BUILD)/tests/planted/%/student.o: tests/planted/%.c $(HEADERS) $(PLANTED_H) | deps
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(CPPFLAGS) $(STUDENT_CFLAGS) -c $< -o $@

$(BUILD)/tests/planted/%.cu/student.o: tests/planted/%.cu $(HEADERS) $(PLANTED_H)
	@mkdir -p $(@D)
	$(call say,NVCC,$<)
	$(Q)$(NVCC) $(CPPFLAGS) $(STUDENT_NVCCFLAGS) -c $< -o $@

$(BUILD)/tests/planted/%/em-check: $(BUILD)/tests/planted/%/student.o $(LIB) $(HARNESS) $(MAIN_OBJ)
	$(call LINK_CHECKER,$@,$(call planted_lab,$*),0,$<)

define TEST_LAB_RULES
$(BUILD)/tests/skeleton/lab$(1)/em-check: $(LIB) $(HARNESS) $(MAIN_OBJ) $$(LAB$(1)_OBJ)
	$$(call LINK_CHECKER,$$@,$(1),0,$$(LAB$(1)_OBJ))
$(BUILD)/tests/solution/lab$(1)/em-check: $(LIB) $(HARNESS) $(MAIN_OBJ)
	$$(call LINK_CHECKER,$$@,$(1),1,)
endef
$(foreach n,$(TEST_LABS),$(eval $(call TEST_LAB_RULES,$(n))))

# The planted objects are intermediate files of a pattern chain: keep them, or every run rebuilds.
.SECONDARY:

.PHONY: test test-build
test-build: $(LIB) $(HARNESS) $(TEST_BIN) $(PLANTED_BIN) $(TEST_LAB_BIN) $(BENCH_BIN)

# The grader's tests (tests/grader/, pytest) need a Python >= 3.11 that has pytest: the first of
# python3 on PATH (pyenv, a venv) and Debian's /usr/bin/python3 (python3-pytest) that does.
# GRADER_TEST_ARGS: extra pytest arguments (e.g. -k course). Deferred (=): probing imports pytest,
# which would slow every make run (the grader runs one per submission).
GRADER_PY = $(firstword $(foreach p,$(shell command -v python3) /usr/bin/python3,$(if $(shell $(p) -c 'import sys, pytest; assert sys.version_info >= (3, 11)' 2>/dev/null && echo y),$(p))))

# Every suite runs (one report shows all failures); any failing suite fails the target.
test: test-build | test-deps
	@status=0; for t in $(TEST_BIN); do echo "== $$t"; $$t $(TEST_ARGS) || status=1; done; \
	  echo "== tests/grader (pytest)"; \
	  if [ -n "$(GRADER_PY)" ]; then $(GRADER_PY) -m pytest -q tests/grader $(GRADER_TEST_ARGS) || status=1; \
	    echo "== tests/hints (pytest)"; $(GRADER_PY) -m pytest -q tests/hints || status=1; \
	    echo "== tests/browser (pytest, headless Chromium)"; \
	    EM_BROWSER_OUT=$(abspath $(BUILD))/tests/browser $(GRADER_PY) -m pytest -q -rs tests/browser || status=1; \
	    echo "== tests/report (pytest)"; $(GRADER_PY) -m pytest -q tests/report || status=1; \
	    echo "== tests/sanitize (pytest)"; $(GRADER_PY) -m pytest -q -p no:cacheprovider tests/sanitize || status=1; \
	    echo "== tests/bench (pytest)"; $(GRADER_PY) -m pytest -q -p no:cacheprovider tests/bench || status=1; \
	    echo "== tests/docker (pytest, hadolint)"; EM_TOOLS=$(abspath $(BUILD))/tools $(GRADER_PY) -m pytest -q -rs tests/docker || status=1; \
	    echo "== tests/slides (pytest: make slides, the decks in headless Chromium, the PDFs)"; EM_BROWSER_OUT=$(abspath $(BUILD))/tests/browser $(GRADER_PY) -m pytest -q -rs -p no:cacheprovider --basetemp=$(abspath $(BUILD))/tests/slides-tmp tests/slides || status=1; \
	    echo "== tests/dist (pytest, make dist-student)"; $(GRADER_PY) -m pytest -q -rs tests/dist || status=1; \
	    echo "== tests/scripts (pytest, shellcheck)"; $(GRADER_PY) -m pytest -q -rs -p no:cacheprovider tests/scripts || status=1; \
	  else echo "[emlab] the grader's tests need pytest for a Python >= 3.11: none of python3 ($$(command -v python3)) and /usr/bin/python3 has it; apt-get install python3-pytest (or make test-deps)" >&2; status=1; fi; \
	  if [ $$status = 0 ]; then echo "[emlab] all test suites passed"; else echo "[emlab] some tests failed (above)"; fi; exit $$status

# tests/test_sanitize.c: `make check SANITIZE=1` (scripts/sanitize.py) on lab 1's reference solution
# and on tests/planted/lab1/reads_one_past_end.c, in the sanitizer build (the Makefile's
# "sanitizers"). One second make run builds both, so that two never write $(SAN_BUILD)/libem.a at
# once; order-only, since that run decides itself what is out of date. A compiler without the
# sanitizer runtimes builds nothing here, and the suite's CPU tests skip saying so. Its CUDA tests
# use the planted checkers above, built as always (-lineinfo), under compute-sanitizer.
SAN_TEST_BIN := $(SAN_BUILD)/tests/solution/lab1/em-check $(SAN_BUILD)/tests/planted/lab1/reads_one_past_end/em-check
.PHONY: sanitize-test-build
sanitize-test-build:
	@if echo 'int main(void){return 0;}' | $(CC) -fsanitize=address,undefined -x c - -o /dev/null 2>/dev/null; then \
	  $(MAKE) $(SAN_ARGS) $(if $(filter 1,$(V)),,-s) $(SAN_TEST_BIN); \
	else echo "[emlab] $(CC) cannot link -fsanitize=address,undefined: the sanitizer tests of the CPU track will skip"; fi
$(BUILD)/tests/test_sanitize: | sanitize-test-build
