// The input scenario's reading of a guest's evdev recording (lib/evdev-trace.ts): devices by name
// with their axes, keys in order, pointer frames with the kernel's dropped unchanged axes, touch
// frames as the contacts down after each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keyTrace, parseRecording, pointerTrace, touchTrace } from '../lib/evdev-trace.js';

const REC = [
  'dev event0 Xen Virtual Keyboard',
  'dev event1 Xen Virtual Pointer',
  'abs event1 0 0 800',
  'abs event1 1 0 600',
  'dev event2 Xen Virtual Multi-touch',
  'abs event2 53 0 800',
  'recording 3 devices',
  'ev event0 1 30 1',
  'ev event0 0 0 0',
  'ev event0 1 30 0',
  'ev event0 0 0 0',
  // x and y, then x alone (y unchanged is not sent), then a button
  'ev event1 3 0 400',
  'ev event1 3 1 300',
  'ev event1 0 0 0',
  'ev event1 3 0 0',
  'ev event1 0 0 0',
  'ev event1 1 272 1',
  'ev event1 0 0 0',
  // slot 0 down, slot 1 down, slot 0 up (with the kernel's single-touch emulation mixed in)
  'ev event2 3 47 0',
  'ev event2 3 57 5',
  'ev event2 3 53 200',
  'ev event2 3 54 150',
  'ev event2 1 330 1',
  'ev event2 3 0 200',
  'ev event2 0 0 0',
  'ev event2 3 47 1',
  'ev event2 3 57 6',
  'ev event2 3 53 600',
  'ev event2 3 54 300',
  'ev event2 0 0 0',
  'ev event2 3 47 0',
  'ev event2 3 57 -1',
  'ev event2 0 0 0',
  'ev event9 1 1 1',
].join('\n');

void test('a recording: devices and axes, keys, pointer frames, touch frames', () => {
  const rec = parseRecording(REC);
  assert.deepEqual([...rec.keys()], ['Xen Virtual Keyboard', 'Xen Virtual Pointer', 'Xen Virtual Multi-touch']);
  assert.deepEqual(rec.get('Xen Virtual Pointer')!.abs.get(1), [0, 600]);
  assert.deepEqual(keyTrace(rec.get('Xen Virtual Keyboard')!.events), ['30:1', '30:0']);
  assert.deepEqual(pointerTrace(rec.get('Xen Virtual Pointer')!.events), ['pos 400,300', 'pos 0,300', 'key 272:1']);
  assert.deepEqual(touchTrace(rec.get('Xen Virtual Multi-touch')!.events), [
    '0:200,150',
    '0:200,150 1:600,300',
    '1:600,300',
  ]);
});
