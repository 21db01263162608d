import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';

/**
 * More than this waiting to go out to one worker means it stopped reading its connection
 * altogether (flow control keeps a reading peer far below it): the connection is given up.
 */
export const MAX_UNSENT_BYTES = 64 * 1024 * 1024;

/**
 * The socket of a worker's gRPC connection, as the controller's HTTP/2 session sees it.
 *
 * Node's HTTP/2 session stops reading its socket while one of its writes is in progress
 * (`Http2Session::MaybeStopReading` in node's src/node_http2.cc), that is while the kernel's send
 * buffer is full. When both ends of a connection do that at once, neither reads again: with many
 * busy tunnels in both directions on one worker's connection, both send buffers fill, and every
 * tunnel and the Watch stream of that worker freeze until keepalive drops the connection (the
 * write deadlock of https://github.com/libp2p/rust-yamux/pull/104, in Node's HTTP/2). grpc-js's
 * client, on the worker, behaves the same way, and a Go worker does not (it reads and writes from
 * separate goroutines), so breaking the cycle on the controller's side is enough.
 *
 * Here a write completes as soon as it is queued on the socket: the session never waits for the
 * peer to read before it reads again. What is queued stays bounded by the peer's HTTP/2
 * flow-control windows (DATA frames never exceed them, and the peer grants more only as it reads)
 * plus a few control frames; past {@link MAX_UNSENT_BYTES} the connection is destroyed.
 *
 * Reading keeps the session's own backpressure: the socket is paused while the session has not
 * taken what was read.
 */
export class AlwaysReadingSocket extends Duplex {
  constructor(private readonly socket: Socket) {
    super({ allowHalfOpen: false });
    // Frames go out as the session writes them: a gRPC message or a ping ack must not wait.
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (error: Error) => this.destroy(error));
    socket.on('close', () => this.destroy());
  }

  /** What grpc-js reports as the worker's address (call.getPeer()). */
  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }

  get localAddress(): string | undefined {
    return this.socket.localAddress;
  }

  get localPort(): number | undefined {
    return this.socket.localPort;
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.socket.write(chunk);
    this.afterQueueing(callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    this.socket.cork();
    for (const { chunk } of chunks) this.socket.write(chunk);
    this.socket.uncork();
    this.afterQueueing(callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    this.socket.destroy();
    callback(error);
  }

  private afterQueueing(callback: (error?: Error | null) => void): void {
    if (this.socket.writableLength > MAX_UNSENT_BYTES) {
      callback(
        new Error(
          `the worker has not read ${this.socket.writableLength} bytes of its gRPC connection; dropping it`,
        ),
      );
      return;
    }
    callback();
  }
}
