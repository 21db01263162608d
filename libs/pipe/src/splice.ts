import { Socket } from 'node:net';
import { type Duplex } from 'node:stream';

export interface SpliceOptions {
  /** Aborting tears both sides down (as an error) and rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface SpliceResult {
  /** Bytes read from `a` and written to `b`. */
  bytesAtoB: number;
  /** Bytes read from `b` and written to `a`. */
  bytesBtoA: number;
  /**
   * True when both directions ended with end-of-stream. False when one side closed before the
   * other direction had ended (a WebSocket closed by the peer, a gRPC status, a socket destroyed
   * without error, a reset after the peer's end): the other side was then ended and closed too.
   */
  complete: boolean;
}

/** A running splice: awaits to its result, and shows the byte counters while it runs (metrics). */
export interface Splice extends Promise<SpliceResult> {
  readonly bytesAtoB: number;
  readonly bytesBtoA: number;
}

/**
 * Splices two byte streams: what `a` reads is written to `b` and the other way round, until both
 * directions have ended or the first error.
 *
 * - Backpressure: a reader is paused while the other side's write() returns false, resumed on
 *   'drain', so nothing accumulates beyond the streams' own high-water marks.
 * - Half-close: when one side's readable ends, the other side's writable is ended (a TCP FIN
 *   with net.Socket: create sockets with `allowHalfOpen: true`, or Node ends a socket's writable
 *   side as soon as its readable side ends and the half-close degrades into a full close).
 * - Closing is not failing: a side that closes without error (a WebSocket closed by its peer with
 *   1000, a socket reset after it had ended) ends the other side, which is closed once its
 *   pending writes are flushed; the splice resolves with `complete: false`.
 * - First error wins: both sides are destroyed with it (a net.Socket is reset, so its TCP peer
 *   sees ECONNRESET rather than a clean end) and the splice rejects with it once both closed.
 *
 * The splice owns both streams: it resolves or rejects when both have emitted 'close'.
 */
export function splice(a: Duplex, b: Duplex, options: SpliceOptions = {}): Splice {
  let aToB!: Direction;
  let bToA!: Direction;
  const promise = new Promise<SpliceResult>((resolve, reject) => {
    aToB = new Direction(a, b);
    bToA = new Direction(b, a);
    new SpliceRun(a, b, aToB, bToA, options.signal, resolve, reject).start();
  });
  return Object.defineProperties(promise, {
    bytesAtoB: { get: () => aToB.bytes, enumerable: true },
    bytesBtoA: { get: () => bToA.bytes, enumerable: true },
  }) as Splice;
}

/** One direction of a splice: `src` read, written to `dst`, with pipe()'s backpressure. */
class Direction {
  bytes = 0;
  /** `src` reached end-of-stream and `dst.end()` was called. */
  ended = false;
  /** `dst` finished writing. */
  flushed = false;

  constructor(
    readonly src: Duplex,
    readonly dst: Duplex,
  ) {}

  private readonly onData = (chunk: Buffer) => {
    // Someone else ended dst (a socket without allowHalfOpen does so itself): it is closing.
    if (this.dst.writableEnded) return;
    this.bytes += chunk.length;
    if (!this.dst.write(chunk)) this.src.pause();
  };
  private readonly onDrain = () => this.src.resume();
  private readonly onEnd = () => {
    this.ended = true;
    this.dst.end();
  };

  start(): void {
    this.src.on('data', this.onData);
    this.src.on('end', this.onEnd);
    this.dst.on('drain', this.onDrain);
    this.src.resume();
  }

  /** Stops moving bytes: what `src` still reads is dropped. */
  stop(): void {
    this.src.off('data', this.onData);
    this.src.off('end', this.onEnd);
    this.dst.off('drain', this.onDrain);
  }
}

class SpliceRun {
  private settled = false;
  private closing = false;

  constructor(
    private readonly a: Duplex,
    private readonly b: Duplex,
    private readonly aToB: Direction,
    private readonly bToA: Direction,
    private readonly signal: AbortSignal | undefined,
    private readonly resolve: (result: SpliceResult) => void,
    private readonly reject: (error: unknown) => void,
  ) {}

