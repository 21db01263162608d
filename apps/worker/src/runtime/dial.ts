import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

import { cancelledError, RuntimeError } from './runtime-error.js';

// Shared by the runtimes' connect(): a plain TCP dial whose every failure (refused, timed out,
// cancelled) is a RuntimeError the tunnel can answer at once. Sockets allow half-open so that a
// half-close passes through the tunnel instead of tearing the connection down, and send without
// Nagle's delay.

export function assertPort(port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RuntimeError('unreachable', `port ${port} is not a TCP port (1-65535)`);
  }
}

/** Connects, resolving once the handshake is done; every failure is a RuntimeError. */
export function dial(
  host: string,
  port: number,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  what: string,
): Promise<Duplex> {
  return new Promise<Duplex>((resolve, reject) => {
    if (signal?.aborted) {
      reject(cancelledError(`connecting to ${what}`));
      return;
    }
    const socket = new Socket({ allowHalfOpen: true });
    const done = (error?: RuntimeError): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', onError).off('connect', onConnect);
      if (error) {
        socket.destroy();
        reject(error);
      } else {
        resolve(socket);
      }
    };
    // Tunnel bytes are forwarded as they come: Nagle would only delay small writes.
    const onConnect = (): void => {
      socket.setNoDelay(true);
      done();
    };
    const onError = (error: NodeJS.ErrnoException): void =>
      done(
        new RuntimeError('unreachable', `cannot connect to ${what}: ${error.code ?? error.message}`, {
          cause: error,
        }),
      );
    const onAbort = (): void => done(cancelledError(`connecting to ${what}`));
    const timer = setTimeout(
      () =>
        done(new RuntimeError('unreachable', `cannot connect to ${what}: timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('error', onError).once('connect', onConnect);
    socket.connect({ host, port });
  });
}
