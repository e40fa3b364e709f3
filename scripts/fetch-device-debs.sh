#!/usr/bin/env bash
# Run here, from the project's root, before a device run: downloads into .debs/ (git ignores it) the
# Debian packages of every C library the build links, so that the GPU machine, which has none of
# them and no package registry, can build: the device run carries .debs and the device scripts
# source scripts/use-debs.sh, which unpacks them. The list is scripts/install-deps.sh's building
# list (jansson, libarchive, nettle, Criterion) with the run-time libraries each needs; without
# nettle-dev, `make` on the device stops at its dependency check ("missing: nettle-dev").
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .debs
cd .debs
pkgs=(libjansson-dev libjansson4 libarchive-dev libarchive13 nettle-dev libnettle8 libhogweed6 libgmp-dev
      libcriterion-dev libcriterion3 libboxfort-dev libnanomsg5 libgit2-1.5 libhttp-parser2.9
      libmbedtls14 libmbedx509-1 libmbedcrypto7 libssh2-1
      libtcmalloc-minimal4)  # not linked: PyTorch's allocator for make bench's CPU rows (device-cpu.sh)
# apt-get download runs as _apt where it can; as root into a folder _apt cannot write it warns and
# downloads anyway: that warning is noise here.
apt-get download "${pkgs[@]}" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true
missing=0
for p in "${pkgs[@]}"; do
  ls "${p}"_*.deb >/dev/null 2>&1 && continue
  echo "fetch-device-debs: $p was not downloaded (apt-get update, then run this again)" >&2
  missing=1
done
[ $missing = 0 ] && echo "fetch-device-debs: ${#pkgs[@]} packages in .debs/; carry .debs in the device run"
exit $missing
