import { type Duplex } from 'node:stream';

import * as grpc from '@grpc/grpc-js';

import { GrpcCancelledError } from './errors.js';
import { MessageDuplex, type MessageDuplexOptions } from './message-duplex.js';

import type { PortForwardData, PortForwardData__Output } from '#protocol';

/** The controller's end of Controller.PortForward. */
export type PortForwardServerCall = grpc.ServerDuplexStream<PortForwardData__Output, PortForwardData>;
/** The worker's end of Controller.PortForward. */
export type PortForwardClientCall = grpc.ClientDuplexStream<PortForwardData, PortForwardData__Output>;

export type GrpcDuplexOptions = MessageDuplexOptions;

const EMPTY = Buffer.alloc(0);

/**
 * Adapts either end of a `PortForward(stream PortForwardData) returns (stream PortForwardData)`
 * call to a byte Duplex; each message's `data` carries raw tunnel bytes.
 *
 * end(): on the worker (client) it half-closes the call, and the call completes when the
 * controller ends too; on the controller (server) it sends status OK, which ends the RPC in both
 * directions (gRPC has no server-side half-close: that takes the `halfClose` extension).
 *
 * Errors: a client call's error status destroys the duplex with that ServiceError; a server call
 * cancelled before the duplex completed (the worker cancelled or its connection dropped) destroys
 * it with a {@link GrpcCancelledError}. A cancellation after completion is normal.
 * destroy(error) on the controller sends the error's gRPC code when it carries one, UNAVAILABLE
 * otherwise, with the error's message; on the worker it cancels the call.
 *
 * Messages received are at most the sender's `maxMessageSize` (1 MiB by default), within grpc-js's
 * default `grpc.max_receive_message_length` of 4 MiB. To bound memory, the call's own object-mode
 * read-ahead is cut from 16 messages to 1.
 */
export function grpcDuplex(
  call: PortForwardServerCall | PortForwardClientCall,
  options: GrpcDuplexOptions = {},
): Duplex {
  return new GrpcDuplex(call, options);
}

class GrpcDuplex extends MessageDuplex {
  private readonly client: PortForwardClientCall | null;
  private readonly server: PortForwardServerCall | null;
  /** Server: the status went out, the RPC is over for us. Client: the call has completed. */
  private callDone = false;

  constructor(
    private readonly call: PortForwardServerCall | PortForwardClientCall,
    options: GrpcDuplexOptions,
  ) {
    super(options);
    this.client = isClientCall(call) ? call : null;
    this.server = isClientCall(call) ? null : call;
    limitReadAhead(call);
    call.on('data', (message: PortForwardData__Output) => this.receiveMessage(toBuffer(message.data)));
    call.on('end', () => {
      if (this.client) {
        // Emitted once the server's status was OK and every message before it was read.
        this.callDone = true;
        this.transportClosed();
        return;
      }
      // The worker half-closed, or cancelled: Node's HTTP/2 stream ends its readable side on a
      // RST_STREAM too, and grpc-js reports the cancellation a few ticks later. Ending the other
      // side of the splice now would pass a failure on as a normal end.
      setImmediate(() => {
        if (!this.server?.cancelled) this.receiveEnd();
      });
    });
    // Kept for the call's lifetime, so that a late error never goes unhandled.
    call.on('error', (error: Error) => {
      if (this.client) this.callDone = true;
      if (this.destroyed) return;
      if (isCancelled(error) && this.completed) return;
      this.destroy(error);
    });
    this.server?.on('cancelled', () => {
      if (this.destroyed) return;
      if (this.callDone) this.transportClosed();
      else this.destroy(new GrpcCancelledError('the worker cancelled the call or went away'));
    });
  }

  protected sendMessages(messages: Buffer[], callback: (error?: Error | null) => void): void {
    let remaining = messages.length;
    let settled = false;
    const onWritten = (error?: Error | null) => {
      if (settled || (!error && --remaining > 0)) return;
      settled = true;
      if (error) return callback(error);
      if (this.call.writableNeedDrain) this.call.once('drain', () => callback());
      else callback();
    };
    for (const data of messages) this.call.write({ data } satisfies PortForwardData, onWritten);
  }

  protected sendEndOfStream(callback: (error?: Error | null) => void): void {
    this.call.write({ data: EMPTY } satisfies PortForwardData, (error?: Error | null) => callback(error));
  }

  protected endTransport(callback: (error?: Error | null) => void): void {
    this.endCall();
    callback();
  }

  protected finishTransport(): void {
    this.endCall();
  }

  protected pauseTransport(): void {
    this.call.pause();
  }

  protected resumeTransport(): void {
    this.call.resume();
  }

  protected destroyTransport(error: Error | null, callback: (error: Error | null) => void): void {
    if (this.client) {
      // After a complete exchange the call finishes by itself (the controller sends its status).
      if (!this.callDone && (error || !this.completed)) this.client.cancel();
    } else if (this.server && !this.callDone && !this.server.cancelled) {
      this.callDone = true;
      // grpc-js's way for a streaming handler to end the call with an error status.
      if (error) this.server.emit('error', toStatusError(error));
      else this.server.end();
    }
    callback(error);
  }

  private endCall(): void {
    if (this.server) {
      if (this.callDone) return;
      this.callDone = true;
    }
    this.call.end();
  }
}

function isClientCall(call: PortForwardServerCall | PortForwardClientCall): call is PortForwardClientCall {
  return typeof (call as Partial<PortForwardClientCall>).cancel === 'function';
}

/**
 * grpc-js calls are object-mode streams that read ahead up to 16 messages (the default object
 * high-water mark), up to 16 MiB of tunnel bytes buffered behind a paused reader. One message of
 * read-ahead keeps the pipeline full; the rest waits in the HTTP/2 flow-control window.
 */
function limitReadAhead(call: PortForwardServerCall | PortForwardClientCall): void {
  const state = (call as unknown as { _readableState?: { highWaterMark?: unknown } })._readableState;
  if (state && typeof state.highWaterMark === 'number') state.highWaterMark = 1;
}

function toBuffer(data: Buffer | Uint8Array | string | undefined): Buffer {
  if (data === undefined) return EMPTY;
  if (Buffer.isBuffer(data)) return data;
  if (typeof data === 'string') return Buffer.from(data, 'base64');
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function isCancelled(error: Error): boolean {
  return (error as Partial<grpc.ServiceError>).code === grpc.status.CANCELLED;
}

/** A gRPC status for `error`: its own when it is a gRPC error, UNAVAILABLE otherwise. */
function toStatusError(error: Error): Partial<grpc.StatusObject> & Error {
  const { code, details } = error as { code?: unknown; details?: unknown };
  const isStatus =
    typeof code === 'number' &&
    Number.isInteger(code) &&
    code > 0 &&
    code <= 16 &&
    typeof details === 'string';
  return Object.assign(new Error(error.message), {
    code: isStatus ? code : grpc.status.UNAVAILABLE,
    details: isStatus ? details : error.message,
  });
}
