// A request that fails with a XenStore error. Operations throw it; the dispatcher turns it into an
// ERROR reply, so nothing a client sends can make an exception escape.
import type { XsWireErrorName } from '../../xenstore/wire.js';

export class XsFailure extends Error {
  constructor(
    readonly xsError: XsWireErrorName,
    detail?: string,
  ) {
    super(detail ?? xsError);
    this.name = 'XsFailure';
  }
}

export function fail(xsError: XsWireErrorName, detail?: string): never {
  throw new XsFailure(xsError, detail);
}
