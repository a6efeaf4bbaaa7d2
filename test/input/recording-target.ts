// A vkbd stand-in for the router's tests: it records what the router sends it.
import type { InputTarget } from '../../src/input/target.js';
import type { KbdEvent } from '../../src/kbdif/events.js';

export function recordingTarget(domid: number, over: Partial<InputTarget> = {}): InputTarget & { got: KbdEvent[] } {
  const got: KbdEvent[] = [];
  return {
    domid,
    devId: 0,
    uniqueId: 'id0',
    width: 640,
    height: 480,
    absPointer: true,
    rawPointer: false,
    multiTouch: true,
    keyboard: true,
    pointer: true,
    send: (e) => void got.push(...e),
    got,
    ...over,
  };
}