  private readonly onAbort = () => this.fail(this.signal?.reason);

  start(): void {
    for (const side of [this.a, this.b]) {
      side.on('error', (error: Error) => this.onError(side, error));
      side.on('close', () => this.onClose(side));
    }
    this.a.on('finish', () => this.onFinish(this.aToB));
    this.b.on('finish', () => this.onFinish(this.bToA));
    if (this.a.writableFinished) this.bToA.flushed = true;
    if (this.b.writableFinished) this.aToB.flushed = true;
    if (this.signal?.aborted) return this.fail(this.signal.reason);
    this.signal?.addEventListener('abort', this.onAbort, { once: true });
    this.aToB.start();
    this.bToA.start();
    for (const side of [this.a, this.b]) if (side.destroyed) this.onClose(side);
  }

  private onFinish(into: Direction): void {
    into.flushed = true;
    this.maybeComplete();
  }

  private maybeComplete(): void {
    if (this.settled || this.closing) return;
    if (!(this.aToB.ended && this.aToB.flushed && this.bToA.ended && this.bToA.flushed)) return;
    // Sockets destroy themselves once ended both ways (autoDestroy); a stream that does not, here.
    this.a.destroy();
    this.b.destroy();
    this.settle(() => this.resolve(this.result()));
  }

  private onError(side: Duplex, error: Error): void {
    if (this.settled) return;
    // The peer already ended and then went away: a close, reported by its 'close' event.
    if (isResetAfterEnd(side, error)) return;
    this.fail(error);
  }

  /**
   * A side closed without (a real) error. Whatever the other side still sends has nowhere to go;
   * what it was being written is flushed before it is closed too.
   */
  private onClose(side: Duplex): void {
    if (this.settled || this.closing) return;
    this.closing = true;
    const other = side === this.a ? this.b : this.a;
    const fromOther = side === this.a ? this.bToA : this.aToB;
    fromOther.stop();
    if (!other.writableEnded) other.end();
    const closeOther = () => {
      other.destroy();
      this.settle(() => this.resolve(this.result()));
    };
    if (other.writableFinished || other.destroyed) closeOther();
    else other.once('finish', closeOther);
  }

  private fail(error: unknown): void {
    if (this.settled) return;
    const reason = error instanceof Error ? error : new Error(String(error));
    for (const side of [this.a, this.b]) destroyWith(side, reason);
    this.settle(() => this.reject(error));
  }

  /** Stops both directions, waits for both sides to close, then reports. */
  private settle(report: () => void): void {
    if (this.settled) return;
    this.settled = true;
    this.aToB.stop();
    this.bToA.stop();
    this.signal?.removeEventListener('abort', this.onAbort);
    void Promise.all([closed(this.a), closed(this.b)]).then(report);
  }

  private result(): SpliceResult {
    return {
      bytesAtoB: this.aToB.bytes,
      bytesBtoA: this.bToA.bytes,
      complete: this.aToB.ended && this.aToB.flushed && this.bToA.ended && this.bToA.flushed,
    };
  }
}

/** ECONNRESET or EPIPE from a socket whose peer had already ended its side: a close, not a failure. */
function isResetAfterEnd(side: Duplex, error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return (code === 'ECONNRESET' || code === 'EPIPE') && side.readableEnded;
}

function destroyWith(side: Duplex, error: Error): void {
  if (side.destroyed) return;
  // Once the socket has been ended its FIN is on its way, and from the moment the shutdown has
  // been asked for libuv refuses a reset: Node then emits an error and never closes the handle
  // (the process would hang on it). The peer has our end-of-stream anyway: a plain destroy.
  if (side instanceof Socket && !side.connecting && !side.writableEnded) {
    try {
      // A reset, so that the TCP peer sees the failure instead of a clean end-of-stream.
      side.resetAndDestroy();
    } catch {
      // Not a TCP socket (a pipe): an ordinary destroy below.
    }
  }
  // resetAndDestroy() does nothing to a socket without a handle.
  if (!side.destroyed) side.destroy(error);
}

function closed(side: Duplex): Promise<void> {
  if (side.closed) return Promise.resolve();
  return new Promise((resolve) => side.once('close', () => resolve()));
}
