# emlab — every command of the course: labs, checks, the demo, the test suite.
#
#   make demo                 every lab's reference solution through the checker (installs what is missing)
#   make test                 the test suite (installs what is missing)
#   make labN [SOLUTION=1]    build lab N from labs/labN-*/ (or the reference solution in its place)
#   make check [LAB=N] [TRACK=cpu|cuda|all] [SEED=S] [ARGS="--case n=1 ..."]
#                             check the lab built last (exit 0 all passed, 1 some failed, 2 error)
#   make labN SANITIZE=1 && make check SANITIZE=1
#                             the same cases under sanitizers, untimed: the CPU track built again with
#                             AddressSanitizer and UBSan (in BUILD/sanitize/), the CUDA track under
#                             compute-sanitizer; a summary of the findings, logs in BUILD/sanitize/labN/
#   make submit [LAB=N] [USER=name]  check, then pack the lab's files into submissions/ (prints the claimed score)
#   make report               one HTML page of every lab checked so far: roofline, cases, progress (build/report.html)
#   make hint [LAB=N] [PART=a|b] [TRACK=cpu|cuda]
#                             the lab's next hint, one at a time, the last one the reference's design;
#                             AGAIN=1 the latest again, HINT=K an earlier one, RESET=1 start over
#   make bench [LAB=N]        the reference solutions at large sizes, beside PyTorch where it is installed
#   make lab8-example [ARGS="--steps N"]  lab 8's worked example: a small model trained with int8 and float32
#                             layers side by side; losses, time per step, bytes (build/lab8-example/loss.csv, .svg)
#   make slides [BENCH_JSON=build/bench/results.json]  the lecture and lab slides, HTML and PDF, offline
#                             (build/slides/); figures from the committed bench snapshot or BENCH_JSON
#   make dist-student         the course repository for students: build/dist/emlab-student-<version>.tar.gz
#   make deps                 install the build dependencies (Debian/Ubuntu, as root); make test-deps: the tests' too
#   make clean
#
# Opt-outs: NO_CUDA=1 (CPU track only even where nvcc exists), NO_OMP=1 (no OpenMP).
# Knobs: CUDA_ARCH=sm_80 (default: the GPU's own, else sm_90), BUILD=dir, LABS=dir, V=1 (every command
# in full instead of one line per file).
#
# Out-of-tree build (the grader, once per submission):
#   make labN LABS=<dir holding labN-name/> BUILD=<scratch dir> PREBUILT=<a pristine build dir>
# compiles only the student files of <dir>/labN-name/ (the names the pristine labs/labN-name/ has)
# into BUILD/labN/student/ and links BUILD/labN/em-check against PREBUILT's libem.a, harness
# objects and main.o. Nothing is written outside BUILD (the source tree and PREBUILT may be
# read-only); the dependency check is skipped; PREBUILT must have been built with the same
# configuration (NO_CUDA, NO_OMP, CC, CUDA_ARCH), which is checked against its config.mk.

.DEFAULT_GOAL := all
SHELL := /bin/bash

BUILD ?= build
LABS ?= labs
SOLUTION ?= 0
CC ?= gcc
CXX ?= g++
ifeq ($(origin CC),default)
CC := gcc
endif
ifeq ($(origin CXX),default)
CXX := g++
endif

# The student edition (`make dist-student`, scripts/dist-student.sh) ships this Makefile with a file
# `edition` that holds "student" and libem.a prebuilt in lib/: the solutions compiled, their
# sources left out. There the library is linked as it is, never built, and SOLUTION=1 is refused.
EDITION := $(if $(wildcard edition),$(strip $(file < edition)))
ifeq ($(EDITION)$(SOLUTION),student1)
$(error this is the student edition: the reference solutions are compiled into libem.a, their sources are not here. Build your own code:  make lab1 && make check)
endif

# Goals that only read what is built, or only delete: no probes, no dependency checks.
QUIET_GOALS := check clean help hint report slides
LOUD := $(filter-out $(QUIET_GOALS),$(or $(MAKECMDGOALS),all))

# ---- feature probes ----------------------------------------------------------------------------
# Each probe says what it found, once per make run, so a student knows which tracks will exist.

ifneq ($(NO_OMP),1)
HAVE_OMP := $(shell echo 'int main(void){return 0;}' | $(CC) -fopenmp -x c - -o /dev/null 2>/dev/null && echo 1)
endif
ifeq ($(HAVE_OMP),1)
OMPFLAGS := -fopenmp
OMP_MSG := OpenMP found ($(CC) -fopenmp)
else
OMPFLAGS := -Wno-unknown-pragmas
OMP_MSG := OpenMP not used$(if $(filter 1,$(NO_OMP)), (NO_OMP=1),: $(CC) -fopenmp failed) - CPU code runs on one thread
endif

