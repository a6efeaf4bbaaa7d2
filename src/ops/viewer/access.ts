// Who may use the viewer. Bound to loopback, it must not become readable by a web page the
// operator happens to visit: a WebSocket is not subject to the same-origin policy, so a foreign
// page's script could otherwise connect and watch every guest (origin check), and a rebound DNS
// name could make the browser send the page's requests here (Host check). Pure.
import { isLoopback } from '../config/listen.js';

function hostOnly(hostHeader: string): { host: string; port: string } | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(hostHeader);
  if (!m) return undefined;
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: m[2] ?? '80' };
}

/** The Host header names this loopback listener (or any name when bound beyond loopback). */
export function hostAllowed(hostHeader: string | undefined, bound: { host: string; port: number }): boolean {
  if (hostHeader === undefined) return false;
  const h = hostOnly(hostHeader);
  if (!h) return false;
  // Bound beyond loopback, the operator chose who can reach it; any name may lead here.
  if (!isLoopback(bound.host)) return true;
  return isLoopback(h.host) && h.port === String(bound.port);
}

/** A browser's WebSocket comes from our own page (same host), or there is no browser (no Origin). */
export function originAllowed(origin: string | undefined, hostHeader: string | undefined): boolean {
  if (origin === undefined) return true;
  try {
    const u = new URL(origin);
    return (
      (u.protocol === 'http:' || u.protocol === 'https:') &&
      hostHeader !== undefined &&
      u.host === hostHeader.toLowerCase()
    );
  } catch {
    // An Origin that is no URL comes from no page of ours: refused.
    return false;
  }
}
