import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Duplex, type Readable, type Writable } from 'node:stream';

import { splice, type Splice } from '#pipe';

import { CommandFailedError } from '../common/errors.js';
import { describeTarget, type TunnelDialer, type TunnelTarget } from '../common/tunnel.js';

/** Why a connection was torn down on purpose: not worth a line of output. */
const SHUTTING_DOWN = new Error('the port forward is shutting down');
const LOCAL_CLOSED = new Error('the local connection closed before the tunnel opened');

interface Forwarded {
  socket: Socket;
  /** Aborts the tunnel while it opens, and tears the splice down once it runs. */
  abort: AbortController;
  splice?: Splice;
}

/**
 * Listens on 127.0.0.1 and carries every accepted TCP connection through a tunnel of its own (one
 * WebSocket per connection, as Orchard) to the target. A connection whose tunnel cannot be opened
 * is closed and `warn` is told why, in one line; the listener keeps accepting.
 */
export class LocalForwarder {
  private readonly server: Server;
  private readonly connections = new Set<Forwarded>();

  constructor(
    private readonly dialer: TunnelDialer,
    private readonly target: TunnelTarget,
    private readonly warn: (line: string) => void,
  ) {
    // allowHalfOpen: a client that ends its side still gets the rest of the answer. noDelay: a
    // forwarder must not hold small writes back (Nagle) on top of what the client does itself.
    this.server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket));
  }

  /** Binds 127.0.0.1:localPort (0: any free port); resolves with the bound address. */
  listen(localPort: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException) => {
        const reason = error.code === 'EADDRINUSE' ? 'the port is already in use' : error.message;
        reject(new CommandFailedError(`cannot listen on 127.0.0.1:${localPort}: ${reason}`));
      };
      this.server.once('error', onError);
      // A deep accept queue: a client may open many connections at once (parallel scp, a test
      // suite), and the kernel drops the handshakes past it (Node's default is 511).
      this.server.listen({ port: localPort, host: '127.0.0.1', backlog: 4096 }, () => {
        this.server.off('error', onError);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /** Stops listening, tears down every connection and its tunnel; resolves once all are closed. */
  async close(): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const splices: Promise<unknown>[] = [];
    for (const connection of this.connections) {
      connection.abort.abort(SHUTTING_DOWN);
      connection.socket.destroy();
      if (connection.splice) splices.push(connection.splice.catch(() => undefined));
    }
    await Promise.all([stopped, ...splices]);
  }

  private accept(socket: Socket): void {
    const connection: Forwarded = { socket, abort: new AbortController() };
    this.connections.add(connection);
    const { signal } = connection.abort;
    // Until the splice owns the socket: a client that gives up stops the tunnel from opening.
    const onError = () => undefined;
    const onClose = () => connection.abort.abort(LOCAL_CLOSED);
    socket.on('error', onError);
    socket.once('close', onClose);
    const done = () => this.connections.delete(connection);

    this.dialer.open(this.target, signal).then(
      (tunnel) => {
        socket.off('error', onError);
        socket.off('close', onClose);
        connection.splice = splice(socket, tunnel, { signal });
        connection.splice
          .catch((error: unknown) => {
            if (!signal.aborted)
              this.warn(`connection to ${describeTarget(this.target)} failed: ${messageOf(error)}`);
          })
          .finally(done);
      },
      (error: unknown) => {
        if (!signal.aborted) {
          this.warn(`cannot forward a connection to ${describeTarget(this.target)}: ${messageOf(error)}`);
        }
        socket.destroy();
        done();
      },
    );
  }
}

/**
 * Carries one connection over standard input and output (`ssh -o ProxyCommand=...`): what comes
 * in on stdin goes through the tunnel, what comes back is written to stdout, nothing else is.
 * Resolves when both directions are done; rejects with the tunnel's failure.
 */
export async function forwardStdio(dialer: TunnelDialer, target: TunnelTarget): Promise<void> {
  const tunnel = await dialer.open(target);
  await splice(new StdioDuplex(process.stdin, process.stdout), tunnel);
}

/**
 * stdin and stdout as one byte Duplex, with backpressure both ways and half-close: the end of
 * stdin ends the readable side, end() ends stdout (a socket's reader sees EOF at once, a pipe's
 * when the process exits: Node keeps fd 1 open until then).
 */
class StdioDuplex extends Duplex {
  constructor(
    private readonly input: Readable,
    private readonly output: Writable,
  ) {
    super({ allowHalfOpen: true });
    input.pause();
    input.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) input.pause();
    });
    input.once('end', () => this.push(null));
    input.on('error', (error: Error) => this.destroy(error));
    // EPIPE: whoever reads our stdout went away.
    output.on('error', (error: Error) => this.destroy(error));
  }

  override _read(): void {
    this.input.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.output.write(chunk)) callback();
    else this.output.once('drain', () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.output.end(() => callback());
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    // Stops reading (stdin keeps the process alive otherwise); stdout is flushed at exit.
    this.input.destroy();
    callback(error);
  }
}

/**
 * Resolves on the first SIGINT or SIGTERM; a second one exits at once (130). Ctrl-C in a
 * terminal is how a port forward is meant to end, so it is not a failure.
 */
export function untilStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) process.exit(130);
      stopping = true;
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/**
 * Binds the forwarder, lets `announce` print where it listens, and runs it until a stop signal,
 * then closes it. The signal handlers go in before anything is printed: whoever reads the first
 * line (a script, a test) may signal us right away, and a signal that beat the handlers would
 * kill the process instead of ending the forward cleanly.
 */
export async function forwardUntilStopped(
  forwarder: LocalForwarder,
  localPort: number,
  announce: (address: AddressInfo) => Promise<void> | void,
): Promise<void> {
  const stopped = untilStopSignal();
  await announce(await forwarder.listen(localPort));
  await stopped;
  await forwarder.close();
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
