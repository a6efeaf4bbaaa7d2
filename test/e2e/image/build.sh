#!/usr/bin/env bash
# Builds the e2e machine image from Debian packages only. Called by test/e2e/lib/image.ts, which owns
# the cache key; this script only turns its inputs (environment below) into files in $OUT.
#
#   CACHE    cache root, reused between builds: .debs, extracted packages, the debootstrap tree
#   OUT      empty directory to fill: xen, vmlinuz, dom0-initrd.cpio.gz, dom0.ext4, manifest.txt
#   KVER     Debian kernel ABI name (e.g. 6.1.0-56-amd64); the same kernel runs dom0 and the guest
#   SUITE, MIRROR, ROOTFS_PKGS, ROOTFS_KEY   the debootstrap inputs and their hash (tree reuse)
#
# Nothing is installed on the host: the hypervisor and the kernel are fetched with `apt-get download`
# and unpacked with dpkg-deb -x. Host tools (qemu, debootstrap, busybox-static, cpio, kmod, xz, gcc) come
# from scripts in run.ts' preflight.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
: "${CACHE:?}" "${OUT:?}" "${KVER:?}" "${SUITE:?}" "${MIRROR:?}" "${ROOTFS_PKGS:?}" "${ROOTFS_KEY:?}"
t0=$(date +%s)
step() { echo "[image +$(( $(date +%s) - t0 ))s] $*"; }
mkdir -p "$CACHE/debs" "$OUT"
TMPS=()
trap 'rm -rf "${TMPS[@]}"' EXIT
# mktmp VAR: a scratch directory in the cache, removed on exit whatever happens
mktmp() { local d; d=$(mktemp -d -p "$CACHE" tmp.XXXXXX); TMPS+=("$d"); printf -v "$1" %s "$d"; }

# ---- dom0 root file system: the slow step (about 50 s), reused while its inputs are unchanged
ROOT=$CACHE/rootfs-$ROOTFS_KEY
if [ ! -e "$ROOT/.complete" ]; then
  step "debootstrap $SUITE (minbase + ${ROOTFS_PKGS})"
  rm -rf "$ROOT" "$CACHE"/rootfs-*   # one tree at a time: each is ~350 MB
  debootstrap --variant=minbase --include="$ROOTFS_PKGS" "$SUITE" "$ROOT" "$MIRROR" > "$CACHE/debootstrap.log" 2>&1 \
    || { tail -20 "$CACHE/debootstrap.log"; exit 1; }
  rm -rf "$ROOT/var/cache/apt/archives/"*.deb "$ROOT/var/lib/apt/lists/"*
  touch "$ROOT/.complete"
fi

# ---- Xen: the hypervisor build that matches the toolstack inside the root fs
XENVER=$(chroot "$ROOT" dpkg-query -W -f='${Version}' xen-utils-4.17)
step "xen-hypervisor-4.17-amd64 $XENVER"
XDEB=$(ls "$CACHE"/debs/xen-hypervisor-4.17-amd64_"${XENVER//:/%3a}"_amd64.deb 2>/dev/null || true)
if [ -z "$XDEB" ]; then
  (cd "$CACHE/debs" && apt-get download -q -o APT::Sandbox::User=root "xen-hypervisor-4.17-amd64=$XENVER" >/dev/null)
  XDEB=$(ls "$CACHE"/debs/xen-hypervisor-4.17-amd64_*"${XENVER##*:}"*_amd64.deb)
fi
mktmp X; dpkg-deb -x "$XDEB" "$X"
# QEMU's -kernel takes a multiboot ELF, not Debian's gzipped file
gunzip -c "$X"/boot/xen-4.17-amd64.gz > "$OUT/xen"; rm -rf "$X"

# ---- kernel (dom0 and guest), unpacked into the cache, never installed
KDIR=$CACHE/kernel-$KVER
if [ ! -e "$KDIR/.complete" ]; then
  step "linux-image-$KVER"
  (cd "$CACHE/debs" && ls linux-image-"$KVER"_*.deb >/dev/null 2>&1 || apt-get download -q -o APT::Sandbox::User=root "linux-image-$KVER" >/dev/null)
  rm -rf "$KDIR"; mkdir -p "$KDIR"
  dpkg-deb -x "$CACHE"/debs/linux-image-"$KVER"_*.deb "$KDIR"
  depmod -b "$KDIR" "$KVER"
  touch "$KDIR/.complete"
fi
cp "$KDIR/boot/vmlinuz-$KVER" "$OUT/vmlinuz"

# .ko files, dependencies first, for the named modules
modclosure() {
  for m in "$@"; do modprobe -d "$KDIR" -S "$KVER" --show-depends "$m" | awk '$1=="insmod"{print $2}'; done | awk '!seen[$0]++'
}
# copy binaries and the shared libraries they load (resolved inside the root fs) into tree $1
copy_bins() {
  local dst=$1; shift
  for b in "$@"; do
    install -D "$ROOT$b" "$dst$b"
    for lib in $(chroot "$ROOT" ldd "$b" | awk '/=>/{print $3} /^\t\/lib/{print $1}'); do
      [ -e "$dst$lib" ] || install -D "$ROOT$(chroot "$ROOT" readlink -f "$lib")" "$dst$lib"
    done
  done
}
busybox_tree() {
  rm -rf "$1"; mkdir -p "$1"/{bin,sbin,proc,sys,dev,run,tmp,newroot,lib/modules}
  cp /bin/busybox "$1/bin/busybox"
  for a in $(/bin/busybox --list); do [ -e "$1/bin/$a" ] || ln -s busybox "$1/bin/$a"; done
}
cpio_gz() { (cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -6); }

