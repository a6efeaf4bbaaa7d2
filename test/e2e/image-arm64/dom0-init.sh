#!/bin/sh
# /init of the Arm64 lab's dom0 (an initramfs; no systemd, no disk): Xen's devices and daemons, the
# host's 9p shares, vkms as the display, then the harness agent from the project tree (the same
# agent as the x86 lab's, test/e2e/dom0/agent.sh).
export PATH=/usr/lib/xen-4.17/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=vt100
export LD_LIBRARY_PATH=/lib/aarch64-linux-gnu:/usr/lib/aarch64-linux-gnu
up() { cut -d' ' -f1 /proc/uptime; }
mount -t proc proc /proc; mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null   # (Debian's busybox has no mountpoint)
mkdir -p /dev/pts /dev/shm; mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run; mount -t tmpfs tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug
hostname xen-dom0
mkdir -p /run/lock /run/xen /run/xenstored /var/log/xen/console /var/lib/xen
[ -e /var/run ] || ln -s /run /var/run   # xenstored and xl use /var/run
echo "E2E-DOM0: init at uptime $(up)s"
mount -t xenfs xenfs /proc/xen || echo "E2E-DOM0: no xenfs"
# oxenstored, as Debian's xencommons starts in the x86 lab's dom0: its access log
# (/var/log/xen/xenstored-access.log) stamps every request and watch event to the millisecond, which
# the teardown timing reads; the C xenstored's -T log has whole seconds only.
/usr/lib/xen-4.17/bin/oxenstored --pid-file /run/xenstore.pid || echo "E2E-DOM0: oxenstored failed"
xen-init-dom0 >/dev/null || echo "E2E-DOM0: xen-init-dom0 failed"
xenconsoled --pid-file=/run/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console || echo "E2E-DOM0: xenconsoled failed"
echo "E2E-DOM0: xen tools up at uptime $(up)s"

# share: per-boot exchange directory, uncached so both sides see each other's writes at once; repo
# (the working tree), node (Node.js for arm64), native (the addon built for arm64) and lab (this
# machine's files: the guest's kernel and initramfs) are read-only and cached.
for t in share:/mnt/share:rw,cache=none repo:/opt/vdispld:ro,cache=loose node:/opt/node:ro,cache=loose \
         native:/opt/native:ro,cache=loose lab:/opt/lab:ro,cache=loose; do
  tag=${t%%:*}; rest=${t#*:}; dir=${rest%%:*}; opts=${rest#*:}
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,$opts "$tag" "$dir" 2>/dev/null \
    && echo "E2E-DOM0: 9p $tag on $dir" || echo "E2E-DOM0: no 9p $tag"
done
# the working tree's addon modules are the host's (x86): dom0 sees the arm64 builds in their place
for M in /opt/native/*.node; do
  A=/opt/vdispld/build/Release/${M##*/}
  [ -e "$M" ] && [ -e "$A" ] && mount --bind "$M" "$A" && echo "E2E-DOM0: arm64 addon over $A"
done
[ -e /dev/dri/card0 ] && echo "E2E-DOM0: display $(cat /sys/kernel/debug/dri/0/name 2>/dev/null)"
echo "E2E-DOM0: ready at uptime $(up)s"

AGENT=/opt/vdispld/test/e2e/dom0/agent.sh
if [ -r "$AGENT" ] && [ -d /mnt/share/cmd ]; then
  sh "$AGENT"
  echo "E2E-DOM0: agent exited rc=$? at uptime $(up)s"
  sync
  poweroff -f
fi
while :; do echo "E2E-DOM0: shell"; setsid -c /bin/sh -i </dev/hvc0 >/dev/hvc0 2>&1; sleep 1; done
