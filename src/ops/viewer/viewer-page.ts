// The viewer's page: one canvas per guest connector with its state, output, path and frames/s,
// and one per composed output (a layout) with the whole composition,
// fed by the WebSocket. No external script or style: it works on a host with no network.
export const VIEWER_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vdispld viewer</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 0; background: #1d1f21; color: #d8dee9; }
  header { padding: 8px 16px; background: #111; display: flex; gap: 16px; align-items: baseline; }
  header h1 { font-size: 16px; margin: 0; }
  #state { color: #8fbcbb; }
  main { display: flex; flex-wrap: wrap; gap: 16px; padding: 16px; }
  figure { margin: 0; background: #2e3440; padding: 8px; border-radius: 4px; }
  canvas { display: block; background: #000; max-width: 45vw; height: auto; image-rendering: pixelated; }
  figcaption { margin-top: 6px; font-family: ui-monospace, monospace; font-size: 12px; white-space: pre; }
  .off canvas { opacity: 0.3; }
  #empty { padding: 16px; color: #999; }
</style>
</head>
<body>
<header><h1>vdispld</h1><span id="state">connecting…</span></header>
<main id="screens"></main>
<div id="empty" hidden>No guest connector is connected.</div>
<script>
"use strict";
const screens = document.getElementById('screens');
const stateEl = document.getElementById('state');
const emptyEl = document.getElementById('empty');
const figures = new Map();
// For tests and curious operators: the last frame drawn per connector.
window.vdispldViewer = { frames: {}, connectors: [], input: false };
let socket = null;
// Input (only when the daemon runs with --viewer-input): DOM events on a canvas, batched per
// animation frame, positions in the canvas's displayed CSS pixels with its displayed size.
const pending = new Map();
let flushQueued = false;
function queueInput(key, ev) {
  if (!window.vdispldViewer.input) return;
  let list = pending.get(key);
  if (!list) pending.set(key, (list = []));
  if (ev.t === 'move' && list.length && list[list.length - 1].t === 'move') list[list.length - 1] = ev;
  else if (list.length < 64) list.push(ev);
  if (!flushQueued) { flushQueued = true; requestAnimationFrame(flushInput); }
}
function flushInput() {
  flushQueued = false;
  for (const [key, events] of pending) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: 'input', key, events }));
  }
  pending.clear();
}
const touchSlots = new Map();
function at(canvas, e) {
  const r = canvas.getBoundingClientRect();
  return { x: Math.min(Math.max(e.clientX - r.left, 0), r.width), y: Math.min(Math.max(e.clientY - r.top, 0), r.height), w: r.width, h: r.height };
}
function attachInput(canvas) {
  const key = canvas.dataset.key;
  canvas.tabIndex = 0;
  canvas.addEventListener('contextmenu', (e) => e.preventDefault());
  canvas.addEventListener('pointerdown', (e) => {
    canvas.focus();
    canvas.setPointerCapture(e.pointerId);
    const p = at(canvas, e);
    if (e.pointerType === 'touch') {
      let id = 0; while ([...touchSlots.values()].includes(id)) id++;
      touchSlots.set(e.pointerId, id);
      queueInput(key, { t: 'touch', phase: 'down', id, ...p });
      queueInput(key, { t: 'touch-frame' });
    } else {
      queueInput(key, { t: 'move', ...p });
      queueInput(key, { t: 'button', button: e.button, down: true });
    }
    e.preventDefault();
  });
  canvas.addEventListener('pointermove', (e) => {
    const p = at(canvas, e);
    if (e.pointerType === 'touch') {
      if (!touchSlots.has(e.pointerId)) return;
      queueInput(key, { t: 'touch', phase: 'motion', id: touchSlots.get(e.pointerId), ...p });
      queueInput(key, { t: 'touch-frame' });
    } else queueInput(key, { t: 'move', ...p });
  });
  const up = (e) => {
    const p = at(canvas, e);
    if (e.pointerType === 'touch') {
      if (!touchSlots.has(e.pointerId)) return;
      queueInput(key, { t: 'touch', phase: 'up', id: touchSlots.get(e.pointerId), ...p });
      queueInput(key, { t: 'touch-frame' });
      touchSlots.delete(e.pointerId);
    } else {
      queueInput(key, { t: 'move', ...p });
      queueInput(key, { t: 'button', button: e.button, down: false });
    }
  };
  canvas.addEventListener('pointerup', up);
  canvas.addEventListener('pointercancel', up);
  canvas.addEventListener('wheel', (e) => {
    queueInput(key, { t: 'wheel', steps: e.deltaY < 0 ? 1 : e.deltaY > 0 ? -1 : 0 });
    e.preventDefault();
  }, { passive: false });
  canvas.addEventListener('keydown', (e) => { if (!e.repeat) queueInput(key, { t: 'key', code: e.code, down: true }); e.preventDefault(); });
  canvas.addEventListener('keyup', (e) => { queueInput(key, { t: 'key', code: e.code, down: false }); e.preventDefault(); });
}

