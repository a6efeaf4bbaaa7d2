#!/usr/bin/env bash
# Builds the Arm64 lab's machine files from Debian arm64 packages (apt-get download + dpkg-deb -x,
# nothing installed, no debootstrap) and the kernel kernel.sh built. Called by
# test/e2e/lib/arm64-image.ts, which owns the cache key; this script turns its inputs into $OUT.
#
#   CACHE    cache root: .debs are kept in $CACHE/debs-arm64 between builds
#   OUT      empty directory to fill: xen, Image, dom0-initrd.cpio.gz, guest-initrd.cpio.gz, manifest.txt
#   KERNEL   directory with the lab kernel's Image
#   PKGS     the arm64 packages whose dependency closure makes dom0's and the guest's user space
#   WESTON_PKGS  the arm64 packages of the Weston layer (scenario a8): $OUT/weston, not in any initramfs
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
: "${CACHE:?}" "${OUT:?}" "${KERNEL:?}" "${PKGS:?}"
t0=$(date +%s)
step() { echo "[arm64 image +$(( $(date +%s) - t0 ))s] $*"; }
DEBS=$CACHE/debs-arm64
mkdir -p "$DEBS" "$OUT"
TMPS=()
trap 'rm -rf "${TMPS[@]}"' EXIT
mktmp() { local d; d=$(mktemp -d -p "$CACHE" tmp.XXXXXX); TMPS+=("$d"); printf -v "$1" %s "$d"; }

# ---- the packages: every arm64 library and program the closure of $PKGS needs. Scripting
# languages, debconf and the like are left out: nothing in the lab runs them.
# the arm64 libraries and programs of the dependency closure of packages $2...; $1: a regular
# expression of the names kept besides lib*
closure() {
  local keep=$1; shift
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances --no-pre-depends \
    $(for p in "$@"; do echo "$p:arm64"; done) | grep -v '^[ <]' | grep ':arm64$' | sed 's/:arm64$//' \
    | grep -E "^(lib|zlib1g|$keep)" | grep -vE '^(libpython|libperl|libpam|libsemanage|libdebian-installer|libnewt|libtextwrap)' | sort -u
}
# the newest .deb of a package in the cache (nothing when there is none)
deb_of() { compgen -G "$DEBS/${1}_*_arm64.deb" || compgen -G "$DEBS/${1}_*_all.deb" || true; }
# downloads what the cache lacks of packages $1... (NAME:all for an arch-all one) and unpacks them
# into $U, printing each package's file name
fetch_unpack() {
  (cd "$DEBS" && for p in "$@"; do
    [ -n "$(deb_of "${p%:all}")" ] || { [ "$p" != "${p%:all}" ] && echo "$p" || echo "$p:arm64"; }
  done | xargs -r apt-get download -q -o APT::Sandbox::User=root >/dev/null) \
    || { echo "arm64 packages: apt-get download failed"; exit 1; }
  for p in "${@%:all}"; do
    deb=$(deb_of "$p" | sort -V | tail -1)
    [ -n "$deb" ] || { echo "arm64 packages: $p was not downloaded"; exit 1; }
    dpkg-deb -x "$deb" "$U"
    echo "$(basename "$deb" .deb)"
  done
}

step "arm64 package closure of: $PKGS"
want=$(closure 'xen|socat|busybox-static' $PKGS)
[ -n "$want" ] || { echo "arm64 packages: apt-cache knows none (dpkg --add-architecture arm64 && apt-get update)"; exit 1; }
mktmp U
fetch_unpack $want > "$OUT/packages.txt"
step "$(wc -l < "$OUT/packages.txt") packages unpacked"

# ---- Xen: the hypervisor that matches the tools (same source package, same version)
XV=$(ls "$DEBS"/xen-utils-4.17_*_arm64.deb | sed 's/.*xen-utils-4.17_\(.*\)_arm64.deb/\1/' | tail -1)
XDEB=$(ls "$DEBS"/xen-hypervisor-4.17-arm64_"$XV"_arm64.deb 2>/dev/null || true)
[ -n "$XDEB" ] || (cd "$DEBS" && apt-get download -q -o APT::Sandbox::User=root "xen-hypervisor-4.17-arm64:arm64=${XV//%3a/:}" >/dev/null)
XDEB=$(ls "$DEBS"/xen-hypervisor-4.17-arm64_"$XV"_arm64.deb)
mktmp X; dpkg-deb -x "$XDEB" "$X"
cp "$X/boot/xen-4.17-arm64" "$OUT/xen"
cp "$KERNEL/Image" "$OUT/Image"
# which lab-only patches the kernel carries (the kernel's key includes them, and so does this image's)
(cd "$HERE/kernel-patches" 2>/dev/null && ls *.patch 2>/dev/null || true) > "$OUT/kernel-patches.txt"

