// The --card value of `run` and `outputs`: a DRM device node under /dev/dri (or `auto` where the
// command can pick one). Checked while parsing, so a wrong path exits 2 with one line naming the
// option; whether the device exists is the command's business when it opens it.
import { InvalidArgumentError } from 'commander';

const CARD = /^\/dev\/dri\/[A-Za-z0-9_-]{1,32}$/;

export function cardArgument(allowAuto: boolean): (value: string) => string {
  return (value) => {
    if (CARD.test(value) || (allowAuto && value === 'auto')) return value;
    throw new InvalidArgumentError(`expected ${allowAuto ? "'auto' or " : ''}a DRM device such as /dev/dri/card0`);
  };
}