function figureFor(key) {
  let f = figures.get(key);
  if (f) return f;
  const fig = document.createElement('figure');
  const canvas = document.createElement('canvas');
  canvas.dataset.key = key;
  canvas.width = 320;
  canvas.height = 200;
  // A composed output's view shows several guests: input goes to a guest through its own view.
  if (!key.startsWith('output/')) attachInput(canvas);
  const cap = document.createElement('figcaption');
  fig.append(canvas, cap);
  screens.append(fig);
  f = { fig, canvas, cap };
  figures.set(key, f);
  return f;
}

function describe(c) {
  if (c.kind === 'output') {
    return c.key + '  composed: ' + c.guests.length + ' of ' + c.entries + ' guest connectors there\\n' + c.layout;
  }
  const fps = c.framesPerSecond === null ? '-' : c.framesPerSecond.toFixed(1);
  return c.key + '  ' + JSON.stringify(c.uniqueId) + ' on ' + JSON.stringify(c.output) + '\\n' +
    c.state + (c.scanout ? ' ' + c.scanout.width + 'x' + c.scanout.height : ' off') + '  ' + (c.path || '-') + (c.buffer === 'be-alloc' ? ' be-alloc' : '') + '  ' + fps + ' fps';
}

function onConnectors(list) {
  window.vdispldViewer.connectors = list;
  const keep = new Set(list.map((c) => c.key));
  for (const [k, f] of figures) if (!keep.has(k)) { f.fig.remove(); figures.delete(k); }
  for (const c of list) {
    const f = figureFor(c.key);
    f.cap.textContent = describe(c);
    f.fig.className = c.kind === 'output' || c.scanout ? '' : 'off';
  }
  emptyEl.hidden = list.length > 0;
}

async function onFrame(ws, data) {
  const view = new DataView(data);
  const n = view.getUint32(0);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(data, 4, n)));
  const png = new Blob([new Uint8Array(data, 4 + n)], { type: 'image/png' });
  try {
    const bitmap = await createImageBitmap(png);
    const f = figureFor(header.key);
    if (f.canvas.width !== header.width || f.canvas.height !== header.height) {
      f.canvas.width = header.width;
      f.canvas.height = header.height;
    }
    f.canvas.getContext('2d').drawImage(bitmap, 0, 0);
    bitmap.close();
    f.canvas.dataset.sequence = String(header.sequence);
    window.vdispldViewer.frames[header.key] = header.sequence;
  } finally {
    // Ask for the next frame only once this one is on screen: a slow browser gets fewer frames.
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'ack', key: header.key }));
  }
}

function connect() {
  const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
  ws.binaryType = 'arraybuffer';
  socket = ws;
  ws.onopen = () => { stateEl.textContent = 'live'; };
  ws.onclose = () => { stateEl.textContent = 'disconnected, retrying…'; setTimeout(connect, 1000); };
  ws.onmessage = (ev) => {
    if (typeof ev.data === 'string') {
      const m = JSON.parse(ev.data);
      if (m.type === 'connectors') { window.vdispldViewer.input = m.input === true; onConnectors(m.connectors); }
    } else {
      onFrame(ws, ev.data);
    }
  };
}
connect();
</script>
</body>
</html>
`;