cpio_gz() { (cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -6); }
# a root with busybox's applets and the dynamic loader
userland() {
  local r=$1
  mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,run,tmp,etc,root,var/log,lib/aarch64-linux-gnu,usr/lib/aarch64-linux-gnu}
  cp "$U/bin/busybox" "$r/bin/busybox"
  # the applet list of the host's busybox-static: the same Debian source and configuration
  for a in $(/bin/busybox --list); do
    [ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"
  done
  cp -a "$U"/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1 "$r/lib/aarch64-linux-gnu/"
  ln -sf aarch64-linux-gnu/ld-linux-aarch64.so.1 "$r/lib/ld-linux-aarch64.so.1"
  echo 'root:x:0:0:root:/root:/bin/sh' > "$r/etc/passwd"; echo 'root:x:0:' > "$r/etc/group"
}
# copies the shared libraries the ELF files in tree $1 need (DT_NEEDED, transitively) from the
# packages, and the libraries named after it (for programs that come from elsewhere: node, the addon)
with_libs() {
  local r=$1 todo lib f found
  shift
  todo=$( { find "$r" -type f -exec sh -c 'head -c4 "$1" | grep -q ELF && echo "$1"' _ {} \; | xargs -r readelf -d 2>/dev/null \
    | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; printf '%s\n' "$@"; } | sort -u)
  while [ -n "$todo" ]; do
    local next=""
    for lib in $todo; do
      found=""
      for d in lib/aarch64-linux-gnu usr/lib/aarch64-linux-gnu usr/lib/xen-4.17/lib/aarch64-linux-gnu usr/lib/aarch64-linux-gnu/weston; do
        [ -e "$r/$d/$lib" ] && { found=1; break; }
        if [ -e "$U/$d/$lib" ]; then
          f=$(readlink -f "$U/$d/$lib"); mkdir -p "$r/$d"; cp "$f" "$r/$d/$lib"; found=1
          next="$next $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')"
          break
        fi
      done
      [ -n "$found" ] || { echo "libraries: $lib (needed in $r) is in no package of the closure"; exit 1; }
    done
    todo=$(echo $next | tr ' ' '\n' | sort -u)
  done
}

# ---- guest: busybox, modetest, the XenStore client and the harness's command agent
step "guest initramfs"
mktmp G
userland "$G"
cp "$U/usr/bin/modetest" "$U/usr/bin/xenstore" "$G/usr/bin/"
for c in read write exists list rm chmod; do ln -sf xenstore "$G/usr/bin/xenstore-$c"; done
: > "$G/modules.order"   # the kernel has every driver built in
install -m 0755 "$HERE/../image/guest-init.sh" "$G/init"
with_libs "$G"
cpio_gz "$G" > "$OUT/guest-initrd.cpio.gz"

# ---- dom0: the same plus the Xen tools, socat (the service wrapper's notify socket) and the init
step "dom0 initramfs"
mktmp D
userland "$D"
cp -a "$U/usr/lib/xen-4.17" "$D/usr/lib/"
cp -a "$U/usr/bin/." "$D/usr/bin/"
cp -a "$U/usr/sbin/." "$D/usr/sbin/" 2>/dev/null || true
[ -d "$U/etc/xen" ] && cp -a "$U/etc/xen" "$D/etc/"
mkdir -p "$D"/var/log/xen/console "$D"/var/lib/xen "$D"/var/lib/xenstored "$D"/mnt/share "$D"/opt/vdispld "$D"/opt/node "$D"/opt/lab "$D"/opt/native "$D"/root/guest
ln -s /opt/lab/Image "$D/root/guest/Image"
ln -s /opt/lab/guest-initrd.cpio.gz "$D/root/guest/initrd.cpio.gz"
install -m 0755 "$HERE/dom0-init.sh" "$D/init"
# node (from the npm registry) and the addon (libdrm) run from the shares with dom0's libraries
with_libs "$D" libstdc++.so.6 libgcc_s.so.1 libm.so.6 libdl.so.2 libpthread.so.0 libdrm.so.2
cpio_gz "$D" > "$OUT/dom0-initrd.cpio.gz"

# ---- the Weston layer (scenario a8): Debian's Weston 10 with its DRM backend, the kiosk shell and
# weston-screenshooter, libwayland-client for the daemon's Wayland module, and the libraries and data
# they need. A tree dom0 links into its root from the lab share when a scenario wants a compositor,
# not part of dom0's initramfs: every other scenario boots without its 30 MB.
if [ -n "${WESTON_PKGS:-}" ]; then
  step "weston layer: closure of $WESTON_PKGS"
  mktmp WU
  # xkb-data is arch-all (outside the arm64 closure): the keymap libxkbcommon compiles for a keyboard
  wwant="$(closure 'weston' $WESTON_PKGS) xkb-data:all"
  U=$WU fetch_unpack $wwant > "$OUT/weston-packages.txt"
  L=$OUT/weston
  A=usr/lib/aarch64-linux-gnu
  mkdir -p "$L/usr/bin" "$L/$A/weston" "$L/$A/libweston-10" "$L/usr/share/X11"
  cp "$WU/usr/bin/weston" "$WU/usr/bin/weston-screenshooter" "$L/usr/bin/"
  cp -a "$WU/$A/weston/kiosk-shell.so" "$WU/$A/weston"/libexec_weston.so* "$L/$A/weston/"
  cp "$WU/$A/libweston-10/drm-backend.so" "$L/$A/libweston-10/"
  cp -a "$WU/usr/share/X11/xkb" "$L/usr/share/X11/"
  [ -d "$WU/usr/share/libinput" ] && cp -a "$WU/usr/share/libinput" "$L/usr/share/"
  U=$WU with_libs "$L" libwayland-client.so.0
  step "weston layer: $(wc -l < "$OUT/weston-packages.txt") packages, $(du -sm "$L" | cut -f1) MB"
fi

{
  echo "xen $XV"
  echo "kernel $(head -c 64 "$KERNEL/version" 2>/dev/null || echo 'linux-source-6.1')"
  for p in xen-utils-4.17 libdrm-tests socat libc6; do grep "^${p}_" "$OUT/packages.txt" || true; done
  grep -h "^weston_" "$OUT/weston-packages.txt" 2>/dev/null || true
} > "$OUT/manifest.txt"
ls -l "$OUT" | sed 's/^/  /'
step "done"
