# shellcheck shell=bash
# Copied from the course infrastructure notes: unpacks the C libraries the build links on the GPU
# machine, which has no package registry. Used by the scripts/device-*.sh scripts; .debs/ is filled
# here beforehand by scripts/fetch-device-debs.sh.
# Source this on the GPU machine (bash): unpacks .debs/*.deb into /tmp/emdeps and points the
# compiler, linker and loader at it. It touches nothing outside /tmp/emdeps.
root=/tmp/emdeps
mkdir -p "$root"
for f in .debs/*.deb; do dpkg -x "$f" "$root"; done
lib="$root/usr/lib/x86_64-linux-gnu"
# Where the machine has its own (newer) libnettle, Debian's must not shadow it on the loader path:
# the machine's gnutls (apt's https) needs symbols only the newer one has. Same soname, same ABI:
# link and run against the machine's, with Debian's nettle-dev headers.
for sys in /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu; do
  if [ -e "$sys/libnettle.so.8" ]; then
    rm -f "$lib"/libnettle.so.8* "$lib"/libhogweed.so.6*
    ln -sf "$sys/libnettle.so.8" "$lib/libnettle.so"
    break
  fi
done
export CPATH="$root/usr/include${CPATH:+:$CPATH}"
export LIBRARY_PATH="$lib${LIBRARY_PATH:+:$LIBRARY_PATH}"
export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PKG_CONFIG_PATH="$lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
