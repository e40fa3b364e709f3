# emlab in a container: the CUDA toolkit the course targets (nvcc 13.0), every library the build and
# the checker need, and the project built, so that `docker run --gpus all emlab` shows every lab's
# reference solution through the checker. Without a GPU (no --gpus) the CPU track runs and the CUDA
# track is reported as skipped. How to build, run and mount a student's labs: README.md, Docker.
#
# The base is pinned to one CUDA release (13.0 Update 2, nvcc V13.0.88) on Ubuntu 24.04: NVIDIA
# publishes its CUDA images for Ubuntu, not Debian, and 24.04 names the packages the project needs
# as Debian 12 does (scripts/install-deps.sh handles the one difference).
FROM nvidia/cuda:13.0.2-devel-ubuntu24.04

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /opt/emlab

# The dependencies come from the same script the quick start and CI run (.ci/run), so the image
# cannot drift from them. Copied alone first: this layer is rebuilt only when the script changes,
# not on every edit of the sources. The apt lists are only needed while installing.
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN bash scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*

# The library, the harness, the demo's checker and the archive tool, so that the first `make demo`
# or `make lab1` starts checking at once. Built for sm_90 (the course's H200), since no GPU is
# visible while an image builds; run on another GPU, make notices and rebuilds for it. The CPU
# code is compiled for this machine's CPU (-march=native): build the image where it will run.
COPY . .
RUN make -j"$(nproc)" all archive build/demo/em-check

CMD ["make", "demo"]
