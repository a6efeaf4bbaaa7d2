#!/bin/sh
# Guest /init (busybox, no udev). Loads xen-drm-front in the background, because its insmod blocks
# until the backend is Connected (up to 30 s), then runs a command agent driven through the guest's
# own XenStore directory:
#   dom0 writes  data/e2e/cmd/<n>   a shell command (the harness numbers them 1, 2, ...)
#   guest prints its output on the console as "E2E-G<boot>.<n>| <line>", then "E2E-G<boot>.<n> END",
#   and writes   data/e2e/rc/<n>    the exit status.
# <boot> (data/e2e/boot) tells this boot's lines from an earlier boot's in the same console log.
# Commands that start background jobs must redirect those jobs' output themselves.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mkdir -p /dev/pts; mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /tmp
# `xl shutdown` runs /sbin/poweroff, which signals PID 1 (USR2); `xl reboot` restarts the kernel directly.
trap 'echo "E2E-GUEST: poweroff"; poweroff -f' USR2
trap 'echo "E2E-GUEST: reboot"; reboot -f' TERM
echo "E2E-GUEST: init at uptime $(cut -d' ' -f1 /proc/uptime)s"
(
  for ko in $(cat /modules.order); do insmod "$ko" || echo "E2E-GUEST: insmod $ko failed"; done
  echo "E2E-GUEST: modules loaded at uptime $(cut -d' ' -f1 /proc/uptime)s"
) &
boot=$(cut -c1-8 /proc/sys/kernel/random/boot_id)
# Retried: once, under heavy host load, one of these two writes failed while xen-drm-front was probing.
i=0
until /usr/bin/xenstore-write data/e2e/boot "$boot" data/e2e/ready 1; do
  i=$((i + 1)); echo "E2E-GUEST: XenStore write failed (try $i)"; [ $i -ge 30 ] && break; sleep 1
done
echo "E2E-GUEST: agent ready"
n=1
idle=0
while :; do
  if c=$(xenstore-read "data/e2e/cmd/$n" 2>/dev/null); then
    sh -c "$c" > /tmp/out.$n 2>&1 < /dev/null
    rc=$?
    sed "s/^/E2E-G$boot.$n| /" /tmp/out.$n; rm -f /tmp/out.$n
    echo "E2E-G$boot.$n END rc=$rc"
    xenstore-write "data/e2e/rc/$n" "$rc"
    n=$((n + 1))
    idle=0
  elif [ $idle -lt 15 ]; then
    # fast right after a command, slow when idle: every poll is a process and a XenStore request
    idle=$((idle + 1)); sleep 0.2
  else
    sleep 1
  fi
done
