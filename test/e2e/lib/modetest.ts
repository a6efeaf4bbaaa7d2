// Reading libdrm's modetest output: which connector and CRTC to use, and the page-flip rate it reports.

export interface DrmConnector {
  id: number;
  encoder: number;
  status: string;
  name: string;
  modes: string[];
}

/** The connector table of `modetest -c` (id, encoder, status, name, then the modes listed under it). */
export function parseConnectors(out: string): DrmConnector[] {
  const res: DrmConnector[] = [];
  let cur: DrmConnector | undefined;
  for (const line of out.split('\n')) {
    const c = /^(\d+)\t(\d+)\t(connected|disconnected|unknown)\t(\S+)/.exec(line);
    if (c) {
      cur = { id: Number(c[1]), encoder: Number(c[2]), status: c[3]!, name: c[4]!, modes: [] };
      res.push(cur);
      continue;
    }
    const m = /^\s+#\d+\s+(\d+x\d+)/.exec(line);
    if (m && cur) cur.modes.push(m[1]!);
  }
  return res;
}

/** CRTC ids from the CRTCs section of `modetest -p` (rows "id<TAB>fb<TAB>(x,y)<TAB>(wxh)"). */
export function parseCrtcs(out: string): number[] {
  const start = out.indexOf('CRTCs:');
  if (start < 0) return [];
  const end = out.indexOf('Planes:', start);
  const sec = out.slice(start, end < 0 ? undefined : end);
  return [...sec.matchAll(/^(\d+)\t\d+\t\(/gm)].map((m) => Number(m[1]));
}

/** Every "freq: NN.NNHz" line of `modetest -v`. */
export function parseFlipRates(out: string): number[] {
  return [...out.matchAll(/freq:\s*([\d.]+)\s*Hz/g)].map((m) => Number(m[1]));
}

export interface DrmMode {
  width: number;
  height: number;
  /** Hz, as modetest computes it from the mode's timings. */
  refresh: number;
  preferred: boolean;
}

/**
 * The modes `modetest -c` lists under the first connected connector: rows
 * "#N WxH REFRESH timings... flags: ...; type: preferred, driver".
 */
export function parseConnectedModes(out: string): DrmMode[] {
  const modes: DrmMode[] = [];
  let inConnected = false;
  for (const line of out.split('\n')) {
    const c = /^(\d+)\t(\d+)\t(connected|disconnected|unknown)\t/.exec(line);
    if (c) {
      if (modes.length > 0) break;
      inConnected = c[3] === 'connected';
      continue;
    }
    const m = /^\s+#\d+\s+(\d+)x(\d+)\S*\s+([\d.]+)\s.*type:\s*(.*)$/.exec(line);
    if (m && inConnected)
      modes.push({
        width: Number(m[1]),
        height: Number(m[2]),
        refresh: Number(m[3]),
        preferred: /preferred/.test(m[4]!),
      });
  }
  return modes;
}