# ---- dom0 stage 1: virtio-blk + ext4 are modules in Debian's kernel, so a tiny initramfs mounts root
step "dom0 stage-1 initramfs"
mktmp S1
busybox_tree "$S1"
for ko in $(modclosure virtio_pci virtio_blk ext4); do cp "$ko" "$S1/lib/modules/"; echo "/lib/modules/$(basename "$ko")"; done > "$S1/modules.order"
install -m 0755 "$HERE/dom0-stage1.sh" "$S1/init"
cpio_gz "$S1" > "$OUT/dom0-initrd.cpio.gz"; rm -rf "$S1"

# ---- the input lab's tool (uinput devices in dom0, evdev reader in the guest), static: one binary for both
step "e2e-input"
mktmp EI
gcc -static -O2 -Wall -o "$EI/e2e-input" "$HERE/e2e-input.c"
# the hostile guest's displif frontend (guest only; its structures come from the host's Xen headers)
gcc -static -O2 -Wall -o "$EI/e2e-displif" "$HERE/e2e-displif.c"

# ---- guest initramfs: busybox, evdev and xen-drm-front with its dependencies, modetest, the xenstore
# client, e2e-input (xen-kbdfront is built into Debian's kernel; evdev gives it /dev/input/event*)
step "guest initramfs"
mktmp GI
busybox_tree "$GI"
install -D -m 0755 "$EI/e2e-input" "$GI/usr/bin/e2e-input"
install -D -m 0755 "$EI/e2e-displif" "$GI/usr/bin/e2e-displif"
for ko in $(modclosure evdev drm_xen_front xen-gntalloc xen-evtchn); do cp "$ko" "$GI/lib/modules/"; echo "/lib/modules/$(basename "$ko")"; done > "$GI/modules.order"
copy_bins "$GI" /usr/bin/modetest /usr/bin/xenstore
for c in read write exists list rm chmod; do ln -sf xenstore "$GI/usr/bin/xenstore-$c"; done
install -m 0755 "$HERE/guest-init.sh" "$GI/init"
mktmp GT; GUEST_INITRD=$GT/initrd.cpio.gz; cpio_gz "$GI" > "$GUEST_INITRD"; rm -rf "$GI"

# ---- dom0 root file system: a copy of the pristine tree, customised, then an ext4 image
step "dom0 root fs"
mktmp R
cp -a "$ROOT/." "$R/"
rm -f "$R/.complete"
# only the modules dom0 loads (Xen devices, 9p, the display, uinput and evdev for the input lab); keeps the image small
mkdir -p "$R/lib/modules/$KVER"
for ko in $(modclosure xen-privcmd xen-evtchn xen-gntdev xen-gntalloc xenfs 9pnet_virtio 9p bochs virtio-gpu uinput evdev); do
  install -D -m 0644 "$ko" "$R${ko#"$KDIR"}"
done
cp "$KDIR/lib/modules/$KVER"/modules.{order,builtin,builtin.modinfo} "$R/lib/modules/$KVER/" 2>/dev/null || true
depmod -b "$R" "$KVER"
echo xen-dom0 > "$R/etc/hostname"
printf '/dev/vda / ext4 rw 0 1\n' > "$R/etc/fstab"
# xenconsoled writes every guest's console to /var/log/xen/console/guest-<name>.log
printf 'XENCONSOLED_ARGS="--log=guest --log-dir=/var/log/xen/console"\n' > "$R/etc/default/xen"
mkdir -p "$R"/var/log/xen/console "$R"/var/lib/xen "$R"/mnt/share "$R"/opt/vdispld "$R"/opt/node "$R"/root/guest
install -m 0755 "$HERE/dom0-init.sh" "$R/sbin/e2e-init"
install -D -m 0755 "$EI/e2e-input" "$R/usr/local/bin/e2e-input"
# The guest kernel as a plain ELF: libxc's bzImage loader would XZ-unpack it under emulation on every
# `xl create` (about 5 s); the ELF loader does not. (xz stops at the stream end, so tail gets SIGPIPE.)
off=$(LC_ALL=C grep -m1 -obUaP '\xfd7zXZ\x00' "$OUT/vmlinuz" | cut -d: -f1)
{ tail -c +"$((off + 1))" "$OUT/vmlinuz" || true; } | xz -dc --single-stream > "$R/root/guest/vmlinux"
[ "$(head -c4 "$R/root/guest/vmlinux" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] || { echo "guest vmlinux is not ELF" >&2; exit 1; }
cp "$GUEST_INITRD" "$R/root/guest/initrd.cpio.gz"
step "mkfs.ext4"
mkfs.ext4 -q -F -L dom0root -d "$R" "$OUT/dom0.ext4" 2G
rm -rf "$R"

{
  echo "kernel $KVER"
  echo "xen $XENVER"
  echo "suite $SUITE"
  chroot "$ROOT" dpkg-query -W -f='${Package} ${Version}\n' xen-utils-4.17 xenstore-utils libdrm-tests libc6 socat
} > "$OUT/manifest.txt"
step "done"
