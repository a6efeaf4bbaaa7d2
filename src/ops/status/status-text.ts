// `vdispld status` for people: one block per device, one line per connector, the numbers an
// operator looks for first (state, output, path, frames/s, flip latency) and the totals. Every
// guest-chosen string is printed quoted, so it cannot move the cursor or fake a line.
import type { StatusReport } from './status-report.js';

function q(s: string): string {
  return /^[\x21-\x7e]*$/.test(s) && !s.includes('"') ? s : JSON.stringify(s);
}

function num(n: number | null, unit = ''): string {
  return n === null ? '-' : `${n}${unit}`;
}

function pad(cells: readonly string[][]): string[] {
  const widths: number[] = [];
  for (const row of cells) row.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return cells.map((row) =>
    row
      .map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

export function renderStatus(r: StatusReport): string {
  const out: string[] = [];
  const up = r.daemon.uptimeSeconds;
  out.push(
    `vdispld ${r.daemon.version}, pid ${r.daemon.pid}, up ${Math.floor(up / 3600)}h${String(Math.floor((up % 3600) / 60)).padStart(2, '0')}m${String(up % 60).padStart(2, '0')}s`,
  );
  const res = r.resources;
  const p = r.framebuffersByPath;
  const be = r.beAllocFramebuffersByPath;
  const beAlloc = be['dma-buf'] + be.copied + be.mapped;
  out.push(
    `${r.devices.length} device(s), ${r.devices.filter((d) => d.state === 'connected').length} connected; ${res.buffers} buffers, ${res.framebuffers} framebuffers (dma-buf ${p['dma-buf']}, copied ${p.copied}, mapped ${p.mapped}; ${beAlloc} of them be-alloc); ${res.grantMappings} grant mappings, ${res.mappedPages} pages`,
  );
  const b = r.budget;
  if (b) {
    const kinds = [
      ['maptrack entries', 'mappedPages'],
      ['granted dom0 pages', 'allocatedPages'],
      ['dma-buf fds', 'fds'],
    ] as const;
    out.push(
      `dom0 budget: ${kinds.map(([name, k]) => `${name} ${b.used[k]}/${b.limits[k]} (a guest's share ${b.share[k]}${b.refused[k] ? `, ${b.refused[k]} refused` : ''})`).join('; ')}`,
    );
  }
  const l = r.listeners;
  if (l && (l.viewer || l.metrics))
    out.push(
      `listening: ${[l.viewer ? `viewer ${l.viewer}` : '', l.metrics ? `metrics ${l.metrics}` : ''].filter(Boolean).join(', ')}`,
    );
  out.push(
    `outputs: ${r.outputs.map((o) => `${q(o.name)} (${o.kind}${o.width ? ` ${o.width}x${o.height}` : ''})`).join(', ') || 'none'}`,
  );
  const c = r.compositorOutputs;
  if (c)
    out.push(
      `compositor outputs (wayland:NAME): ${c.map((o) => `${q(o.name)} ${o.width}x${o.height}`).join(', ') || 'none (the compositor is away)'}`,
    );
  for (const l of r.layouts ?? []) {
    out.push(
      `layout on ${q(l.output)}: ${l.guests.length} of ${l.entries} guest connectors there${l.guests.length ? ` (${l.guests.map(q).join(', ')})` : ''}, ${l.planes} plane${l.planes === 1 ? ' (composed by the CPU)' : 's'}, ${l.framesShown} frames, ${l.bytesComposed} bytes composed${l.planeRefusals ? `, ${l.planeRefusals} plane refusals` : ''}`,
    );
    for (const p of l.placements ?? [])
      out.push(`  ${q(p.key)}: ${p.plane ? 'on an overlay plane' : `composed by the CPU: ${p.why}`}`);
  }
  for (const x of r.layoutRefusals ?? [])
    out.push(
      `layout on ${q(x.output)} refused (${x.reason}; ${x.previousShown ? 'the previous layout stays' : 'the output shows no layout'}): ${x.line}`,
    );
  for (const d of r.devices) {
    out.push('');
    out.push(
      `dom${d.domid} device ${d.devId}: ${d.state} (frontend ${d.frontendState})${d.error ? ` error: ${q(d.error)}` : ''}`,
    );
    if (d.connectors.length === 0) continue;
    const rows = [
      [
        '  connector',
        'unique-id',
        'output',
        'mode',
        'path',
        'buffer',
        'fps',
        'flip ms (last/mean)',
        'shown',
        'dropped',
        'errors',
      ],
    ];
    for (const c of d.connectors) {
      rows.push([
        `  ${c.key}`,
        q(c.uniqueId),
        q(c.output),
        c.scanout ? `${c.scanout.width}x${c.scanout.height}` : `off (${c.resolution.width}x${c.resolution.height})`,
        c.path ?? '-',
        c.buffer ?? '-',
        num(c.framesPerSecond),
        `${num(c.flipLatencyMs.last)}/${num(c.flipLatencyMs.mean)}`,
        String(c.flips.shown),
        String(c.flips.dropped),
        String(c.errors + c.timeouts),
      ]);
    }
    out.push(...pad(rows));
  }
  if (r.input && (r.input.vkbd.length > 0 || r.input.sources.length > 0)) out.push('', ...renderInput(r.input));
  const fb = Object.entries(r.copyFallbacks);
  if (fb.length > 0) {
    out.push('');
    out.push('copied instead of scanned out as a dma-buf, by reason:');
    for (const [reason, n] of fb) out.push(`  ${n} x ${q(reason)}`);
  }
  const copied = Object.entries(r.copiedBytes ?? {}).filter(([, n]) => n > 0);
  if (copied.length > 0) out.push(`bytes copied: ${copied.map(([o, n]) => `${q(o)} ${n}`).join(', ')}`);
  return `${out.join('\n')}\n`;
}

function renderInput(i: NonNullable<StatusReport['input']>): string[] {
  const out = [
    `input: focus ${i.focus === null ? 'none (dom0 keeps its devices)' : `dom${i.focus.replace('/', ' vkbd ')}`}, ${i.focusChanges} focus change(s), ${i.unfocused} event(s) with no guest focused, ${i.refused} refused`,
  ];
  if (i.sources.length > 0)
    out.push(
      `  dom0 devices: ${i.sources.map((s) => `${q(s.path)} ${s.kind}${s.grabbed ? ' (grabbed)' : ''}`).join(', ')}`,
    );
  if (i.vkbd.length === 0) return out;
  const rows = [
    ['  vkbd', 'state', 'unique-id', 'pointer', 'touch', 'focus', 'held', 'sent', 'written', 'merged', 'dropped'],
  ];
  for (const v of i.vkbd) {
    const e = v.events;
    rows.push([
      `  dom${v.domid}/${v.devId}`,
      `${v.state}${v.error ? ` error: ${q(v.error)}` : ''}`,
      v.uniqueId === null ? '-' : q(v.uniqueId),
      v.state !== 'connected' ? '-' : v.absPointer && v.size ? `${v.size.width}x${v.size.height}` : 'relative',
      v.multiTouch ? 'yes' : 'no',
      v.focused ? 'yes' : '-',
      String(v.held),
      e ? String(e.sent) : '-',
      e ? String(e.written) : '-',
      e ? String(e.coalesced) : '-',
      e ? String(e.dropped) : '-',
    ]);
  }
  out.push(...pad(rows));
  return out;
}
