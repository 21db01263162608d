import { randomBytes } from 'node:crypto';

import { Injectable, type OnModuleDestroy } from '@nestjs/common';

interface Pending<T> {
  kind: string;
  resolve(value: T): void;
  reject(error: Error): void;
}

/** The kinds of sessions: a worker's answer completes only a session of its own kind. */
export const SESSION_KINDS = { portForward: 'port-forward', resolveIp: 'ip' } as const;

export class RendezvousError extends Error {
  override name = 'RendezvousError';
}

/**
 * Meeting points between a user's request and the worker's answer: the controller opens a
 * session (128 random bits), tells the worker about it over Watch, and the worker answers with
 * the session in metadata. A session is used at most once; an unknown, used or abandoned one
 * is refused. Nothing stays registered after the waiter gives up.
 */
@Injectable()
export class RendezvousService implements OnModuleDestroy {
  private readonly sessions = new Map<string, Pending<unknown>>();

  /** Number of open sessions (for leak checks and metrics). */
  get size(): number {
    return this.sessions.size;
  }

  /**
   * Opens a session; `wait` resolves with the worker's answer, or rejects after timeoutMs or
   * when the signal aborts. The session is gone once `wait` settles.
   */
  open<T>(kind: string, timeoutMs: number, signal?: AbortSignal): { session: string; wait: Promise<T> } {
    const session = randomBytes(16).toString('hex');
    const wait = new Promise<T>((resolve, reject) => {
      const settle = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.sessions.delete(session);
      };
      const onAbort = () => {
        settle();
        reject(new RendezvousError('abandoned'));
      };
      const timer = setTimeout(() => {
        settle();
        reject(new RendezvousError(`the worker did not answer within ${Math.round(timeoutMs / 1000)}s`));
      }, timeoutMs);
      if (signal?.aborted) {
        onAbort();
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.sessions.set(session, {
        kind,
        resolve: (value) => {
          settle();
          resolve(value as T);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      });
    });
    return { session, wait };
  }

  /** The worker's answer; false when the session is unknown, used, expired or of another kind. */
  complete(kind: string, session: string, value: unknown): boolean {
    const pending = this.sessions.get(session);
    if (!pending || pending.kind !== kind) return false;
    pending.resolve(value);
    return true;
  }

  /** The worker reports it cannot serve the session (e.g. the VM refused the connection). */
  fail(kind: string, session: string, error: Error): boolean {
    const pending = this.sessions.get(session);
    if (!pending || pending.kind !== kind) return false;
    pending.reject(error);
    return true;
  }

  onModuleDestroy(): void {
    for (const pending of this.sessions.values())
      pending.reject(new RendezvousError('controller shutting down'));
  }
}
