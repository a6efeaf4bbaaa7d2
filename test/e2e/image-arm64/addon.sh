#!/usr/bin/env bash
# Cross-builds the native addon for arm64 with the flags binding.gyp gives it, against the host's
# Node-API headers (Node-API is the same on every architecture) and Debian's arm64 libdrm.
#   OUT   directory to fill with vdispl_native.node
#   REPO  the project tree;  LIBDRM_DEB  libdrm2's arm64 .deb;  NAPI_INCLUDE  node-addon-api's include dir
set -euo pipefail
: "${OUT:?}" "${REPO:?}" "${LIBDRM_DEB:?}" "${NAPI_INCLUDE:?}"
NODE_INCLUDE=${NODE_INCLUDE:-/usr/include/node}
[ -e "$NODE_INCLUDE/node_api.h" ] || { echo "addon: $NODE_INCLUDE/node_api.h missing (Node.js headers)"; exit 1; }
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
dpkg-deb -x "$LIBDRM_DEB" "$W/drm"
DRM_SO=$(ls "$W"/drm/usr/lib/aarch64-linux-gnu/libdrm.so.2)
# only the headers that do not depend on the architecture: Xen's public ones and libdrm's
mkdir -p "$W/inc"; ln -s /usr/include/xen "$W/inc/xen"
FLAGS=(-fPIC -O2 -std=c++17 -Wall -Wextra -Wno-unused-parameter -fexceptions -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS
  -DBUILDING_NODE_EXTENSION -I"$W/inc" -I"$NAPI_INCLUDE" -I"$NODE_INCLUDE" -I/usr/include/libdrm)
mkdir -p "$W/obj"
ls "$REPO"/native/src/*.cc | xargs -P "${JOBS:-2}" -I{} sh -c \
  'aarch64-linux-gnu-g++ "$@" -c {} -o '"$W"'/obj/$(basename {} .cc).o' _ "${FLAGS[@]}"
aarch64-linux-gnu-g++ -shared -o "$OUT/vdispl_native.node" "$W"/obj/*.o "$DRM_SO" -Wl,-soname,vdispl_native.node
file "$OUT/vdispl_native.node" 2>/dev/null | grep -q aarch64 || { echo "addon: the result is not an arm64 ELF"; exit 1; }
