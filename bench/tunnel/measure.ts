import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

import { ProbeSet, type Probe, type ProbeUsage } from './proc.js';
import { PAYLOAD, type Targets } from './targets.js';

const HOST = '127.0.0.1';
/** Connecting, and the first answer through a path (a tunnel may have to open first). */
const SETUP_TIMEOUT_MS = 30_000;
/** After a capped transfer, how long the far end gets to report what was still in flight. */
const DRAIN_GRACE_MS = 3_000;
const PING_BYTES = 64;
const PING_WARMUP = 20;

export interface Transfer {
  /** Bytes that crossed the path (counted at the receiving end). */
  bytes: number;
  /** From the first byte sent to the last byte received. */
  ms: number;
  /** The time cap ended it before all bytes crossed. */
  capped: boolean;
  error: string | null;
  cpu: ProbeUsage[];
  /** Machine CPU pressure (PSI some) during the transfer, ms. */
  pressureMs: number;
}

export interface RoundTrips {
  samples: number[];
  capped: boolean;
  error: string | null;
}

export interface TransferOptions {
  bytes: number;
  maxMs: number;
  probes: readonly Probe[];
}

export const megabytesPerSecond = (transfer: Pick<Transfer, 'bytes' | 'ms'>): number =>
  transfer.ms > 0 ? transfer.bytes / 1e6 / (transfer.ms / 1000) : NaN;

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** A TCP connection to 127.0.0.1:port, half-open allowed, Nagle off. */
export function connectTo(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: HOST, port, allowHalfOpen: true, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connecting to 127.0.0.1:${port} timed out`));
    }, SETUP_TIMEOUT_MS);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
    const onError = (error: Error) => {
      clearTimeout(timer);
      reject(error);
    };
    socket.once('error', onError);
  });
}

/**
 * Counts what a socket reads; `until(n)` resolves once n bytes have arrived in total, rejects
 * when the socket fails or closes first, or after timeoutMs.
 */
class Reader {
  received = 0;
  lastAt = NaN;
  private failure: Error | null = null;
  private waiter: { target: number; resolve: () => void; reject: (error: Error) => void } | null = null;

  constructor(
    socket: Socket,
    private readonly onChunk?: (chunk: Buffer, offset: number) => void,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.onChunk?.(chunk, this.received);
      this.received += chunk.length;
      this.lastAt = performance.now();
      if (this.waiter && this.received >= this.waiter.target) {
        const { resolve } = this.waiter;
        this.waiter = null;
        resolve();
      }
    });
    socket.on('error', (error: Error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('the connection closed early')));
  }

  until(target: number, timeoutMs: number): Promise<void> {
    if (this.received >= target) return Promise.resolve();
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(
          new Error(`timed out after ${Math.round(timeoutMs)} ms with ${this.received} of ${target} bytes`),
        );
      }, timeoutMs);
      this.waiter = {
        target,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
  }

  private fail(error: Error): void {
    this.failure ??= error;
    if (this.waiter) {
      const { reject } = this.waiter;
      this.waiter = null;
      reject(this.failure);
    }
  }
}

/**
 * Writes `bytes` of PAYLOAD with backpressure, stopping at `deadline` (performance.now()) or when
 * the socket goes away; resolves with what was handed to the socket.
 */
async function writePayload(socket: Socket, bytes: number, deadline: number): Promise<number> {
  let sent = 0;
  while (sent < bytes && !socket.destroyed) {
    if (performance.now() >= deadline) break;
    const size = Math.min(PAYLOAD.length, bytes - sent);
    sent += size;
    if (!socket.write(size === PAYLOAD.length ? PAYLOAD : PAYLOAD.subarray(0, size))) {
      await new Promise<void>((resolve) => {
        const done = () => {
          socket.off('drain', done);
          socket.off('close', done);
          resolve();
        };
        socket.once('drain', done);
        socket.once('close', done);
      });
    }
  }
  return sent;
}

/**
 * Upload: the client streams `bytes` to the sink; the rate is what the sink received, from the
 * client's first payload byte (after the sink said READY through the path) to the sink's last.
 */
export async function upload(port: number, targets: Targets, options: TransferOptions): Promise<Transfer> {
  const { id, record } = targets.register(options.bytes);
  let socket: Socket | null = null;
  try {
    socket = await connectTo(port);
    const reader = new Reader(socket);
    socket.write(id);
    await reader.until(1, SETUP_TIMEOUT_MS);
    const probes = new ProbeSet(options.probes);
    const startedAt = performance.now();
    const deadline = startedAt + options.maxMs;
    const sent = await writePayload(socket, options.bytes, deadline);
    const capped = sent < options.bytes;
    if (capped) socket.destroy();
    else socket.end();
    await within(record.done, capped ? DRAIN_GRACE_MS : options.maxMs + DRAIN_GRACE_MS);
    const { usage, pressureMs } = probes.finish();
    return {
      bytes: record.bytes,
      ms: record.lastAt - startedAt,
      capped: capped || record.bytes < options.bytes,
      error: null,
      cpu: usage,
      pressureMs,
    };
  } catch (error) {
    return failed(error);
  } finally {
    socket?.destroy();
    targets.forget(id);
  }
}

/**
 * Download: the source streams `bytes` to the client once the client's id reached it; the rate
 * runs from the source's first byte to the client's last.
 */
export async function download(port: number, targets: Targets, options: TransferOptions): Promise<Transfer> {
  const { id, record } = targets.register(options.bytes);
  let socket: Socket | null = null;
  try {
    socket = await connectTo(port);
    const reader = new Reader(socket);
    const probes = new ProbeSet(options.probes);
    socket.write(id);
    // The first byte: the path is open and the source has started (its clock starts there).
    await reader.until(1, SETUP_TIMEOUT_MS);
    let capped = false;
    try {
      await reader.until(options.bytes, Math.max(1, record.startedAt + options.maxMs - performance.now()));
    } catch {
      capped = true;
    }
    const { usage, pressureMs } = probes.finish();
    return {
      bytes: reader.received,
      ms: reader.lastAt - record.startedAt,
      capped,
      error: null,
      cpu: usage,
      pressureMs,
    };
  } catch (error) {
    return failed(error);
  } finally {
    socket?.destroy();
    targets.forget(id);
  }
}

/**
 * Echo stream: the client writes `bytes` to an echo service while it reads the echo back; the
 * rate is the echo's return rate (so both directions carry it at once).
 */
export async function echoStream(port: number, options: TransferOptions): Promise<Transfer> {
  let socket: Socket | null = null;
  try {
    socket = await connectTo(port);
    const reader = new Reader(socket);
    socket.write(PAYLOAD.subarray(0, PING_BYTES));
    await reader.until(PING_BYTES, SETUP_TIMEOUT_MS);
    const probes = new ProbeSet(options.probes);
    const startedAt = performance.now();
    const deadline = startedAt + options.maxMs;
    const sent = await writePayload(socket, options.bytes, deadline);
    let capped = sent < options.bytes;
    try {
      await reader.until(PING_BYTES + sent, Math.max(0, deadline - performance.now()) + DRAIN_GRACE_MS);
    } catch {
      capped = true;
    }
    const { usage, pressureMs } = probes.finish();
    return {
      bytes: reader.received - PING_BYTES,
      ms: reader.lastAt - startedAt,
      capped,
      error: null,
      cpu: usage,
      pressureMs,
    };
  } catch (error) {
    return failed(error);
  } finally {
    socket?.destroy();
  }
}

/** Ping-pong: `count` round trips of 64 bytes, one at a time, after 20 unmeasured ones. */
export async function pingPong(port: number, count: number, maxMs: number): Promise<RoundTrips> {
  let socket: Socket | null = null;
  const samples: number[] = [];
  try {
    socket = await connectTo(port);
    const reader = new Reader(socket);
    const message = PAYLOAD.subarray(0, PING_BYTES);
    let expected = 0;
    for (let i = 0; i < PING_WARMUP; i++) {
      expected += PING_BYTES;
      socket.write(message);
      await reader.until(expected, SETUP_TIMEOUT_MS);
    }
    const deadline = performance.now() + maxMs;
    while (samples.length < count && performance.now() < deadline) {
      expected += PING_BYTES;
      const sentAt = performance.now();
      socket.write(message);
      await reader.until(expected, SETUP_TIMEOUT_MS);
      samples.push(performance.now() - sentAt);
    }
    return { samples, capped: samples.length < count, error: null };
  } catch (error) {
    return { samples, capped: true, error: messageOf(error) };
  } finally {
    socket?.destroy();
  }
}

/** Waits for `promise`, at most `ms`. */
async function within(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

function failed(error: unknown): Transfer {
  return { bytes: 0, ms: NaN, capped: true, error: messageOf(error), cpu: [], pressureMs: NaN };
}

export interface ManyResult {
  count: number;
  ok: number;
  /** Failures by message, with how many. */
  errors: Map<string, number>;
  /** From the first connect to the last tunnel done (or failed). */
  wallMs: number;
  /** Per tunnel, connect to the last echoed byte (successful ones). */
  durations: number[];
}

/**
 * Runs `count` attempts at once, all bounded by one deadline `timeoutMs` away, and counts them: an
 * attempt that resolves is a success timed from its start, one that rejects a failure grouped by
 * its message (byte counts and times taken out, so that like failures share a line).
 */
export async function runMany(
  count: number,
  timeoutMs: number,
  attempt: (deadline: number) => Promise<void>,
): Promise<ManyResult> {
  const errors = new Map<string, number>();
  const durations: number[] = [];
  const startedAt = performance.now();
  const deadline = startedAt + timeoutMs;
  const one = async () => {
    const began = performance.now();
    try {
      await attempt(deadline);
      durations.push(performance.now() - began);
    } catch (error) {
      const message = messageOf(error)
        .replace(/\d+ of \d+ bytes/, 'N of M bytes')
        .replace(/after \d+ ms/, 'after the time cap');
      errors.set(message, (errors.get(message) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: count }, one));
  return { count, ok: durations.length, errors, wallMs: performance.now() - startedAt, durations };
}

/**
 * `count` connections at once, each writing `bytesEach` to an echo service through the path and
 * reading them back (checked byte for byte against what was sent), then closing. Bounded by
 * `timeoutMs` overall: what is not done by then is a failure.
 */
export async function manyEchoes(
  port: number,
  count: number,
  bytesEach: number,
  timeoutMs: number,
): Promise<ManyResult> {
  const sockets = new Set<Socket>();
  const result = await runMany(count, timeoutMs, async (deadline) => {
    let socket: Socket | null = null;
    try {
      socket = await connectTo(port);
      sockets.add(socket);
      let mismatch: string | null = null;
      const reader = new Reader(socket, (chunk, offset) => {
        if (mismatch === null && !matchesPayload(chunk, offset)) mismatch = `wrong bytes at offset ${offset}`;
      });
      void writePayload(socket, bytesEach, deadline);
      await reader.until(bytesEach, Math.max(1, deadline - performance.now()));
      if (mismatch !== null) throw new Error(mismatch);
      if (reader.received !== bytesEach)
        throw new Error(`${reader.received} bytes back instead of ${bytesEach}`);
    } finally {
      if (socket) {
        socket.destroy();
        sockets.delete(socket);
      }
    }
  });
  for (const socket of sockets) socket.destroy();
  return result;
}

/** Does `chunk`, found at `offset` of the stream, equal PAYLOAD repeated from 0? */
export function matchesPayload(chunk: Buffer, offset: number): boolean {
  let checked = 0;
  while (checked < chunk.length) {
    const at = (offset + checked) % PAYLOAD.length;
    const length = Math.min(chunk.length - checked, PAYLOAD.length - at);
    if (!chunk.subarray(checked, checked + length).equals(PAYLOAD.subarray(at, at + length))) return false;
    checked += length;
  }
  return true;
}
