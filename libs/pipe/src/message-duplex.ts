import { Duplex } from 'node:stream';

import { DEFAULT_MAX_MESSAGE_SIZE, packMessages } from './messages.js';

/** Default readable buffer of a message duplex before its transport is paused. */
export const DEFAULT_READABLE_HIGH_WATER_MARK = 64 * 1024;
/** Default writable buffer of a message duplex; what accumulates here goes out as one message. */
export const DEFAULT_WRITABLE_HIGH_WATER_MARK = 64 * 1024;

export interface MessageDuplexOptions {
  /**
   * Largest message sent, in bytes (default 1 MiB). Writes buffered while the previous message
   * was in flight are coalesced into one message up to this size. The receiver must accept it
   * (ws `maxPayload`, grpc `grpc.max_receive_message_length`, 4 MiB by default).
   */
  maxMessageSize?: number;
  /**
   * Speak the half-close extension (default false, Orchard's wire behaviour). With it, end()
   * sends an empty message and an empty message received ends the readable side; the transport
   * itself (WebSocket close, gRPC status) closes once both directions have ended. Without it an
   * empty message carries zero bytes and is ignored, and end() closes the transport (a
   * WebSocket close, a gRPC server's status) except on a gRPC client, where it is the call's own
   * half-close. Enable it only when both peers have agreed on it (a WebSocket subprotocol, gRPC
   * metadata): a peer that does not know it would never see end-of-stream.
   */
  halfClose?: boolean;
  /** Bytes buffered for reading before the transport is paused (default 64 KiB). */
  readableHighWaterMark?: number;
  /** Bytes buffered for writing before write() returns false (default 64 KiB). */
  writableHighWaterMark?: number;
}

type Callback = (error?: Error | null) => void;

/**
 * A byte Duplex over a message transport (WebSocket, gRPC stream). One message is in flight at a
 * time: what is written meanwhile waits in the writable buffer (bounded by its high-water mark)
 * and goes out as one coalesced message when the previous one has been handed to the socket.
 * Reading pushes each message's bytes and pauses the transport while the readable buffer is full.
 *
 * A transport that closes normally ends the readable side; data still buffered for reading is
 * delivered, then the duplex destroys itself (without error) if its writable side had not
 * finished, since nothing written can reach the peer any more.
 */
export abstract class MessageDuplex extends Duplex {
  protected readonly maxMessageSize: number;
  protected readonly halfClose: boolean;
  private transportPaused = false;
  private endReceived = false;
  /** The transport closed normally: it carries nothing more in either direction. */
  private transportGone = false;
  private transportFinished = false;

  protected constructor(options: MessageDuplexOptions = {}) {
    super({
      allowHalfOpen: true,
      decodeStrings: true,
      readableHighWaterMark: options.readableHighWaterMark ?? DEFAULT_READABLE_HIGH_WATER_MARK,
      writableHighWaterMark: options.writableHighWaterMark ?? DEFAULT_WRITABLE_HIGH_WATER_MARK,
    });
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    if (!Number.isInteger(this.maxMessageSize) || this.maxMessageSize < 1)
      throw new RangeError(`maxMessageSize must be a positive integer, got ${this.maxMessageSize}`);
    this.halfClose = options.halfClose ?? false;
    this.once('finish', () => this.maybeFinishTransport());
  }

  /** Sends the messages in order; calls back once the last one has been handed to the socket. */
  protected abstract sendMessages(messages: Buffer[], callback: Callback): void;
  /** Sends the half-close extension's end-of-stream marker (an empty message). */
  protected abstract sendEndOfStream(callback: Callback): void;
  /** end() without the half-close extension. */
  protected abstract endTransport(callback: Callback): void;
  /** With the half-close extension: both directions have ended, close the transport normally. */
  protected abstract finishTransport(): void;
  protected abstract pauseTransport(): void;
  protected abstract resumeTransport(): void;
  /** Tears the transport down: normally when `error` is null, otherwise telling the peer it failed. */
  protected abstract destroyTransport(error: Error | null, callback: (error: Error | null) => void): void;

  /** For subclasses: a message arrived. */
  protected receiveMessage(data: Buffer): void {
    if (this.endReceived || this.destroyed) return;
    if (data.length === 0) {
      if (this.halfClose) this.receiveEnd();
      return;
    }
    if (!this.push(data) && !this.transportPaused) {
      this.transportPaused = true;
      this.pauseTransport();
    }
  }

  /** For subclasses: the peer will send nothing more (end-of-stream marker or its half-close). */
  protected receiveEnd(): void {
    if (this.endReceived || this.destroyed) return;
    this.endReceived = true;
    this.push(null);
    // Nothing more will be read from here on, so _read() may never come: keep the transport
    // flowing, or the closing handshake behind the end-of-stream (a close frame, a gRPC status)
    // would wait unread.
    this.resumeIfPaused();
    this.maybeFinishTransport();
  }

  /** For subclasses: the transport closed normally in both directions. */
  protected transportClosed(): void {
    if (this.destroyed) return;
    this.transportGone = true;
    this.receiveEnd();
    if (this.writableFinished) return; // autoDestroy follows the 'end' event
    if (this.readableEnded) this.destroy();
    else this.once('end', () => this.destroy());
  }

  /** For subclasses: whether the duplex ended both ways, so that tearing down is no failure. */
  protected get completed(): boolean {
    return this.readableEnded && this.writableFinished;
  }

  override _read(): void {
    this.resumeIfPaused();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: Callback): void {
    this.writeChunks([chunk], callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: Callback): void {
    this.writeChunks(
      chunks.map(({ chunk }) => chunk),
      callback,
    );
  }

  override _final(callback: Callback): void {
    if (this.transportGone) callback();
    else if (this.halfClose) this.sendEndOfStream(callback);
    else this.endTransport(callback);
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    this.destroyTransport(error, callback);
  }

  private writeChunks(chunks: Buffer[], callback: Callback): void {
    // The peer is gone and destroy() follows as soon as the readable side has been drained.
    if (this.transportGone) return callback();
    const messages = packMessages(chunks, this.maxMessageSize);
    if (messages.length === 0) return callback();
    this.sendMessages(messages, callback);
  }

  private resumeIfPaused(): void {
    if (!this.transportPaused) return;
    this.transportPaused = false;
    this.resumeTransport();
  }

  private maybeFinishTransport(): void {
    if (!this.halfClose || this.transportGone || this.transportFinished) return;
    if (!this.endReceived || !this.writableFinished || this.destroyed) return;
    this.transportFinished = true;
    this.finishTransport();
  }
}
