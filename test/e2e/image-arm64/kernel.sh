#!/usr/bin/env bash
# Builds the Arm64 lab's Linux kernel (one Image for dom0 and the guest) from Debian's linux-source-6.1
# with the cross compiler. Called by test/e2e/lib/arm64-image.ts, which owns the cache key; this script
# only turns its inputs into $OUT/Image and $OUT/config.
#
#   OUT      empty directory to fill
#   WORK     scratch directory for the source tree (about 1.6 GB while building; removed after)
#   JOBS     make -j (default: the number of CPUs)
#
# Why a kernel of our own: Debian's arm64 kernel has none of CONFIG_XEN_GNTDEV_DMABUF (the gntdev
# dma-buf ioctls zero-copy needs), CONFIG_DRM_VKMS (dom0's display), CONFIG_DRM_XEN_FRONTEND (the
# guest's driver) and CONFIG_UDMABUF. Everything is built in (no modules, no depmod, no initramfs
# module loading), starting from allnoconfig so the build stays at a few minutes on two cores.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
: "${OUT:?}" "${WORK:?}"
TARBALL=/usr/src/linux-source-6.1.tar.xz
[ -r "$TARBALL" ] || { echo "kernel: $TARBALL missing (apt-get install linux-source-6.1)"; exit 1; }
mkdir -p "$OUT" "$WORK"
cd "$WORK"
tar -xJf "$TARBALL"
cd linux-source-6.1
export ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-
# lab-only kernel patches (each one says in its header what it changes and why)
for p in "$HERE"/kernel-patches/*.patch; do
  [ -e "$p" ] || continue
  echo "kernel: applying $(basename "$p")"
  patch -p1 --forward --batch < "$p" || { echo "kernel: patch $(basename "$p") does not apply"; exit 1; }
done
make -s allnoconfig
# What the lab needs, every one of them checked below.
WANT="PRINTK TTY BLK_DEV_INITRD RD_GZIP DEVTMPFS DEVTMPFS_MOUNT PROC_FS SYSFS TMPFS BINFMT_ELF BINFMT_SCRIPT
MULTIUSER FUTEX EPOLL SIGNALFD TIMERFD EVENTFD SHMEM AIO FILE_LOCKING INOTIFY_USER UNIX INET NET HIGH_RES_TIMERS KALLSYMS
ARM_GIC_V3 ARM_ARCH_TIMER SERIAL_AMBA_PL011 SERIAL_AMBA_PL011_CONSOLE
XEN XEN_DOM0 HVC_XEN HVC_XEN_FRONTEND XEN_BACKEND XENFS XEN_COMPAT_XENFS XEN_SYS_HYPERVISOR XEN_DEV_EVTCHN
XEN_GNTDEV XEN_GRANT_DEV_ALLOC XEN_GRANT_DMA_ALLOC XEN_GNTDEV_DMABUF XEN_PRIVCMD XEN_BALLOON
DMA_SHARED_BUFFER UDMABUF DRM DRM_VKMS DRM_XEN DRM_XEN_FRONTEND DEBUG_FS
INPUT INPUT_EVDEV INPUT_UINPUT INPUT_XEN_KBDDEV_FRONTEND
VIRTIO_MMIO NET_9P NET_9P_VIRTIO 9P_FS"
# Not wanted for themselves but the menus and parents that make the wanted ones visible: without them
# olddefconfig silently drops INPUT_UINPUT and the kbd frontend (INPUT_MISC), VIRTIO_MMIO (VIRTIO_MENU)
# and 9p over virtio (VIRTIO); DEBUG_FS_ALLOW_ALL lets the harness read vkms's CRCs.
PARENTS="SMP BLOCK SERIAL_EARLYCON VIRTIO_MENU INPUT_MISC NETWORK_FILESYSTEMS UNIX98_PTYS DEBUG_FS_ALLOW_ALL"
for s in $PARENTS $WANT; do scripts/config --enable "$s"; done
make -s olddefconfig
missing=""
for s in $WANT; do grep -q "^CONFIG_$s=y" .config || missing="$missing $s"; done
[ -z "$missing" ] || { echo "kernel: olddefconfig dropped:$missing"; exit 1; }
t0=$(date +%s)
make -s -j"${JOBS:-$(nproc)}" Image
echo "kernel: make Image took $(( $(date +%s) - t0 )) s"
cp arch/arm64/boot/Image "$OUT/Image"
cp .config "$OUT/config"
cd "$WORK" && rm -rf linux-source-6.1
