import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

const HOST = '127.0.0.1';

/**
 * What a delayed direction may hold before it stops reading its source: far above
 * bandwidth x delay (1 GB/s x 10 ms = 10 MB), so the delay never caps throughput, but bounded.
 */
const DELAY_HIGH_WATER_BYTES = 32 * 1024 * 1024;
const DELAY_LOW_WATER_BYTES = 16 * 1024 * 1024;

export interface RelayOptions {
  /** The port on 127.0.0.1 every accepted connection is carried to. */
  targetPort: number;
  /** Added to each direction (0: a plain relay). */
  delayMs: number;
}

/**
 * A userland TCP relay on 127.0.0.1: each accepted connection gets its own connection to the
 * target, and bytes are carried both ways with backpressure and half-close. With `delayMs`, every
 * chunk is written `delayMs` after it arrived (order kept, bandwidth not limited): a long link.
 */
export function startRelay(options: RelayOptions, listenPort = 0): Promise<Server> {
  if (!Number.isInteger(options.targetPort) || options.targetPort < 1 || options.targetPort > 65535) {
    throw new RangeError(`invalid target port ${options.targetPort}`);
  }
  const server = createServer({ allowHalfOpen: true }, (client) => relayConnection(client, options));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, HOST, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

export function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}

function relayConnection(client: Socket, options: RelayOptions): void {
  client.pause();
  client.setNoDelay(true);
  const target = connect({ host: HOST, port: options.targetPort, allowHalfOpen: true });
  target.setNoDelay(true);
  const fail = () => {
    client.destroy();
    target.destroy();
  };
  // An error (a reset) on either side tears both down; an orderly end travels as a half-close,
  // and each socket closes itself once both of its directions have ended.
  client.on('error', fail);
  target.on('error', fail);
  target.once('connect', () => {
    if (options.delayMs > 0) {
      new DelayLine(client, target, options.delayMs).start();
      new DelayLine(target, client, options.delayMs).start();
    } else {
      // pipe(): backpressure, and end() on the destination at the source's end-of-stream.
      client.pipe(target);
      target.pipe(client);
    }
  });
}

interface Pending {
  /** null: the source's end-of-stream. */
  chunk: Buffer | null;
  dueAt: number;
}

/**
 * One direction of a delayed connection: each chunk (and the end-of-stream) is queued with the
 * time it is due, arrival + delay, and written then, in order. The source is paused while the
 * queue holds more than the high-water mark; a destination that asks to wait (write() false)
 * holds the queue until 'drain'. Chunks late because of that go out as soon as it drains.
 */
class DelayLine {
  private readonly queue: Pending[] = [];
  private head = 0;
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private waitingForDrain = false;
  private sourcePaused = false;

  constructor(
    private readonly source: Socket,
    private readonly destination: Socket,
    private readonly delayMs: number,
  ) {}

  start(): void {
    this.source.on('data', (chunk: Buffer) => {
      this.enqueue(chunk);
      this.queuedBytes += chunk.length;
      if (this.queuedBytes > DELAY_HIGH_WATER_BYTES && !this.sourcePaused) {
        this.sourcePaused = true;
        this.source.pause();
      }
    });
    this.source.once('end', () => this.enqueue(null));
    this.destination.on('drain', () => {
      this.waitingForDrain = false;
      this.flush();
    });
    // What is still queued has nowhere to go.
    this.destination.once('close', () => this.clearTimer());
    this.source.resume();
  }

  private enqueue(chunk: Buffer | null): void {
    this.queue.push({ chunk, dueAt: performance.now() + this.delayMs });
    if (this.queue.length - this.head === 1) this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.waitingForDrain || this.head >= this.queue.length) return;
    const wait = Math.max(0, this.queue[this.head].dueAt - performance.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, Math.ceil(wait));
  }

  private flush(): void {
    if (this.destination.destroyed) return;
    const now = performance.now();
    while (this.head < this.queue.length && !this.waitingForDrain) {
      const next = this.queue[this.head];
      if (next.dueAt > now) break;
      this.head++;
      if (next.chunk === null) {
        this.destination.end();
        continue;
      }
      this.queuedBytes -= next.chunk.length;
      if (!this.destination.write(next.chunk)) this.waitingForDrain = true;
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    if (this.sourcePaused && this.queuedBytes < DELAY_LOW_WATER_BYTES) {
      this.sourcePaused = false;
      this.source.resume();
    }
    this.schedule();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
