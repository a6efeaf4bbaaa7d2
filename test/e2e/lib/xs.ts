// XenStore seen from dom0 with Debian's xenstore-utils, plus the XenBus states of displif devices.
import { shq, type Dom0 } from './dom0.js';

export const XenbusState = {
  Unknown: 0,
  Initialising: 1,
  InitWait: 2,
  Initialised: 3,
  Connected: 4,
  Closing: 5,
  Closed: 6,
  Reconfiguring: 7,
  Reconfigured: 8,
} as const;

export const backendPath = (domid: number, dev = 0): string => `/local/domain/0/backend/vdispl/${domid}/${dev}`;
export const frontendPath = (domid: number, dev = 0): string => `/local/domain/${domid}/device/vdispl/${dev}`;

/** `xenstore-ls -f` of a subtree as a path -> value map (missing subtree: empty map). */
export async function dumpTree(dom0: Dom0, path: string): Promise<Map<string, string>> {
  const r = await dom0.exec(`xenstore-ls -f ${shq(path)}`, 20);
  const map = new Map<string, string>();
  if (r.rc !== 0) return map;
  for (const line of r.out.split('\n')) {
    const m = /^(\S+) = "(.*)"$/.exec(line);
    if (m) map.set(m[1]!, m[2]!);
  }
  return map;
}

export async function read(dom0: Dom0, path: string): Promise<string | undefined> {
  const r = await dom0.exec(`xenstore-read ${shq(path)}`, 20);
  return r.rc === 0 ? r.out.trim() : undefined;
}

/**
 * Waits in dom0 until every path holds one of the wanted values; returns how long it took there
 * (dom0 uptime seconds) or throws with the values seen last.
 */
export async function waitValues(dom0: Dom0, want: Record<string, string[]>, timeoutS: number): Promise<number> {
  const conds = Object.entries(want)
    .map(
      ([p, vals]) => `case "$(xenstore-read ${shq(p)} 2>/dev/null)" in ${vals.map(shq).join('|')}) ;; *) ok=0;; esac`,
    )
    .join('; ');
  const show = Object.keys(want)
    .map((p) => `echo "${p} = $(xenstore-read ${shq(p)} 2>&1)"`)
    .join('; ');
  const r = await dom0.exec(
    `t0=$(cut -d' ' -f1 /proc/uptime); end=$(( $(date +%s) + ${timeoutS} )); ` +
      `while :; do ok=1; ${conds}; [ $ok = 1 ] && break; ` +
      `[ "$(date +%s)" -ge $end ] && { ${show}; exit 1; }; sleep 0.1; done; ` +
      `echo "$(cut -d' ' -f1 /proc/uptime) $t0" | awk '{printf "%.2f\\n", $1 - $2}'`,
    timeoutS + 10,
  );
  if (r.rc !== 0)
    throw new Error(`XenStore did not reach ${JSON.stringify(want)} within ${timeoutS}s; last seen:\n${r.out.trim()}`);
  return Number(r.out.trim());
}
