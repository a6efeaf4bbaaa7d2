// An output backend whose outputs fail on command, around a headless backend: flips dropped (the
// display said no), flips that throw, modesets that are refused. What a KMS output does when the
// card goes away, another process takes DRM master or a commit is rejected.
import type { HeadlessBackend } from '../../../src/drm/headless/headless-backend.js';
import type {
  FlipResult,
  FramebufferDesc,
  Output,
  OutputBackend,
  OutputBackendEvents,
  OutputBackendResources,
  OutputConfig,
} from '../../../src/drm/output.js';
import { emitter } from '../../../src/util/events.js';
import type { DomId } from '../../../src/util/ids.js';
import type { GrantedBuffer, XenPlatform } from '../../../src/xen/platform.js';

export interface FailureMode {
  /** Every nth flip is reported not shown. 0: never. */
  dropEvery: number;
  /** Every nth flip throws from flip() itself. 0: never. */
  throwEvery: number;
  /** The next n setConfig calls reject with EIO. */
  refuseModesets: number;
  /**
   * While set, a modeset to a configuration (not a disable) takes effect only when this settles: a
   * display whose commit takes longer than the backend's deadline. Read at each call.
   */
  modesetGate?: Promise<void>;
  /** Each setConfig waits for the one before (as KMS serialises modesets); otherwise a disable takes effect at once. */
  serialise?: boolean;
}

class FailingOutput implements Output {
  private flips = 0;
  injected = 0;
  /** The last modeset asked for, settled or not (serialised mode). */
  private configuring: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly inner: Output,
    private readonly mode: FailureMode,
  ) {}

  get name(): string {
    return this.inner.name;
  }

  get modes(): Output['modes'] {
    return this.inner.modes;
  }

  setConfig(cfg: OutputConfig | null): Promise<void> {
    if (cfg !== null && this.mode.refuseModesets > 0) {
      this.mode.refuseModesets--;
      this.injected++;
      return Promise.reject(Object.assign(new Error(`output ${this.name}: modeset refused (injected)`), { errno: 5 }));
    }
    const gate = cfg !== null ? this.mode.modesetGate : undefined;
    if (gate) this.injected++;
    const apply = (): Promise<void> => (gate ? gate.then(() => this.inner.setConfig(cfg)) : this.inner.setConfig(cfg));
    if (!this.mode.serialise) return apply();
    const run = this.configuring.then(apply);
    // The next modeset waits for this one whatever its outcome; the caller sees the outcome through `run`.
    this.configuring = run.catch(() => undefined);
    return run;
  }

  flip(fb: FramebufferDesc, done: (r: FlipResult) => void): void {
    this.flips++;
    if (this.mode.throwEvery > 0 && this.flips % this.mode.throwEvery === 0) {
      this.injected++;
      throw new Error(`output ${this.name}: flip failed (injected throw)`);
    }
    if (this.mode.dropEvery > 0 && this.flips % this.mode.dropEvery === 0) {
      this.injected++;
      setImmediate(done, { shown: false, reason: 'injected failure' });
      return;
    }
    this.inner.flip(fb, done);
  }

  release(fb: FramebufferDesc): void {
    this.inner.release(fb);
  }

  currentFrame(): ReturnType<Output['currentFrame']> {
    return this.inner.currentFrame();
  }

  pathOf(fb: FramebufferDesc): ReturnType<Output['pathOf']> {
    return this.inner.pathOf(fb);
  }
}

export class FailingBackend implements OutputBackend {
  readonly kind = 'headless' as const;
  /** The wrapped backend's outputs never come or go during a campaign. */
  readonly events = emitter<OutputBackendEvents>();
  private readonly wrapped = new Map<string, FailingOutput>();

  constructor(
    private readonly inner: HeadlessBackend,
    readonly mode: FailureMode,
  ) {
    for (const o of inner.outputs()) this.wrapped.set(o.name, new FailingOutput(o, mode));
  }

  get injected(): number {
    let n = 0;
    for (const o of this.wrapped.values()) n += o.injected;
    return n;
  }

  outputs(): readonly Output[] {
    return [...this.wrapped.values()];
  }

  output(name: string): Output | undefined {
    return this.wrapped.get(name);
  }

  allocateGuestBuffer(platform: XenPlatform, domid: DomId, size: number): Promise<GrantedBuffer> {
    return this.inner.allocateGuestBuffer(platform, domid, size);
  }

  resources(): OutputBackendResources {
    return this.inner.resources();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
