// The simulated Xen host, as its users (backend tests, the demo, benchmarks) need it.
export { SimHost, SimGuest, type SimHostOptions, type CreateDomainOptions, type DestroyOptions } from './host.js';
export { SimPlatform, type SimPlatformOptions, type SimExportedDmaBuf } from './platform.js';
export { DomainKernel, type ForeignMapping, type OwnPages } from './domain-kernel.js';
export { SimHypervisor, type DomainSpec, type GrantStats } from './hv/hypervisor.js';
export { Toolstack, LIBXL_DESTROY_TIMEOUT_MS, vdisplPaths, type VdisplPaths, type RemovalResult } from './toolstack.js';
export {
  parseVdisplSpec,
  formatVdisplSpec,
  VdisplSpecError,
  type VdisplConfig,
  type VdisplConnector,
} from './vdispl-config.js';
export {
  decodeFrame,
  decodeFrameBuffer,
  decodeFrameRgba,
  drawFrame,
  type DecodedFrame,
  type FrameTag,
} from './frontend/pattern.js';
export type {
  Behaviour,
  DisplayBehaviour,
  HostileBehaviour,
  HostileAttack,
  FrontendReport,
  FrontendCommand,
  ScriptStep,
  StepResult,
  FlipOutcome,
} from './frontend/protocol.js';
