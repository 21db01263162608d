import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

const HOST = '127.0.0.1';
/** A connection to the sink or the source starts with this many bytes: the id of its measurement. */
export const ID_BYTES = 16;
/** The sink's answer to a known id: start sending. */
export const READY = Buffer.from('R');

/** One 1 MiB block of random bytes, written over and over: what every path carries. */
export const PAYLOAD = randomBytes(1024 * 1024);

/** What the target saw of one measurement, on the bench's clock (performance.now()). */
export class TargetRecord {
  /** The sink: payload bytes received. The source: payload bytes written. */
  bytes = 0;
  /** The source: when it started writing (the clock of a download starts there). */
  startedAt = NaN;
  /** The sink: when the last byte arrived. */
  lastAt = NaN;
  private onDone: (() => void) | null = null;
  readonly done: Promise<void>;

  constructor(readonly target: number) {
    this.done = new Promise((resolve) => (this.onDone = resolve));
  }

  finish(): void {
    this.onDone?.();
    this.onDone = null;
  }
}

/**
 * The bench's own loopback targets, the far end of every path:
 *
 * - sink: reads the id, answers READY, counts what arrives up to the record's target, then closes;
 * - source: reads the id, then writes the record's target bytes with backpressure and ends;
 * - echo: writes back what it reads (half-open: it ends after the client ended and all is echoed).
 *
 * The sink and the source find their measurement by the id the client sends first, so whatever
 * the path does with connections (a relay, ssh channels, a tunnel), a measurement only ever counts
 * its own bytes.
 */
export class Targets {
  private readonly records = new Map<string, TargetRecord>();
  private readonly sockets = new Set<Socket>();
  private servers: Server[] = [];
  sinkPort = 0;
  sourcePort = 0;
  echoPort = 0;

  async start(): Promise<void> {
    const sink = this.listen((socket) => this.serveSink(socket));
    const source = this.listen((socket) => this.serveSource(socket));
    const echo = this.listen((socket) => {
      socket.on('error', () => socket.destroy());
      socket.pipe(socket);
    });
    this.servers = await Promise.all([sink, source, echo]);
    [this.sinkPort, this.sourcePort, this.echoPort] = this.servers.map(
      (server) => (server.address() as AddressInfo).port,
    );
  }

  /** A new measurement of `target` bytes: its id goes first on the client's connection. */
  register(target: number): { id: Buffer; record: TargetRecord } {
    const id = randomBytes(ID_BYTES);
    const record = new TargetRecord(target);
    this.records.set(id.toString('hex'), record);
    return { id, record };
  }

  forget(id: Buffer): void {
    this.records.get(id.toString('hex'))?.finish();
    this.records.delete(id.toString('hex'));
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(this.servers.map((server) => new Promise((resolve) => server.close(resolve))));
    for (const record of this.records.values()) record.finish();
    this.records.clear();
  }

  private listen(serve: (socket: Socket) => void): Promise<Server> {
    const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      serve(socket);
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, HOST, 511, () => resolve(server));
    });
  }

  /** Reads the id off the front of the connection; `then` gets the record and what came after it. */
  private readId(socket: Socket, then: (record: TargetRecord, rest: Buffer) => void): void {
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      if (head.length < ID_BYTES) return;
      socket.off('data', onData);
      const record = this.records.get(head.subarray(0, ID_BYTES).toString('hex'));
      if (!record) {
        socket.destroy();
        return;
      }
      then(record, head.subarray(ID_BYTES));
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
  }

  private serveSink(socket: Socket): void {
    this.readId(socket, (record, rest) => {
      const count = (chunk: Buffer) => {
        if (chunk.length === 0) return;
        record.bytes += chunk.length;
        record.lastAt = performance.now();
        if (record.bytes >= record.target) {
          record.finish();
          socket.end();
        }
      };
      socket.on('data', count);
      socket.once('end', () => record.finish());
      socket.once('close', () => record.finish());
      socket.write(READY);
      count(rest);
    });
  }

  private serveSource(socket: Socket): void {
    this.readId(socket, (record) => {
      socket.once('close', () => record.finish());
      socket.resume(); // nothing more is expected; do not let it pile up
      record.startedAt = performance.now();
      const pump = () => {
        while (record.bytes < record.target && !socket.destroyed) {
          const size = Math.min(PAYLOAD.length, record.target - record.bytes);
          record.bytes += size;
          if (!socket.write(size === PAYLOAD.length ? PAYLOAD : PAYLOAD.subarray(0, size))) {
            socket.once('drain', pump);
            return;
          }
        }
        if (!socket.destroyed) socket.end(() => record.finish());
      };
      pump();
    });
  }
}
