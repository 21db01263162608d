import type { Http2Server, ServerHttp2Session } from 'node:http2';

import type * as grpc from '@grpc/grpc-js';

/**
 * The controller's HTTP/2 receive window of one stream. A PortForward stream whose user reads
 * slower than the VM sends buffers up to this much in the controller before the worker must wait:
 * it bounds a tunnel's memory here. It also caps one tunnel's download over a worker link with
 * round-trip time RTT: the window is handed back in halves (nghttp2 sends WINDOW_UPDATE once half
 * of it was read), so about window / 2 per RTT: 2 MiB is some 50 MB/s at 20 ms, 1 GB/s at 1 ms.
 * (1 MiB measured 24 MB/s at 21 ms; HTTP/2's default 64 KiB, about 1.5 MB/s.)
 */
export const HTTP2_STREAM_WINDOW_BYTES = 2 * 1024 * 1024;

/**
 * The controller's HTTP/2 connection receive window for each worker: shared by all the worker's
 * streams. Node hands connection-level window back as soon as data arrives (only the stream
 * window waits for the reader), so this bounds bytes in flight per round trip across a worker's
 * tunnels, not memory: 8 MiB, handed back in halves, is about 200 MB/s at 20 ms.
 */
export const HTTP2_CONNECTION_WINDOW_BYTES = 8 * 1024 * 1024;

export interface Http2Windows {
  /** Advertised initial window of every stream (SETTINGS_INITIAL_WINDOW_SIZE). */
  streamBytes: number;
  /** Window of every session (connection-level WINDOW_UPDATE). */
  connectionBytes: number;
}

/**
 * grpc-js (1.14) leaves its server's HTTP/2 receive windows at the 64 KiB default and ignores
 * `grpc-node.flow_control_window` on the server side (https://github.com/grpc/grpc-node/pull/3058,
 * still open). With 64 KiB per round trip, a tunnel's worker -> controller direction crawls at
 * about 1.5 MB/s over a 20 ms link. Until that lands we set the windows ourselves on the HTTP/2
 * server(s) behind our connection injector: the advertised initial window of every stream, and
 * the connection window of every session. This reads grpc-js's private `http2Servers` map; if a
 * release renames it, we say so and keep the defaults rather than fail.
 */
export function raiseHttp2Windows(
  server: grpc.Server,
  windows: Http2Windows,
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
    http2Server.updateSettings({ initialWindowSize: windows.streamBytes });
    http2Server.on('session', (session: ServerHttp2Session) => {
      session.setLocalWindowSize(windows.connectionBytes);
    });
  }
}
