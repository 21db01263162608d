import type { Http2Server, ServerHttp2Session } from 'node:http2';

import type * as grpc from '@grpc/grpc-js';

/**
 * The controller's HTTP/2 receive window of one stream, at most. A PortForward stream whose user
 * reads slower than the VM sends buffers up to its window in the controller before the worker
 * must wait: the window bounds a tunnel's memory here. It also caps one tunnel's download over a
 * worker link with round-trip time RTT: the window is handed back in halves (nghttp2 sends
 * WINDOW_UPDATE once half of it was read), so about window / 2 per RTT: 2 MiB is some 50 MB/s at
 * 20 ms, 1 GB/s at 1 ms. (1 MiB measured 24 MB/s at 21 ms; HTTP/2's default 64 KiB, about
 * 1.5 MB/s.)
 */
export const HTTP2_STREAM_WINDOW_BYTES = 2 * 1024 * 1024;

/**
 * What the streams of one worker's connection may hold in the controller together: with many
 * tunnels open, each stream's window shrinks to its share (see {@link streamWindowFor}), so a
 * thousand slow users cannot make the controller hold a thousand full windows.
 */
export const HTTP2_SESSION_BUDGET_BYTES = 64 * 1024 * 1024;

/** HTTP/2's default stream window: the floor, however many streams share the budget. */
export const HTTP2_MIN_STREAM_WINDOW_BYTES = 65_535;

/**
 * The controller's HTTP/2 connection receive window for each worker: shared by all the worker's
 * streams. Node hands connection-level window back as soon as data arrives (only the stream
 * window waits for the reader), so this bounds bytes in flight per round trip across a worker's
 * tunnels, not memory: 8 MiB, handed back in halves, is about 200 MB/s at 20 ms.
 */
export const HTTP2_CONNECTION_WINDOW_BYTES = 8 * 1024 * 1024;

export interface Http2Windows {
  /** Window of a stream while few are open (SETTINGS_INITIAL_WINDOW_SIZE). */
  streamBytes: number;
  /** Window of a stream however many are open. */
  minStreamBytes: number;
  /** What all the streams of one session may be granted together. */
  sessionBudgetBytes: number;
  /** Window of every session (connection-level WINDOW_UPDATE). */
  connectionBytes: number;
}

/**
 * The stream window for `openStreams` streams sharing a session: the budget split evenly, rounded
 * down to a power of two (so that the setting changes only when the count crosses a boundary),
 * within [minStreamBytes, streamBytes].
 */
export function streamWindowFor(openStreams: number, windows: Http2Windows): number {
  const share = windows.sessionBudgetBytes / Math.max(1, openStreams);
  const rounded = 2 ** Math.floor(Math.log2(Math.max(1, share)));
  return Math.max(windows.minStreamBytes, Math.min(windows.streamBytes, rounded));
}

/**
 * grpc-js (1.14) leaves its server's HTTP/2 receive windows at the 64 KiB default and ignores
 * `grpc-node.flow_control_window` on the server side (https://github.com/grpc/grpc-node/pull/3058,
 * still open). With 64 KiB per round trip, a tunnel's worker -> controller direction crawls at
 * about 1.5 MB/s over a 20 ms link. Until that lands we set the windows ourselves on the HTTP/2
 * server(s) behind our connection injector: the connection window of every session, and the
 * initial window of its streams, which follows the number of streams open on the session
 * ({@link streamWindowFor}; a new SETTINGS_INITIAL_WINDOW_SIZE also moves the windows of the
 * streams already open, RFC 9113 section 6.9.2). This reads grpc-js's private `http2Servers`
 * map; if a release renames it, we say so and keep the defaults rather than fail.
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
      followOpenStreams(session, windows);
    });
  }
}

/** Keeps the session's stream window at {@link streamWindowFor} its open streams. */
function followOpenStreams(session: ServerHttp2Session, windows: Http2Windows): void {
  let open = 0;
  let granted = windows.streamBytes;
  const adjust = () => {
    if (session.destroyed || session.closed) return;
    // One change in flight at a time (Node refuses more than a few unacknowledged ones); the
    // acknowledgement ('localSettings') brings us back here.
    if (session.pendingSettingsAck) return;
    const wanted = streamWindowFor(open, windows);
    if (wanted === granted) return;
    granted = wanted;
    session.settings({ initialWindowSize: wanted });
  };
  session.on('localSettings', adjust);
  session.on('stream', (stream) => {
    open += 1;
    adjust();
    stream.once('close', () => {
      open -= 1;
      adjust();
    });
  });
}
