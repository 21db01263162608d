import type { Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

import { AlwaysReadingSocket } from './always-reading-socket.js';

/** Every HTTP/2 connection starts with this preface; no HTTP/1.1 request line starts with "PRI ". */
const HTTP2_PREFACE_START = Buffer.from('PRI ');

export interface SharedListener {
  /**
   * Destroys the connections the HTTP server does not manage (gRPC ones and those that have not
   * sent a byte yet): the server accepted them, so its close() would wait for them forever.
   */
  destroyNonHttpConnections(): void;
}

/**
 * Serves gRPC on the HTTP server's own port: each new connection is peeked at, HTTP/2
 * (prior-knowledge, as gRPC clients speak it in cleartext) goes to grpc-js, everything else to
 * the HTTP/1.1 server (REST and WebSocket). Must run before the server listens.
 */
export function shareListenerWithGrpc(
  server: HttpServer,
  injector: { injectConnection(connection: Duplex): void },
): SharedListener {
  const httpListeners = server.listeners('connection') as ((socket: Socket) => void)[];
  const notHttp = new Set<Socket>();
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    notHttp.add(socket);
    socket.once('close', () => notHttp.delete(socket));
    let peeked = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      peeked = Buffer.concat([peeked, chunk]);
      const decided =
        peeked.length >= HTTP2_PREFACE_START.length ||
        !HTTP2_PREFACE_START.subarray(0, peeked.length).equals(peeked);
      if (!decided) return;
      socket.off('data', onData);
      socket.off('error', onError);
      socket.pause();
      socket.unshift(peeked);
      if (peeked.subarray(0, HTTP2_PREFACE_START.length).equals(HTTP2_PREFACE_START)) {
        // The HTTP server accepts its connections half-open, and Node's HTTP/2 session does
        // nothing when the peer's FIN arrives (nor when a write fails): a worker that died would
        // hold its session, and every tunnel on it, until keepalive gave up on it. HTTP/2 has no
        // use for a half-closed connection, so the peer's end is the connection's end.
        socket.once('end', () => socket.destroy());
        // Do not resume() before injecting: grpc-js's HTTP/2 session must read the preface itself.
        // The session gets a stream that never holds its reads back behind a full send buffer
        // (see always-reading-socket.ts: a write deadlock in Node's HTTP/2 otherwise).
        injector.injectConnection(new AlwaysReadingSocket(socket));
      } else {
        notHttp.delete(socket);
        for (const listener of httpListeners) listener.call(server, socket);
        socket.resume();
      }
    };
    // A client that connects and fails before sending anything is nobody's business.
    const onError = () => socket.destroy();
    socket.on('data', onData);
    socket.on('error', onError);
  });
  return {
    destroyNonHttpConnections: () => {
      for (const socket of notHttp) socket.destroy();
      notHttp.clear();
    },
  };
}
