import type { Duplex } from 'node:stream';

import WebSocket from 'ws';

import { NORMAL_CLOSE_CODES, WebSocketCloseError } from './errors.js';
import { MessageDuplex, type MessageDuplexOptions } from './message-duplex.js';

export type WebSocketDuplexOptions = MessageDuplexOptions;

const EMPTY = Buffer.alloc(0);
/** RFC 6455: a close frame's reason fits in 123 bytes. */
const MAX_CLOSE_REASON_BYTES = 123;

/**
 * Adapts a `ws` WebSocket (either side, open or still connecting) to a byte Duplex: each binary
 * message carries raw tunnel bytes, chunk boundaries mean nothing. A text message is a protocol
 * violation: the socket closes with 1003 (Unsupported Data), as Orchard's `websocket.NetConn`
 * does, and the duplex is destroyed with a {@link WebSocketCloseError}.
 *
 * end() closes the WebSocket with 1000 (or, with `halfClose`, sends an empty message); a close
 * with 1000, 1001 or 1005 ends the readable side; any other close code, or a socket error,
 * destroys the duplex. destroy(error) closes with 1011 (or the error's close code when it is a
 * {@link WebSocketCloseError}) so that the peer learns the tunnel failed.
 *
 * Tunnels must not compress: create both ends with `perMessageDeflate: false` (ws enables it by
 * default on clients and servers); messages sent here also opt out with `compress: false`. Set
 * `maxPayload` on the receiving side to at least `maxMessageSize` (ws's default is 100 MiB, which
 * would let a peer make us hold that much for one message).
 *
 * The duplex sets `ws.binaryType` to 'nodebuffer' and pauses the socket (ws.pause()) while its
 * readable buffer is full.
 */
export function webSocketDuplex(ws: WebSocket, options: WebSocketDuplexOptions = {}): Duplex {
  return new WebSocketDuplex(ws, options);
}

class WebSocketDuplex extends MessageDuplex {
  constructor(
    private readonly ws: WebSocket,
    options: WebSocketDuplexOptions,
  ) {
    super(options);
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      if (isBinary) this.receiveMessage(toBuffer(data));
      else this.destroy(new WebSocketCloseError(1003, 'text messages are not supported on a tunnel'));
    });
    ws.on('close', (code: number, reason: Buffer) => {
      if (this.destroyed) return;
      if (NORMAL_CLOSE_CODES.has(code)) this.transportClosed();
      else this.destroy(new WebSocketCloseError(code, reason.toString()));
    });
    // Kept for the socket's lifetime: ws emits 'error' (then 'close') on protocol and socket errors.
    ws.on('error', (error: Error) => {
      if (!this.destroyed) this.destroy(error);
    });
    if (ws.readyState === WebSocket.CLOSED)
      process.nextTick(() => this.destroy(new Error('the WebSocket is already closed')));
  }

  protected sendMessages(messages: Buffer[], callback: (error?: Error | null) => void): void {
    if (this.whenOpen(() => this.sendMessages(messages, callback))) return;
    // Closing: the 'close' event says whether that was normal; what was not sent is moot.
    if (this.ws.readyState !== WebSocket.OPEN) return callback();
    let remaining = messages.length;
    let settled = false;
    const onSent = (error?: Error) => {
      if (settled || (!error && --remaining > 0)) return;
      settled = true;
      callback(error && this.ws.readyState === WebSocket.OPEN ? error : null);
    };
    for (const message of messages) this.ws.send(message, { binary: true, compress: false }, onSent);
  }

  protected sendEndOfStream(callback: (error?: Error | null) => void): void {
    if (this.whenOpen(() => this.sendEndOfStream(callback))) return;
    if (this.ws.readyState !== WebSocket.OPEN) return callback();
    this.ws.send(EMPTY, { binary: true, compress: false }, (error) =>
      callback(error && this.ws.readyState === WebSocket.OPEN ? error : null),
    );
  }

  protected endTransport(callback: (error?: Error | null) => void): void {
    if (this.whenOpen(() => this.endTransport(callback))) return;
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    flowUntilClosed(this.ws);
    callback();
  }

  protected finishTransport(): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    flowUntilClosed(this.ws);
  }

  protected pauseTransport(): void {
    this.ws.pause();
  }

  protected resumeTransport(): void {
    this.ws.resume();
  }

  protected destroyTransport(error: Error | null, callback: (error: Error | null) => void): void {
    const ws = this.ws;
    if (ws.readyState === WebSocket.CLOSED) return callback(error);
    if (ws.readyState === WebSocket.CONNECTING) {
      ws.terminate();
      return callback(error);
    }
    if (error) {
      if (ws.readyState === WebSocket.OPEN) ws.close(closeCodeFor(error), closeReason(error.message));
      flowUntilClosed(ws);
      return callback(error);
    }
    if (ws.readyState === WebSocket.OPEN) ws.close(1000);
    flowUntilClosed(ws);
    ws.once('close', () => callback(null));
  }

  /** Defers `action` until the socket opens; false when it is not connecting any more. */
  private whenOpen(action: () => void): boolean {
    if (this.ws.readyState !== WebSocket.CONNECTING) return false;
    this.ws.once('open', action);
    return true;
  }
}

/**
 * A WebSocket paused for backpressure would never read the peer's answer to our close frame, and
 * the close would wait for ws's 30 s timeout: nothing is read into the duplex any more, so let
 * the socket flow.
 */
function flowUntilClosed(ws: WebSocket): void {
  if (ws.isPaused) ws.resume();
}

function toBuffer(data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** The close codes an endpoint may send (RFC 6455 section 7.4, ws's isValidStatusCode). */
function isSendableCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1014 && ![1004, 1005, 1006].includes(code)) || (code >= 3000 && code <= 4999)
  );
}

function closeCodeFor(error: Error): number {
  return error instanceof WebSocketCloseError && isSendableCloseCode(error.closeCode)
    ? error.closeCode
    : 1011;
}

function closeReason(message: string): string {
  let reason = message;
  while (Buffer.byteLength(reason) > MAX_CLOSE_REASON_BYTES) reason = reason.slice(0, -1);
  return reason;
}
