#!/bin/sh
# Runs in dom0 (started by /sbin/e2e-init from the read-only project tree). The host drives dom0 by
# dropping numbered command files into the 9p share; a poll loop is the only way, because 9p does not
# report the host's changes to inotify.
#   host writes   /mnt/share/cmd/<n>.sh        (renamed into place when complete)
#   agent writes  /mnt/share/cmd/<n>.out       stdout and stderr
#                 /mnt/share/cmd/<n>.rc        exit status, renamed into place last
# /mnt/share/cmd/stop ends the agent; dom0 then powers off.
C=/mnt/share/cmd
# Polls fast right after a command (scenarios come in bursts), slower when idle, so that the loop's
# forks do not compete with the daemon under emulation.
n=1
idle=0
echo "E2E-DOM0: agent ready"
while [ ! -e "$C/stop" ]; do
  if [ -e "$C/$n.sh" ]; then
    sh "$C/$n.sh" > "$C/$n.out" 2>&1 < /dev/null
    echo $? > "$C/$n.rc.tmp"
    mv "$C/$n.rc.tmp" "$C/$n.rc"
    n=$((n + 1))
    idle=0
  elif [ $idle -lt 30 ]; then
    idle=$((idle + 1)); sleep 0.1
  else
    sleep 0.5
  fi
done
echo "E2E-DOM0: agent stopped after $((n - 1)) commands"
