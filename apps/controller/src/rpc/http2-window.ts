import type { Http2Server, ServerHttp2Session } from 'node:http2';

import type * as grpc from '@grpc/grpc-js';

/** Per-stream and per-connection HTTP/2 receive window for the controller's gRPC side. */
export const HTTP2_WINDOW_BYTES = 8 * 1024 * 1024;

/**
 * grpc-js (1.14) leaves its server's HTTP/2 receive window at the 64 KiB default and ignores
 * `grpc-node.flow_control_window` on the server side (https://github.com/grpc/grpc-node/pull/3058,
 * still open). With 64 KiB per round trip, a tunnel's worker -> controller direction crawls at
 * about 1.5 MB/s over a 20 ms link. Until that lands we set the window ourselves on the HTTP/2
 * server(s) behind our connection injector: the advertised initial window for every stream, and
 * the connection window of every session. This reads grpc-js's private `http2Servers` map; if a
 * release renames it, we say so and keep the default rather than fail.
 */
export function raiseHttp2Windows(
  server: grpc.Server,
  windowBytes: number,
  warn: (message: string) => void,
): void {
  const servers = (server as unknown as { http2Servers?: Map<Http2Server, unknown> }).http2Servers;
  if (!(servers instanceof Map) || servers.size === 0) {
    warn(
      'cannot raise the gRPC HTTP/2 window (grpc-js internals changed); tunnels may be slow over long links',
    );
    return;
  }
  for (const http2Server of servers.keys()) {
    http2Server.updateSettings({ initialWindowSize: windowBytes });
    http2Server.on('session', (session: ServerHttp2Session) => {
      session.setLocalWindowSize(windowBytes);
    });
  }
}
