#!/bin/sh
# vdispld-service.sh start [ARGS...] | stop | status
# Starts and stops vdispld in dom0 the way systemd would run systemd/vdispld.service: the settings the
# host read from that unit are in /mnt/share/service.env (Type, WatchdogSec, timeouts, RuntimeDirectory,
# UMask). Type=notify: NOTIFY_SOCKET is a datagram socket read by socat into notify.log, and `start`
# returns only after READY=1 (or fails when the daemon exits or the start timeout passes). stdout and
# stderr go to daemon.log, as journald would take them. `stop` sends SIGTERM, then SIGKILL after the
# stop timeout, and prints how the daemon ended.
. /mnt/share/service.env
O=/mnt/share/out
R=/run/e2e
mkdir -p "$O" "$R"
NODE=/opt/node/bin/node
MAIN=/opt/vdispld/dist/src/main.js
up() { cut -d' ' -f1 /proc/uptime; }
alive() { [ -e "$R/daemon.pid" ] && [ ! -e "$R/daemon.exit" ] && kill -0 "$(cat "$R/daemon.pid")" 2>/dev/null; }
readies() { grep -o 'READY=1' "$O/notify.log" 2>/dev/null | wc -l; }

case "$1" in
start)
  shift
  alive && { echo "vdispld already running (pid $(cat "$R/daemon.pid"))"; exit 1; }
  rm -f "$R/daemon.exit" "$R/daemon.pid"
  if [ -n "$SVC_RUNTIME_DIR" ]; then
    mkdir -p "/run/$SVC_RUNTIME_DIR"; chmod "${SVC_RUNTIME_MODE:-0755}" "/run/$SVC_RUNTIME_DIR"
    export RUNTIME_DIRECTORY="/run/$SVC_RUNTIME_DIR"
  fi
  if [ "$SVC_TYPE" = notify ] && [ ! -e "$R/notify.pid" ]; then
    rm -f "$R/notify.sock"
    socat -u "UNIX-RECV:$R/notify.sock" STDOUT >> "$O/notify.log" 2>&1 &
    echo $! > "$R/notify.pid"
    i=0; while [ ! -S "$R/notify.sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  fi
  before=$(readies)
  k=$(( $(cat "$R/starts" 2>/dev/null || echo 0) + 1 )); echo $k > "$R/starts"
  echo "---- vdispld start #$k at dom0 uptime $(up)s: $*" >> "$O/daemon.log"
  t0=$(up)
  # The supervisor records the exit status the way systemd would see it (128+N: killed by signal N).
  (
    [ -n "$SVC_UMASK" ] && umask "$SVC_UMASK"
    [ "$SVC_TYPE" = notify ] && export NOTIFY_SOCKET="$R/notify.sock"
    # profiling (--node-options): node's own flags, before the script (NODE_OPTIONS refuses
    # --cpu-prof); profiles are written to the cwd, i.e. the share's out/
    [ -n "$SVC_NODE_OPTIONS" ] && cd "$O"
    sh -c 'if [ -n "$0" ]; then export WATCHDOG_USEC=$0 WATCHDOG_PID=$$; fi; shift; exec "$@"' \
      "${SVC_WATCHDOG_USEC:-}" _ "$NODE" $SVC_NODE_OPTIONS "$MAIN" "$@" >> "$O/daemon.log" 2>&1 < /dev/null &
    echo $! > "$R/daemon.pid"
    wait $!
    echo $? > "$R/daemon.exit.tmp"; mv "$R/daemon.exit.tmp" "$R/daemon.exit"
  ) &
  i=0; while [ ! -e "$R/daemon.pid" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  if [ "$SVC_TYPE" != notify ]; then echo "started pid $(cat "$R/daemon.pid")"; exit 0; fi
  end=$(( $(date +%s) + ${SVC_TIMEOUT_START:-90} ))
  while [ "$(readies)" -le "$before" ]; do
    if [ -e "$R/daemon.exit" ]; then echo "vdispld exited with status $(cat "$R/daemon.exit") before READY=1"; exit 1; fi
    if [ "$(date +%s)" -ge $end ]; then echo "vdispld sent no READY=1 within ${SVC_TIMEOUT_START}s"; exit 1; fi
    sleep 0.1
  done
  echo "ready pid $(cat "$R/daemon.pid") after $(echo "$(up) $t0" | awk '{printf "%.2f", $1 - $2}')s"
  ;;
stop)
  [ -e "$R/daemon.pid" ] || { echo "not started"; exit 1; }
  if alive; then
    pid=$(cat "$R/daemon.pid"); t0=$(up)
    kill -TERM "$pid"
    end=$(( $(date +%s) + ${SVC_TIMEOUT_STOP:-90} ))
    while [ ! -e "$R/daemon.exit" ] && [ "$(date +%s)" -lt $end ]; do sleep 0.1; done
    if [ ! -e "$R/daemon.exit" ]; then
      kill -KILL "$pid"; sleep 0.5
      echo "stop timed out after ${SVC_TIMEOUT_STOP}s: SIGKILL sent; exit $(cat "$R/daemon.exit" 2>/dev/null)"
      exit 1
    fi
    echo "stopped after $(echo "$(up) $t0" | awk '{printf "%.2f", $1 - $2}')s; exit $(cat "$R/daemon.exit")"
  else
    echo "was not running; exit $(cat "$R/daemon.exit" 2>/dev/null)"
  fi
  ;;
status)
  if alive; then echo "running pid $(cat "$R/daemon.pid")"; else echo "dead exit $(cat "$R/daemon.exit" 2>/dev/null)"; exit 3; fi
  echo "notify: $(readies) READY=1, $(grep -o 'WATCHDOG=1' "$O/notify.log" 2>/dev/null | wc -l) WATCHDOG=1"
  ;;
*) echo "usage: $0 start [ARGS...] | stop | status" >&2; exit 2 ;;
esac
