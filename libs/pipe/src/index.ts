/**
 * The one place bytes are spliced: the controller, the worker and the CLI move port-forwarded
 * bytes only through this library.
 *
 *   splice(a, b, { signal })       two byte Duplexes, both ways: backpressure, half-close, first
 *                                  error wins, a normal close is no error, live byte counters
 *   webSocketDuplex(ws, options)   a `ws` WebSocket (either side) as a byte Duplex: binary
 *                                  messages, coalesced writes, ws.pause() on a full buffer
 *   grpcDuplex(call, options)      either end of Controller.PortForward as a byte Duplex
 *   tunnelMaskOptions(url)         a client WebSocket's masking: none where no one can read
 *                                  the frames (TLS, loopback), RFC 6455's random mask elsewhere
 *
 * A TCP connection needs no adapter: a net.Socket is a byte Duplex already. Create it with
 * `allowHalfOpen: true` (net.connect({ allowHalfOpen: true }), net.createServer({ allowHalfOpen:
 * true })), or Node ends its writable side as soon as its readable side ends, and a half-close
 * coming through the tunnel becomes a full close.
 *
 * Half-close across a tunnel: a socket ending its side arrives as end() on the WebSocket or gRPC
 * duplex. Orchard's wire has no way to carry that (a WebSocket close frame and a gRPC server
 * status both end the whole stream), so by default end() closes the transport, as Orchard does.
 * The `halfClose` option turns on an extension: an empty message is end-of-stream in one
 * direction, and the transport closes when both directions have ended. Peers agree on it first
 * (the `x-orchard-half-close` header on the WebSocket upgrade and its 101, the `half_close`
 * instruction field and `x-orchard-half-close` metadata on gRPC): an Orchard peer ignores empty
 * messages.
 *
 * Memory per tunnel is bounded by the streams' high-water marks: each message duplex has one
 * message in flight and coalesces what was written meanwhile (64 KiB read and write buffers
 * and 1 MiB messages by default); see the options of {@link MessageDuplexOptions}.
 */
export { GrpcCancelledError, NORMAL_CLOSE_CODES, WebSocketCloseError } from './errors.js';
export {
  grpcDuplex,
  type GrpcDuplexOptions,
  type PortForwardClientCall,
  type PortForwardServerCall,
} from './grpc-duplex.js';
export {
  DEFAULT_READABLE_HIGH_WATER_MARK,
  DEFAULT_WRITABLE_HIGH_WATER_MARK,
  type MessageDuplexOptions,
} from './message-duplex.js';
export { DEFAULT_MAX_MESSAGE_SIZE } from './messages.js';
export { splice, type Splice, type SpliceOptions, type SpliceResult } from './splice.js';
export { webSocketDuplex, type WebSocketDuplexOptions } from './websocket-duplex.js';
export { tunnelMaskOptions } from './websocket-mask.js';
