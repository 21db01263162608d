import { performance } from 'node:perf_hooks';

import type { VM, WatchEvent } from '#api';

/** One line of the watch, with when this process read it (performance.now()). */
export interface Seen {
  at: number;
  event: WatchEvent<VM>;
}

interface Waiter {
  matches: (event: WatchEvent<VM>) => boolean;
  resolve: (seen: Seen) => void;
  reject: (error: Error) => void;
}

/**
 * GET /v1/vms/{name}?watch=true, read line by line, keeping every event with its arrival time.
 *
 * Not OrchardClient.watchVm: that async iterator sends the request on the first next() and
 * yields nothing until the first event, and a VM that does not exist yet has none, so a caller
 * cannot tell when the watch is established. open() resolves once the controller has answered
 * with its headers, which it sends after subscribing to the change feed: every change committed
 * after that (the POST that follows) is on this stream.
 */
export class VmWatch {
  readonly events: Seen[] = [];
  private readonly waiters = new Set<Waiter>();
  private ended: Error | null = null;

  private constructor(
    private readonly name: string,
    private readonly abort: AbortController,
  ) {}

  static async open(baseUrl: string, name: string, signal: AbortSignal): Promise<VmWatch> {
    signal.throwIfAborted();
    const abort = new AbortController();
    const onAbort = () => abort.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const watch = new VmWatch(name, abort);
    let response: Response;
    try {
      response = await fetch(`${baseUrl}/v1/vms/${encodeURIComponent(name)}?watch=true`, {
        signal: abort.signal,
      });
    } catch (error) {
      signal.removeEventListener('abort', onAbort);
      throw error;
    }
    if (!response.ok || !response.body) {
      signal.removeEventListener('abort', onAbort);
      abort.abort();
      throw new Error(`watch of ${name}: HTTP ${response.status}`);
    }
    void watch.read(response.body).finally(() => signal.removeEventListener('abort', onAbort));
    return watch;
  }

  /** The first event (already seen or to come) that matches; rejects after timeoutMs or when the stream ends. */
  waitFor(matches: (event: WatchEvent<VM>) => boolean, timeoutMs: number, what: string): Promise<Seen> {
    const seen = this.events.find((candidate) => matches(candidate.event));
    if (seen) return Promise.resolve(seen);
    if (this.ended) return Promise.reject(this.ended);
    return new Promise<Seen>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`${this.name}: not ${what} after ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: Waiter = {
        matches,
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.waiters.add(waiter);
    });
  }

  close(): void {
    this.abort.abort();
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const at = performance.now();
        buffer += value;
        let newline: number;
        while ((newline = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, newline).trim();
          buffer = buffer.slice(newline + 1);
          if (line !== '') this.deliver({ at, event: JSON.parse(line) as WatchEvent<VM> });
        }
      }
      this.finish(new Error(`${this.name}: the controller ended the watch`));
    } catch (error) {
      this.finish(
        new Error(`${this.name}: watch failed: ${error instanceof Error ? error.message : String(error)}`),
      );
    } finally {
      await reader.cancel().catch(() => undefined);
    }
  }

  private deliver(seen: Seen): void {
    this.events.push(seen);
    for (const waiter of [...this.waiters]) {
      if (!waiter.matches(seen.event)) continue;
      this.waiters.delete(waiter);
      waiter.resolve(seen);
    }
  }

  private finish(error: Error): void {
    this.ended = error;
    for (const waiter of this.waiters) waiter.reject(error);
    this.waiters.clear();
  }
}
