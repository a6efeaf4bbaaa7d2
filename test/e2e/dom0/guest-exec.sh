#!/bin/sh
# guest-exec.sh NAME TIMEOUT CMDFILE: runs the shell command in CMDFILE inside guest NAME through its
# XenStore command agent (see image/guest-init.sh), prints its output and exits with its status.
# Output comes from the guest's console log, which xenconsoled writes; 124 means timeout.
name=$1 timeout=$2 file=$3
dom=$(xl domid "$name" 2>/dev/null) || { echo "guest-exec: no domain $name" >&2; exit 125; }
home=/local/domain/$dom/data/e2e
log=/var/log/xen/console/guest-$name.log
mkdir -p /run/e2e
boot=$(xenstore-read "$home/boot" 2>/dev/null) || { echo "guest-exec: agent of $name (domain $dom) not ready" >&2; exit 125; }
seqf=/run/e2e/guest-seq.$dom
n=$(( $(cat "$seqf" 2>/dev/null || echo 0) + 1 ))
echo $n > "$seqf"
xenstore-write "$home/cmd/$n" "$(cat "$file")" || exit 125
# the guest owns its data/ directory; make sure it may read what dom0 created there
xenstore-chmod "$home/cmd/$n" "n$dom"
# Polled fast for the first 2 s (most commands), then every 0.5 s: every poll is a process in dom0,
# and a long command polled at 10 Hz took a vCPU's worth of forks from the daemon under emulation.
end=$(( $(date +%s) + timeout ))
i=0
until rc=$(xenstore-read "$home/rc/$n" 2>/dev/null); do
  i=$((i + 1))
  if [ $i -le 20 ]; then sleep 0.1; continue; fi
  [ "$(date +%s)" -ge $end ] && { echo "guest-exec: command $n timed out after ${timeout}s" >&2; exit 124; }
  sleep 0.5
done
# the end marker follows the output on the console; wait for xenconsoled to have logged it
i=0
until tr -d '\r' < "$log" | grep -q "^E2E-G$boot.$n END rc="; do
  i=$((i + 1)); [ $i -gt 50 ] && break; sleep 0.1
done
tr -d '\r' < "$log" | sed -n "s/^E2E-G$boot.$n| //p"
exit "$rc"
