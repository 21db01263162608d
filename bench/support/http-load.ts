import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';

export interface ApiTarget {
  host: string;
  port: number;
  /** The Authorization header value (HTTP Basic). */
  authorization: string;
}

export interface ApiCall {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  body?: unknown;
}

export interface ApiReply {
  status: number;
  bytes: number;
  /** null when the caller asked for the body of a 2xx answer to be counted, not kept. */
  body: string | null;
}

const REQUEST_TIMEOUT_MS = 60_000;

/**
 * One client of the load: its own keep-alive connection (an Agent with a single socket), one
 * request at a time, the way a CLI or a worker talks to the controller.
 */
export class ApiClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });

  constructor(private readonly target: ApiTarget) {}

  send(call: ApiCall, keepBody = true): Promise<ApiReply> {
    const payload = call.body === undefined ? undefined : JSON.stringify(call.body);
    return new Promise<ApiReply>((resolve, reject) => {
      const req = request(
        {
          host: this.target.host,
          port: this.target.port,
          method: call.method,
          path: call.path,
          agent: this.agent,
          headers: {
            authorization: this.target.authorization,
            accept: 'application/json',
            ...(payload === undefined
              ? {}
              : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
          },
        },
        (res) => {
          const status = res.statusCode ?? 0;
          const keep = keepBody || status < 200 || status > 299; // an error's body says why
          const chunks: Buffer[] = [];
          let bytes = 0;
          res.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            if (keep) chunks.push(chunk);
          });
          res.on('end', () =>
            resolve({ status, bytes, body: keep ? Buffer.concat(chunks).toString('utf8') : null }),
          );
          res.on('error', reject);
        },
      );
      req.setTimeout(REQUEST_TIMEOUT_MS, () =>
        req.destroy(new Error(`${call.method} ${call.path}: no answer in ${REQUEST_TIMEOUT_MS} ms`)),
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Sends and insists on a 2xx; returns the parsed JSON body (undefined when empty). */
  async json<T>(call: ApiCall): Promise<T> {
    const reply = await this.send(call);
    if (reply.status < 200 || reply.status > 299) {
      throw new Error(`${call.method} ${call.path}: HTTP ${reply.status} ${reply.body?.slice(0, 300)}`);
    }
    return (reply.body ? JSON.parse(reply.body) : undefined) as T;
  }

  close(): void {
    this.agent.destroy();
  }
}

export interface LoadOptions {
  clients: readonly ApiClient[];
  /** Stop after this many requests... */
  requests: number;
  /** ...or once this much time has passed, whichever comes first. */
  maxDurationMs: number;
  /** The request number `index` (0-based, in the order they are issued). */
  next: (index: number) => ApiCall;
  /** false: count the bytes of the answers without keeping them (big lists). */
  keepBody?: boolean;
  /** Called with each 2xx reply; a returned string counts the request as an error. */
  check?: (reply: ApiReply, call: ApiCall, index: number) => string | null;
  /** Called after every `progressEvery` answers with how many have come and the time so far. */
  progressEvery?: number;
  onProgress?: (answered: number, elapsedMs: number) => void;
  /** Record when (ms since the start) each answer slower than this was sent. */
  slowMs?: number;
}

export interface LoadResult {
  requests: number;
  errors: number;
  firstError: string | null;
  durationMs: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanBytes: number;
  /** Send times (ms since the start) of the answers slower than `slowMs`. */
  slow: number[];
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/**
 * Closed-loop load: each client sends its next request as soon as the previous answer has been
 * read to its last byte. Latency is measured from before the request is written to the last
 * byte of the answer; failed requests count as errors and not in the latencies.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const latencies = new Float64Array(options.requests);
  let recorded = 0;
  let issued = 0;
  let errors = 0;
  let firstError: string | null = null;
  let bytes = 0;
  let answered = 0;
  const slow: number[] = [];
  const started = performance.now();
  const deadline = started + options.maxDurationMs;

  const fail = (message: string) => {
    errors += 1;
    firstError ??= message;
  };

  const client = async (api: ApiClient): Promise<void> => {
    while (issued < options.requests && performance.now() < deadline) {
      const index = issued++;
      const call = options.next(index);
      const sent = performance.now();
      try {
        const reply = await api.send(call, options.keepBody ?? true);
        const elapsed = performance.now() - sent;
        answered += 1;
        if (options.progressEvery && answered % options.progressEvery === 0) {
          options.onProgress?.(answered, performance.now() - started);
        }
        if (options.slowMs !== undefined && elapsed > options.slowMs) slow.push(sent - started);
        if (reply.status < 200 || reply.status > 299) {
          fail(`${call.method} ${call.path}: HTTP ${reply.status} ${reply.body?.slice(0, 200) ?? ''}`);
          continue;
        }
        const problem = options.check?.(reply, call, index) ?? null;
        if (problem !== null) {
          fail(problem);
          continue;
        }
        latencies[recorded++] = elapsed;
        bytes += reply.bytes;
      } catch (error) {
        fail(`${call.method} ${call.path}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  };

  await Promise.all(options.clients.map(client));
  const durationMs = performance.now() - started;
  const sorted = latencies.subarray(0, recorded).sort();
  return {
    requests: issued,
    errors,
    firstError,
    durationMs,
    perSecond: (recorded / durationMs) * 1000,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: recorded > 0 ? sorted[recorded - 1] : NaN,
    meanBytes: recorded > 0 ? bytes / recorded : 0,
    slow: slow.sort((a, b) => a - b),
  };
}

/** Runs `work` over `items` with at most `concurrency` at once; rejects on the first failure. */
export async function forEachLimited<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, slot: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async (_, slot) => {
      while (next < items.length) await work(items[next++], slot);
    }),
  );
}
