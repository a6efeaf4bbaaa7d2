#!/bin/sh
# NOT a display backend. Used only while vdispld's `run` command does not exist: it moves every vdispl
# backend node from Initialising (1) to InitWait (2), which is all libxl needs for `xl create` to
# succeed and all xen-drm-front needs to publish its rings and reach Initialised (3). It lets the
# harness prove everything up to the point where the real daemon takes over.
BE=/local/domain/0/backend/vdispl
while :; do
  for d in $(xenstore-list $BE 2>/dev/null); do
    for i in $(xenstore-list $BE/$d 2>/dev/null); do
      if [ "$(xenstore-read $BE/$d/$i/state 2>/dev/null)" = 1 ]; then
        xenstore-write $BE/$d/$i/state 2 && echo "initwait: $BE/$d/$i 1 -> 2 at uptime $(cut -d' ' -f1 /proc/uptime)"
      fi
    done
  done
  sleep 0.2
done
