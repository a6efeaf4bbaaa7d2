#!/bin/sh
# /sbin/e2e-init: PID 1 of the test dom0. No systemd: it brings up only what a vdispl test needs
# (Xen devices, Debian's xencommons, the host shares, the display) in a few seconds of emulated time,
# then hands over to the harness agent from the project tree, which drives the rest.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=vt100
up() { cut -d' ' -f1 /proc/uptime; }
mount -t proc proc /proc; mount -t sysfs sys /sys
mountpoint -q /dev || mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm; mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run; mount -t tmpfs tmpfs /tmp
mount -o remount,rw /
hostname xen-dom0
mkdir -p /run/lock /run/xen /var/log/xen/console /var/lib/xen
echo "E2E-DOM0: init at uptime $(up)s"

for m in xen-privcmd xen-evtchn xen-gntdev xen-gntalloc xenfs; do modprobe $m || echo "E2E-DOM0: modprobe $m failed"; done
/etc/init.d/xen start
echo "E2E-DOM0: xencommons rc=$? at uptime $(up)s"

# share: per-boot read-write exchange directory, uncached so both sides see each other's writes at
# once; repo: the project's working tree and node: the host's Node.js binary, read-only and cached
# (node is ~100 MB: reading it through 9p on every start costs seconds under emulation).
# Missing tags are not fatal: the shell below stays.
modprobe 9pnet_virtio; modprobe 9p
for t in share:/mnt/share:rw,cache=none repo:/opt/vdispld:ro,cache=loose node:/opt/node:ro,cache=loose; do
  tag=${t%%:*}; rest=${t#*:}; dir=${rest%%:*}; opts=${rest#*:}
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,$opts "$tag" "$dir" 2>/dev/null \
    && echo "E2E-DOM0: 9p $tag on $dir" || echo "E2E-DOM0: no 9p $tag"
done

# the display: bochs-drm for QEMU's standard VGA, virtio-gpu when the harness asks for it
modprobe bochs 2>/dev/null; modprobe virtio-gpu 2>/dev/null
i=0; while [ ! -e /dev/dri/card0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
echo "E2E-DOM0: ready at uptime $(up)s"

AGENT=/opt/vdispld/test/e2e/dom0/agent.sh
if [ -r "$AGENT" ] && [ -d /mnt/share/cmd ]; then
  sh "$AGENT"
  echo "E2E-DOM0: agent exited rc=$? at uptime $(up)s"
  sync
  busybox poweroff -f
fi
# debugging: a shell on the console (Xen routes serial input to dom0), respawned; PID 1 never exits
while :; do echo "E2E-DOM0: shell"; setsid -c /bin/sh -i </dev/hvc0 >/dev/hvc0 2>&1; sleep 1; done