CUDA_HOME ?= $(or $(patsubst %/bin/nvcc,%,$(shell command -v nvcc 2>/dev/null)),/usr/local/cuda)
NVCC ?= $(CUDA_HOME)/bin/nvcc
ifneq ($(NO_CUDA),1)
HAVE_CUDA := $(shell test -x $(NVCC) && echo 1 || echo 0)
else
HAVE_CUDA := 0
endif
ifeq ($(HAVE_CUDA),1)
NVCC_VERSION := $(shell $(NVCC) --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')
# Build for the GPU that is here; without one (CI, a laptop), for the course's H200 (sm_90).
# In CI never ask the driver: there is none, and nvidia-smi may hang looking for it.
ifeq ($(CI),)
GPU_CC := $(shell timeout 10 nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
GPU_NAME := $(shell timeout 10 nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
endif
CUDA_ARCH ?= $(if $(GPU_CC),sm_$(GPU_CC),sm_90)
CUDA_MSG := nvcc $(NVCC_VERSION) found ($(NVCC)), building for $(CUDA_ARCH)
GPU_MSG := $(if $(GPU_NAME),GPU found: $(GPU_NAME),no GPU found$(if $(CI), (not probed in CI)) - the CUDA track compiles and is reported as skipped)
else
HAVE_CUDA := 0
CUDA_MSG := nvcc not found$(if $(filter 1,$(NO_CUDA)), (NO_CUDA=1)) - CPU track only; the CUDA track is reported as skipped
GPU_MSG :=
endif

# EM_ASAN=1: the sanitizer build, which `make labN SANITIZE=1` makes by running this Makefile again
# with BUILD=$(BUILD)/sanitize NO_CUDA=1 (see "sanitizers" below); nobody sets it by hand.
ifeq ($(EM_ASAN),1)
ifeq ($(shell echo 'int main(void){return 0;}' | $(CC) -fsanitize=address,undefined -x c - -o /dev/null 2>/dev/null && echo 1),)
$(error $(CC) cannot link with -fsanitize=address,undefined: install its sanitizer runtimes (Debian/Ubuntu: apt-get install libasan8 libubsan1, which gcc 12 normally brings), or drop SANITIZE=1)
endif
CUDA_MSG := sanitizer build in $(BUILD): the CPU track with AddressSanitizer and UBSan (-O1); the CUDA track runs under compute-sanitizer with the normal build
GPU_MSG :=
endif

ifneq ($(LOUD),)
$(info [emlab] $(OMP_MSG))
$(info [emlab] $(CUDA_MSG))
$(if $(GPU_MSG),$(info [emlab] $(GPU_MSG)))
endif

# ---- flags ---------------------------------------------------------------------------------------
# Our code: warnings are errors. -Wno-format-truncation: every message goes through snprintf into
# a fixed buffer, where truncating a long message is the intended behaviour, not a bug.
OPT := -O3 -march=native
WARN := -Wall -Wextra -Werror -Wno-format-truncation
CPPFLAGS := -Iinclude -D_GNU_SOURCE -DEM_HAVE_CUDA=$(HAVE_CUDA)
ifeq ($(EM_ASAN),1)
# Every object of the sanitizer build, the library's and the student's alike (OPT is in both flag
# sets): -O1 keeps the reports' lines true to the source and runs a few times faster than -O0;
# -march=native stays, for code with intrinsics; -fno-sanitize-recover=undefined stops at the first
# UB as ASan does at the first bad access. EM_SANITIZE: allocations of exactly the asked size
# (reference/core/memory.c) and ASan's own crash reports (harness/check.c).
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
OPT := -O1 -march=native $(SAN_FLAGS)
CPPFLAGS += -DEM_SANITIZE=1
endif
CFLAGS := -std=c11 $(OPT) $(OMPFLAGS) $(WARN) -g
# Student code: the same optimisation, warnings shown but not fatal (a student's unused variable
# must not stop the check).
STUDENT_CFLAGS := -std=c11 $(OPT) $(OMPFLAGS) -Wall -Wextra -g
# CUDA_GENCODE: the library's targets; the student edition's prebuilt libem.a holds several.
CUDA_GENCODE ?= -arch=$(CUDA_ARCH)
# NVCC_LINEINFO: the kernels' file and line in compute-sanitizer's and Nsight's reports. The student
# edition's prebuilt library leaves it out (scripts/dist-student.sh): its lines would be those of
# reference sources the edition does not ship, and they were 64% of its bytes (17.3 MB to 6.2).
NVCC_LINEINFO ?= -lineinfo
# -Werror all-warnings: nvcc's own front end (an unused variable in device code, a narrowing it
# sees) fails the build as the host compiler's warnings do.
NVCCFLAGS := -std=c++17 -O3 $(CUDA_GENCODE) $(NVCC_LINEINFO) -Werror all-warnings \
  -Xcompiler -Wall,-Wextra,-Werror,-Wno-format-truncation
STUDENT_NVCCFLAGS := -std=c++17 -O3 -arch=$(CUDA_ARCH) -lineinfo -Xcompiler -Wall,-Wextra
LDLIBS := -ljansson -ldl -lm $(OMPFLAGS) $(SAN_FLAGS)
ifeq ($(HAVE_CUDA),1)
# The static CUDA runtime: binaries run wherever a driver is, with no library path to set.
LDLIBS += -L$(CUDA_HOME)/lib64 -L$(CUDA_HOME)/targets/x86_64-linux/lib -lcudart_static -lrt -lpthread -lstdc++
LINK := $(CXX)
else
LINK := $(CC)
endif

# ---- what a build prints -------------------------------------------------------------------------
# One short line per file ("  CC     reference/cpu/add.c"); V=1 prints every command in full. The
# compilers' own warnings and errors are shown either way.
Q = $(if $(filter 1,$(V)),,@)
say = $(if $(filter 1,$(V)),,@printf '  %-6s %s\n' '$(1)' '$(2)')

# ---- libem.a -------------------------------------------------------------------------------------
LIB_C := $(wildcard reference/core/*.c reference/oracle/*.c reference/cpu/*.c reference/naive/*.c)
LIB_CU := $(wildcard reference/core/*.cu reference/cuda/*.cu reference/naive/*.cu)
ifeq ($(HAVE_CUDA),1)
LIB_C := $(filter-out reference/core/cuda_none.c,$(LIB_C))
LIB_OBJ := $(LIB_C:%.c=$(BUILD)/obj/%.o) $(LIB_CU:%.cu=$(BUILD)/obj/%.cu.o)
else
LIB_OBJ := $(LIB_C:%.c=$(BUILD)/obj/%.o)
endif
LIB := $(BUILD)/libem.a
ifeq ($(EDITION),student)
# The CPU-only library where there is no nvcc (or NO_CUDA=1): it needs no CUDA runtime to link.
LIB := lib/$(if $(filter 1,$(HAVE_CUDA)),libem-cuda.a,libem-cpu.a)
LIB_OBJ :=
ifneq ($(LOUD),)
$(if $(filter x86_64,$(shell uname -m)),,$(error the student edition's libem.a is built for x86-64, this machine is $(shell uname -m): use an x86-64 machine (or the course's image)))
$(if $(wildcard $(LIB)),,$(error $(LIB) is missing: this edition is incomplete; unpack the course archive again))
endif
endif

HARNESS_C := $(filter-out harness/candidate.c harness/main.c harness/archive%,$(wildcard harness/*.c harness/specs/*.c))
HARNESS_OBJ := $(HARNESS_C:%.c=$(BUILD)/obj/%.o)
HARNESS := $(BUILD)/libemharness.a
MAIN_OBJ := $(BUILD)/obj/harness/main.o
HEADERS := $(wildcard include/em/*.h harness/*.h)

# PREBUILT=dir: the library, the harness and main.o are a pristine build's, used as they are. They
# get no rules below (make must never decide to rebuild them into a tree it may not write), and
# the dependency check (which may run apt-get) is not this build's business.
ifneq ($(PREBUILT),)
LIB := $(PREBUILT)/libem.a
HARNESS := $(PREBUILT)/libemharness.a
MAIN_OBJ := $(PREBUILT)/obj/harness/main.o
DEPS :=
else
DEPS := deps
endif

# The probes' outcome: objects rebuild when it changes (nvcc installed, NO_OMP toggled).
CONFIG := $(BUILD)/config.mk
CONFIG_NOW := HAVE_CUDA=$(HAVE_CUDA) HAVE_OMP=$(HAVE_OMP) CUDA_ARCH=$(CUDA_ARCH) CC=$(CC) OPT=$(OPT)
ifneq ($(LOUD),)
ifneq ($(shell cat $(CONFIG) 2>/dev/null),$(CONFIG_NOW))
$(shell mkdir -p $(BUILD) && echo '$(CONFIG_NOW)' > $(CONFIG))
endif
ifneq ($(PREBUILT),)
# Student objects built with another configuration than the library would not link, or worse,
# link and disagree (EM_HAVE_CUDA): say so before compiling anything.
PREBUILT_CONFIG := $(shell cat $(PREBUILT)/config.mk 2>/dev/null)
$(if $(and $(wildcard $(LIB)),$(wildcard $(HARNESS)),$(wildcard $(MAIN_OBJ)),$(PREBUILT_CONFIG)),,$(error PREBUILT=$(PREBUILT) is not a complete build (libem.a, libemharness.a, obj/harness/main.o, config.mk): build them in the pristine tree first, e.g.  make lab1 SOLUTION=1 BUILD=$(PREBUILT)))
$(if $(filter-out $(PREBUILT_CONFIG),$(CONFIG_NOW))$(filter-out $(CONFIG_NOW),$(PREBUILT_CONFIG)),$(error PREBUILT=$(PREBUILT) was built with [$(PREBUILT_CONFIG)], this build would use [$(CONFIG_NOW)]: pass the same NO_CUDA / NO_OMP / CC / CUDA_ARCH))
endif
endif

.PHONY: all lib deps test-deps demo test check clean help
all: $(LIB) $(HARNESS)
lib: $(LIB)

# reference/cpu/*.h: what the CPU references share (stream.h: streaming stores; expf.h: the exp).
$(BUILD)/obj/%.o: %.c $(HEADERS) $(wildcard reference/cpu/*.h) $(CONFIG) | deps
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# The naive baselines show what one plain scalar thread does: no auto-vectorisation for them.
$(BUILD)/obj/reference/naive/%.o: reference/naive/%.c $(HEADERS) $(CONFIG) | deps
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -fno-tree-vectorize -c $< -o $@

$(BUILD)/obj/%.cu.o: %.cu $(HEADERS) $(CONFIG)
	@mkdir -p $(@D)
	$(call say,NVCC,$<)
	$(Q)$(NVCC) $(CPPFLAGS) $(NVCCFLAGS) -c $< -o $@

# reference/cuda/<name>_sm90a.cu: Hopper's arch-specific kernels (wgmma), compiled for sm_90a alone
# whatever CUDA_GENCODE says, so that they exist only as code that can run them (compute capability
# 9.0); the library calls them there and falls back elsewhere (reference/cuda/mma.cuh).
SM90A_GENCODE := -gencode arch=compute_90a,code=sm_90a
$(BUILD)/obj/reference/cuda/%_sm90a.cu.o: reference/cuda/%_sm90a.cu reference/cuda/%_kernels.cuh reference/cuda/mma.cuh \
  $(HEADERS) $(CONFIG)
	@mkdir -p $(@D)
	$(call say,NVCC,$< (sm_90a))
	$(Q)$(NVCC) $(CPPFLAGS) $(filter-out $(CUDA_GENCODE),$(NVCCFLAGS)) $(SM90A_GENCODE) -c $< -o $@

ifeq ($(PREBUILT)$(EDITION),)
$(LIB): $(LIB_OBJ)
	@rm -f $@
	$(call say,AR,$@)
	$(Q)ar rcs $@ $^
endif

ifeq ($(PREBUILT),)
$(HARNESS): $(HARNESS_OBJ)
	@rm -f $@
	$(call say,AR,$@)
	$(Q)ar rcs $@ $^
endif

# ---- checker binaries ----------------------------------------------------------------------------
# $(call LINK_CHECKER,binary,lab number (0: all),solution (0/1),student objects): the checker's
# main, the candidate switch (harness/candidate.c) and the code under test, against libem.
define LINK_CHECKER
@mkdir -p $(dir $(1))
@$(CC) $(CPPFLAGS) $(CFLAGS) -DEM_LAB=$(2) -DEM_SOLUTION=$(3) -c harness/candidate.c -o $(dir $(1))candidate.o
$(call say,LINK,$(1))
$(Q)$(LINK) -o $(1) $(MAIN_OBJ) $(dir $(1))candidate.o $(4) $(HARNESS) $(LIB) $(LDLIBS)
endef

# ---- sanitizers ----------------------------------------------------------------------------------
# SANITIZE=1 (`make labN SANITIZE=1`, then `make check SANITIZE=1`): the lab is built as always and
# once more in $(BUILD)/sanitize/ by this Makefile run again (EM_ASAN=1 above): its own libem.a,
# harness and student objects, every one with AddressSanitizer and UBSan. That build has no CUDA
# (NO_CUDA=1): the CUDA runtime maps memory where ASan keeps its shadow, and ASan's reports would be
# about the driver. The CUDA track is checked instead by running the normal build's em-check under
# compute-sanitizer, whose reports carry file and line since every kernel is compiled -lineinfo
# (everywhere but in the student edition's prebuilt library: see NVCC_LINEINFO).
# scripts/sanitize.py runs both and sums up what they found.
SAN_BUILD := $(BUILD)/sanitize
# The arguments of that second run, `$(MAKE) $(SAN_ARGS) target` (written out with $(MAKE), so that
# make hands it the jobserver of -jN).
SAN_ARGS := --no-print-directory BUILD=$(SAN_BUILD) EM_ASAN=1 NO_CUDA=1 SANITIZE=
SAN_LAB := $(if $(filter 1,$(EM_ASAN)),,$(filter 1,$(SANITIZE)))
# What the line after a lab's link says it built, and what to run next ($(empty): a leading space).
empty :=
ifeq ($(EM_ASAN),1)
BUILT_WHAT := 's sanitizer checker
BUILT_NEXT :=
else ifeq ($(SAN_LAB),1)
BUILT_WHAT := $(empty) and its sanitizer checker
BUILT_NEXT := : now run  make check SANITIZE=1
else
BUILT_WHAT :=
BUILT_NEXT := : now run  make check
endif

# ---- labs ----------------------------------------------------------------------------------------
# Every folder labs/labN-name/ is a lab: `make labN` compiles its .c (and, with nvcc, .cu) files
# and links them with the checker into $(BUILD)/labN/em-check. Nothing here names a lab.
LAB_DIRS := $(sort $(wildcard $(LABS)/lab[0-9]*-*))
lab_num = $(firstword $(subst -, ,$(patsubst lab%,%,$(notdir $(1)))))
# $(call lab_files,folder,ext): its .ext files; out of tree (PREBUILT), only those whose names the
# pristine labs/<folder>/ has: a stray file in a submission is never compiled.
lab_files = $(if $(PREBUILT),$(wildcard $(patsubst labs/$(notdir $(1))/%,$(1)/%,$(wildcard labs/$(notdir $(1))/*.$(2)))),$(wildcard $(1)/*.$(2)))

define LAB_RULES
# $(1): the lab's folder, $(2): its number
LAB$(2)_DIR := $(1)
LAB$(2)_C := $$(call lab_files,$(1),c)
LAB$(2)_CU := $$(if $$(filter 1,$$(HAVE_CUDA)),$$(call lab_files,$(1),cu))
LAB$(2)_OBJ := $$(patsubst $(1)/%.c,$(BUILD)/lab$(2)/student/%.o,$$(LAB$(2)_C)) \
               $$(patsubst $(1)/%.cu,$(BUILD)/lab$(2)/student/%.cu.o,$$(LAB$(2)_CU))

# Each student object leaves the list of every file its compile read beside it (-MD -MF x.d; nvcc
# has both too): the grader holds that list against the lab folder, include/ and the system
# headers. A compile that a missing header stopped (a fatal error) writes no list, so gcc
# preprocesses again then (-M -MG: the files it read, the missing one named as written).
$(BUILD)/lab$(2)/student/%.o: $(1)/%.c $(HEADERS) $(CONFIG) | $(DEPS)
	@mkdir -p $$(@D)
	$$(call say,CC,$$<)
	$$(Q)$(CC) $(CPPFLAGS) $(STUDENT_CFLAGS) -MD -MF $$(@:.o=.d) -c $$< -o $$@ || { \
	  $(CC) $(CPPFLAGS) $(STUDENT_CFLAGS) -M -MG -MT $$@ -MF $$(@:.o=.d) $$< >/dev/null 2>&1; \
	  echo "[emlab] $$< does not compile: fix the first error above, then run make lab$(2) again." >&2; exit 2; }

$(BUILD)/lab$(2)/student/%.cu.o: $(1)/%.cu $(HEADERS) $(CONFIG)
	@mkdir -p $$(@D)
	$$(call say,NVCC,$$<)
	$$(Q)$(NVCC) $(CPPFLAGS) $(STUDENT_NVCCFLAGS) -MD -MF $$(@:.o=.d) -c $$< -o $$@ || { \
	  echo "[emlab] $$< does not compile: fix the first error above, then run make lab$(2) again." >&2; exit 2; }

# lab$(2)-begin runs first: from then on `make check` means lab $(2), and until the link succeeds
# (which removes lab$(2).building) it says that lab $(2) did not build instead of checking an old
# binary or another lab.
.PHONY: lab$(2) lab$(2)-begin
lab$(2)-begin:
	@mkdir -p $(BUILD) && echo $(2) > $(BUILD)/current-lab && touch $(BUILD)/lab$(2).building
lab$(2): lab$(2)-begin $(LIB) $(HARNESS) $(MAIN_OBJ) $$(if $$(filter 1,$$(SOLUTION)),,$$(LAB$(2)_OBJ)) $(if $(SAN_LAB),lab$(2)-sanitize)
	$$(call LINK_CHECKER,$(BUILD)/lab$(2)/em-check,$(2),$(SOLUTION),$$(if $$(filter 1,$$(SOLUTION)),,$$(LAB$(2)_OBJ)))
	@echo $(2) > $(BUILD)/current-lab && rm -f $(BUILD)/lab$(2).building
	@echo "[emlab] built lab $(2)$(BUILT_WHAT) ($$(if $$(filter 1,$$(SOLUTION)),the reference solution,your code in $(1)))$(BUILT_NEXT)"

# SANITIZE=1: the same lab in the sanitizer build as well (BUILD/sanitize/labN/em-check).
.PHONY: lab$(2)-sanitize
lab$(2)-sanitize:
	@$$(MAKE) $(SAN_ARGS) lab$(2)
endef
$(foreach d,$(LAB_DIRS),$(eval $(call LAB_RULES,$(d),$(call lab_num,$(d)))))

# `make lab9` where there is no lab 9: say which labs there are, not make's "No rule to make target".
# (lab8-example is a command, below, not a lab.)
UNKNOWN_LAB := $(firstword $(filter-out $(foreach d,$(LAB_DIRS),lab$(call lab_num,$(d)) lab$(call lab_num,$(d))-begin) lab8-example,$(filter lab%,$(MAKECMDGOALS))))
ifneq ($(UNKNOWN_LAB),)
$(error there is no $(UNKNOWN_LAB): the labs are $(foreach d,$(LAB_DIRS),lab$(call lab_num,$(d))) (make help lists every command))
endif

$(MAIN_OBJ): CPPFLAGS += -DEM_NVCC_VERSION='"$(NVCC_VERSION)"'

# ---- check ---------------------------------------------------------------------------------------
LAB ?= $(shell cat $(BUILD)/current-lab 2>/dev/null)
TRACK ?= all
CHECK_BIN := $(BUILD)/lab$(LAB)/em-check
# A prefix the checker runs through, e.g. on a cluster's GPU node: RUNNER="srun --gres=gpu:1 --time=10".
RUNNER ?=
CHECK_ARGS := --track $(TRACK) $(if $(SEED),--seed $(SEED)) --json $(BUILD)/lab$(LAB)/results.json \
              --history $(BUILD)/lab$(LAB)/history.jsonl --peaks $(BUILD)/peaks.json $(ARGS)
CHECK_CMD = $(RUNNER) $(CHECK_BIN) $(CHECK_ARGS)
# Sources newer than the binary: the student edited and forgot to rebuild.
STALE = $(if $(wildcard $(CHECK_BIN)),$(shell find $(LABS)/lab$(LAB)-*/ -newer $(CHECK_BIN) -type f \( -name '*.c' -o -name '*.cu' -o -name '*.h' \) 2>/dev/null | head -3))
REBUILD_AND_CHECK = make lab$(LAB) && make check

# SANITIZE=1: scripts/sanitize.py runs the sanitizer build's em-check on the CPU track and this
# build's under compute-sanitizer on the CUDA track, each with --sanitize (untimed), keeps the tools'
# logs and results in $(SAN_BUILD)/labN/ (never build/labN/results.json, which `make submit` packs)
# and exits as `make check` does: 0 nothing found and every case passed, 1 a finding or a failed
# case, 2 the tools could not run. It builds nothing, as `make check` never does: a missing or older
# sanitizer build is named with the command that makes it.
ifeq ($(SANITIZE),1)
SAN_BIN := $(SAN_BUILD)/lab$(LAB)/em-check
SAN_CPU := $(filter-out cuda,$(TRACK))
CHECK_CMD = $(RUNNER) python3 scripts/sanitize.py --lab $(LAB) --logs $(SAN_BUILD)/lab$(LAB) --track $(TRACK) \
            $(if $(SAN_CPU),--asan-bin $(SAN_BIN)) $(if $(filter 1,$(HAVE_CUDA)),--cuda-bin $(CHECK_BIN)) \
            --compute-sanitizer $(CUDA_HOME)/bin/compute-sanitizer -- $(if $(SEED),--seed $(SEED)) $(ARGS)
STALE = $(if $(SAN_CPU),$(if $(wildcard $(SAN_BIN)),$(shell find $(LABS)/lab$(LAB)-*/ -newer $(SAN_BIN) -type f \( -name '*.c' -o -name '*.cu' -o -name '*.h' \) 2>/dev/null | head -3)))
REBUILD_AND_CHECK = make lab$(LAB) SANITIZE=1 && make check SANITIZE=1
define SAN_PREFLIGHT
$(if $(SAN_CPU),$(if $(wildcard $(SAN_BUILD)/lab$(LAB).building),$(error the sanitizer build of lab $(LAB) did not finish: fix the first error that  make lab$(LAB) SANITIZE=1  printed, then run it again)))
$(if $(SAN_CPU),$(if $(wildcard $(SAN_BIN)),,$(error lab $(LAB) has no sanitizer build yet: run  make lab$(LAB) SANITIZE=1  first (it builds the lab a second time, with AddressSanitizer), then  make check SANITIZE=1)))
endef
endif

define CHECK_PREFLIGHT
$(if $(LAB),,$(error nothing to check yet: build a lab first, e.g.  make lab1 && make check))
$(if $(filter $(LAB),$(foreach d,$(LAB_DIRS),$(call lab_num,$(d)))),,$(error there is no lab $(LAB): the labs are $(foreach d,$(LAB_DIRS),$(call lab_num,$(d)))))
$(if $(wildcard $(BUILD)/lab$(LAB).building),$(error lab $(LAB) did not build: fix the first error that  make lab$(LAB)  printed, then run  make lab$(LAB) && make check))
$(if $(wildcard $(CHECK_BIN)),,$(error lab $(LAB) is not built: run  make lab$(LAB)  first))
$(if $(STALE),$(warning $(STALE) changed since the last  make lab$(LAB):  checking the old build; run  $(REBUILD_AND_CHECK)  to check your edits))
$(if $(filter 1,$(SANITIZE)),$(SAN_PREFLIGHT))
endef

# GNU make exits 2 whenever a recipe fails, but `make check` promises 0 (pass), 1 (some case
# failed) and 2 (error). The one way make itself exits 1 is question mode (-q) with a target out
# of date. So when `check` is the only goal, the checker runs while this file is read, its output
# going straight to make's own stdout/stderr, and its status picks the ending: 0 a no-op recipe,
# 1 question mode, 2 a failing recipe. With other goals beside it (make lab1 check), `check` runs
# as a plain recipe and any failure exits 2.
ifeq ($(MAKECMDGOALS),check)
$(eval $(CHECK_PREFLIGHT))
# make's stdout is reopened through /proc; where that cannot be done (a socket, no /proc) the
# checker's output goes to make's stderr instead, which is inherited and always works.
EM_CHECK_STATUS := $(shell if (exec 3>>/proc/$$PPID/fd/1) 2>/dev/null; then $(CHECK_CMD) >>/proc/$$PPID/fd/1; \
                           else $(CHECK_CMD) 1>&2; fi; echo $$?)
ifeq ($(EM_CHECK_STATUS),1)
MAKEFLAGS += -q
endif
check:
	@test "$(EM_CHECK_STATUS)" = 0
else
check:
	$(eval $(CHECK_PREFLIGHT))
	@$(CHECK_CMD)
endif

# ---- archive tool and submit ---------------------------------------------------------------------
# build/em-archive (harness/archive*.c, kept out of libemharness.a): pack, unpack, list, submit.
# `make submit LAB=N [USER=name] [SUBMIT_DIR=submissions]`: checks lab N with its build, then packs
# its student files, results.json and manifest.json into SUBMIT_DIR. A check with failing cases
# still submits (the claimed score says so), and the receipt says per track what was checked, or
# why not, and the TODOs left (harness/archive_tracks.c); a checker error (exit 2) stops it. A plain recipe:
# exit 0 submitted, 2 anything else (make's own status for a failed recipe).
ARCHIVE_BIN := $(BUILD)/em-archive
ARCHIVE_C := $(wildcard harness/archive*.c)
ARCHIVE_PKGS := libarchive nettle jansson
ARCHIVE_CFLAGS = $(shell pkg-config --cflags $(ARCHIVE_PKGS) 2>/dev/null)
ARCHIVE_LIBS = $(or $(shell pkg-config --libs $(ARCHIVE_PKGS) 2>/dev/null),-larchive -lnettle -ljansson)

$(ARCHIVE_BIN): $(ARCHIVE_C) harness/archive_tool.h include/em/version.h $(CONFIG) | deps
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(ARCHIVE_CFLAGS) $(CFLAGS) $(ARCHIVE_C) -o $@ $(ARCHIVE_LIBS)

.PHONY: archive submit
archive: $(ARCHIVE_BIN)
# Its suite (tests/test_archive.c) runs the binary and writes hostile archives with libarchive.
$(BUILD)/tests/test_archive: $(ARCHIVE_BIN)
$(BUILD)/tests/test_archive: LDLIBS += $(ARCHIVE_LIBS)

SUBMIT_LAB_DIR = $(LAB$(LAB)_DIR)
SUBMIT_DIR ?= submissions
submit: $(ARCHIVE_BIN)
	$(if $(LAB),,$(error nothing to submit yet: build and check a lab first, e.g.  make lab1 && make submit LAB=1))
	$(if $(SUBMIT_LAB_DIR),,$(error there is no lab $(LAB): the labs are $(foreach d,$(LAB_DIRS),$(call lab_num,$(d)))))
	@test -x $(CHECK_BIN) || { echo "[emlab] lab $(LAB) is not built: run  make lab$(LAB)  first, then  make submit LAB=$(LAB)" >&2; exit 2; }
	@stale="$(STALE)"; if [ -n "$$stale" ]; then \
	  echo "[emlab] $$stale changed since the last  make lab$(LAB): run  make lab$(LAB)  first, so the check sees the code you submit" >&2; exit 2; fi
	@echo "[emlab] checking lab $(LAB) before packing it"
	@$(CHECK_BIN) $(CHECK_ARGS); st=$$?; \
	  if [ $$st -gt 1 ]; then echo "[emlab] the check could not run (exit $$st): fix what it says above, then  make submit LAB=$(LAB)  again" >&2; exit 2; fi; \
	  if [ $$st = 1 ]; then echo "[emlab] some cases fail: submitting anyway, with the score they give (fix them and submit again for more)"; fi
	@$(ARCHIVE_BIN) submit --lab $(LAB) --lab-dir $(SUBMIT_LAB_DIR) --results $(BUILD)/lab$(LAB)/results.json \
	  --user "$$USER" --out-dir $(SUBMIT_DIR) || exit 2

# ---- hints ---------------------------------------------------------------------------------------
# The next stage of labs/labN-name/hints.md (scripts/hint.py; LAB defaults to the lab built last).
# Which stages were seen is kept in $(BUILD)/hints/, never in the lab's folder, whose files are what
# a student submits; no build reads the hints. TRACK goes along only when given (its default, all,
# means nothing here). Exit 2 for a lab, part or track that does not exist.
.PHONY: hint
hint:
	@python3 scripts/hint.py --lab "$(LAB)" --labs "$(LABS)" --state "$(BUILD)/hints" $(if $(PART),--part "$(PART)") \
	  $(if $(filter-out file,$(origin TRACK)),--track "$(TRACK)") $(if $(filter-out 0,$(AGAIN)),--again) \
	  $(if $(HINT),--hint "$(HINT)") $(if $(filter-out 0,$(RESET)),--reset)

# ---- report --------------------------------------------------------------------------------------
# One self-contained page (scripts/report.py) from every $(BUILD)/labN/results.json and the
# history.jsonl each `make check` appends to. Exit 2, nothing written, before any lab is checked.
.PHONY: report
report:
	@python3 scripts/report.py --build "$(BUILD)" --out "$(BUILD)/report.html"

# ---- demo ----------------------------------------------------------------------------------------
DEMO_BIN := $(BUILD)/demo/em-check
$(DEMO_BIN): $(LIB) $(HARNESS) $(MAIN_OBJ)
	$(call LINK_CHECKER,$@,0,1,)

demo: $(DEMO_BIN)
	@$(DEMO_BIN) --lab all --track $(TRACK) --json $(BUILD)/demo/results.json --peaks $(BUILD)/peaks.json $(ARGS)

# ---- bench ---------------------------------------------------------------------------------------
# The reference solutions at their speed cases (large sizes), then the same workloads through
# PyTorch eager and torch.compile in the same run where PyTorch is installed. LAB=N for one lab.
# The bench measures this machine's peaks afresh (build/bench/peaks.json) instead of trusting
# build/peaks.json: that cache may come from a run on a busy machine (a compile, another program),
# and a copy bandwidth measured under load makes every percentage of it meaningless. (The test
# suites keep their own cache, build/tests/peaks.json, for that reason.)
BENCH_LAB := $(if $(filter command line,$(origin LAB)),$(LAB),all)
.PHONY: bench
bench: $(DEMO_BIN)
	@mkdir -p $(BUILD)/bench && rm -f $(BUILD)/bench/peaks.json
	@$(DEMO_BIN) --lab $(BENCH_LAB) --perf-only --alternatives --budget 0.2 --track $(TRACK) --json $(BUILD)/bench/results.json \
	  --peaks $(BUILD)/bench/peaks.json $(ARGS) > $(BUILD)/bench/checker.txt; st=$$?; cat $(BUILD)/bench/checker.txt; \
	  if [ $$st -ne 0 ]; then echo "[emlab] the checker failed (exit $$st): no comparison" >&2; exit $$st; fi
	@python3 bench/torch_bench.py $(BUILD)/bench/results.json --out $(BUILD)/bench/bench.json $(BENCH_ARGS)

# ---- kernel variants ------------------------------------------------------------------------------
# bench/<lab>.cu: stand-alone programs that time a lab's kernel variants side by side on a GPU, the
# evidence behind each reference solution's design. Built (never run) by `make test` so they compile.
BENCH_CU := $(if $(filter 1,$(HAVE_CUDA)),$(wildcard bench/*.cu))
BENCH_BIN := $(BENCH_CU:bench/%.cu=$(BUILD)/bench/%)
# A lab's reference kernels are in reference/cuda/<name>_kernels.cuh, which the library's
# reference/cuda/<name>.cu and bench/<name>.cu both include: each rebuilds when the header changes.
REF_CUH := $(wildcard reference/cuda/*_kernels.cuh)
# reference/cuda/mma.cuh: the tensor-core wrappers that several labs' kernels share.
$(REF_CUH:reference/cuda/%_kernels.cuh=$(BUILD)/obj/reference/cuda/%.cu.o): $(BUILD)/obj/reference/cuda/%.cu.o: \
  reference/cuda/%_kernels.cuh reference/cuda/mma.cuh
$(REF_CUH:reference/cuda/%_kernels.cuh=$(BUILD)/bench/%): $(BUILD)/bench/%: reference/cuda/%_kernels.cuh reference/cuda/mma.cuh
# bench/l2_flush.cu times lab 8's decode forward beside its reads and writes (what the timer's L2
# flush costs a short stream): it includes lab 8's kernels too.
$(BUILD)/bench/l2_flush: reference/cuda/qlinear_kernels.cuh reference/cuda/mma.cuh
# reference/naive/<name>_kernels.cuh: a naive baseline's kernels, where the bench times them too.
NAIVE_CUH := $(wildcard reference/naive/*_kernels.cuh)
$(NAIVE_CUH:reference/naive/%_kernels.cuh=$(BUILD)/obj/reference/naive/%.cu.o): $(BUILD)/obj/reference/naive/%.cu.o: \
  reference/naive/%_kernels.cuh
$(NAIVE_CUH:reference/naive/%_kernels.cuh=$(BUILD)/bench/%): $(BUILD)/bench/%: reference/naive/%_kernels.cuh
# Built for sm_90a where the target is sm_90 (Hopper), with EM_BENCH_SM90A=1 saying so: some
# variants use Hopper's arch-specific instructions (wgmma), which plain sm_90 code cannot hold.
BENCH_GENCODE := $(if $(filter sm_90,$(CUDA_ARCH)),-arch=sm_90a -DEM_BENCH_SM90A=1,$(CUDA_GENCODE))
# reference/core/peaks_kernels.cuh and flush_kernels.cuh: the checker's rate-measuring kernels and
# its L2 flush, which the benches run too.
$(BUILD)/obj/reference/core/peaks_cuda.cu.o: reference/core/peaks_kernels.cuh
$(BUILD)/obj/reference/core/cuda.cu.o: reference/core/flush_kernels.cuh
$(BUILD)/bench/%: bench/%.cu bench/common.cuh reference/core/peaks_kernels.cuh reference/core/flush_kernels.cuh
	@mkdir -p $(@D)
	$(call say,NVCC,$<)
	$(Q)$(NVCC) $(CPPFLAGS) $(filter-out $(CUDA_GENCODE),$(NVCCFLAGS)) $(BENCH_GENCODE) $< -o $@
.PHONY: bench-variants
bench-variants: $(BENCH_BIN)

# ---- lab 8's worked example ----------------------------------------------------------------------
# labs/lab8-quantized-linear/example/train.c trains one small model with float32 and with em_qlinear
# layers side by side and writes build/lab8-example/loss.csv and loss.svg. It sits in a subfolder
# because every labs/labN-*/*.c is a student file that `make labN` compiles into the checker. Built
# with $(CC) and linked with $(LINK), as the checker is: with CUDA, libem.a needs the C++ runtime.
LAB8_EXAMPLE := $(BUILD)/lab8-example/train
$(LAB8_EXAMPLE): labs/lab8-quantized-linear/example/train.c $(LIB) $(HEADERS) $(CONFIG) | deps
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@.o
	$(Q)$(LINK) -o $@ $@.o $(LIB) $(LDLIBS)
.PHONY: lab8-example
lab8-example: $(LAB8_EXAMPLE)
	@$(LAB8_EXAMPLE) --out $(BUILD)/lab8-example $(ARGS)

# ---- slides --------------------------------------------------------------------------------------
# slides/*.md, one deck each, into build/slides/DECK.html (self-contained) and DECK.pdf; the
# roofline figures come from a results.json of `make bench` (default: the snapshot in slides/data/).
# Installs pandoc and Chromium on demand (scripts/install-deps.sh --slides), never for a lab build.
BENCH_JSON ?= slides/data/bench-cpu.json
.PHONY: slides
slides:
	@bash scripts/install-deps.sh --slides
	@python3 scripts/slides.py --bench "$(BENCH_JSON)" --out "$(BUILD)/slides"

# ---- the student edition -------------------------------------------------------------------------
# build/dist/emlab-student-<version>.tar.gz: the course repository students get (scripts/dist-student.sh).
.PHONY: dist-student
dist-student: $(ARCHIVE_BIN)
	@MAKE="$(MAKE)" bash scripts/dist-student.sh

# ---- tests ---------------------------------------------------------------------------------------
# The edition ships no tests: they build the solutions from their sources.
ifneq ($(EDITION),student)
include tests/tests.mk
endif

# ---- housekeeping --------------------------------------------------------------------------------
# Dependencies: checked on every build (a few file tests), installed only when something is missing.
deps:
	@bash scripts/install-deps.sh
# What `make test` needs beyond building: pytest for the grader's tests, bubblewrap for its sandbox,
# headless Chromium for the HTML pages, python3-venv for hadolint and check-jsonschema, shellcheck for the
# edition's CI workflow, Slurm and munge for the cluster test.
test-deps:
	@bash scripts/install-deps.sh --test

clean:
	rm -rf $(BUILD)

help:
	@sed -n '2,/^$$/p' Makefile | sed 's/^# \{0,1\}//'
