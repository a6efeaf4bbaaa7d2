// The XenStore client and its transports. The backend depends on ./types.js only.
export { XenStoreClient, type ConnectOptions, type ReconnectPolicy, type XenStoreClientStats } from './client.js';
export {
  selectTransport,
  firstWorking,
  socketPathFrom,
  xenbusPathFrom,
  DEFAULT_SOCKET_PATH,
  type TransportChoice,
} from './select-transport.js';
export { unixSocketTransport } from './transport-unix.js';
export type { Transport, TransportSink, TransportStream, XenbusTransportFactory } from './transport.js';
export * from './types.js';
