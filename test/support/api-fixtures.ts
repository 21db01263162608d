import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';

import type { Role, ServiceAccount, VM, WatchEvent } from '#api';

import { basicAuth, type ApiResponse, type Credentials, type TestController } from './controller-harness.js';

/** An RFC 3339 timestamp as the controller writes it (UTC, optional fraction). */
export const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
/** Go's zero time.Time, what Orchard writes for a time that is not set. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const IMAGE = 'ghcr.io/cirruslabs/macos-sonoma-base:latest';

/** A minimal valid POST /v1/vms body. */
export function vmBody(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, image: IMAGE, ...extra };
}

/**
 * The VM without status_message. The scheduler runs in every test controller and writes why a
 * pending VM waits there whenever it likes; comparisons of whole pending VMs leave it out.
 */
export function stable(vm: VM): Partial<VM> {
  const copy: Partial<VM> = { ...vm };
  delete copy.status_message;
  return copy;
}

/** Asserts an error answer: the status, and a body that is exactly {"message": "<something>"}. */
export function expectError(response: ApiResponse, status: number): void {
  // One assertion for both, so a wrong status shows the body that explains it.
  expect({ status: response.status, body: response.body }).toEqual({
    status,
    body: { message: expect.stringMatching(/\S/) },
  });
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
}

/** Asserts a 200 and returns the body, showing the body when the status is not 200. */
export function expectOk<T>(response: ApiResponse<T>): T {
  expect({ status: response.status, body: response.body }).toEqual({ status: 200, body: response.body });
  return response.body;
}

/** Creates a service account and returns credentials that authenticate as it. */
export async function createAccount(api: TestController, name: string, roles: Role[]): Promise<Credentials> {
  const created = expectOk(
    await api.request<ServiceAccount>('POST', '/v1/service-accounts', { name, roles }),
  );
  if (!created.token) throw new Error(`creating service account "${name}" returned no token`);
  return { name, token: created.token };
}

export async function createVm(
  api: TestController,
  name: string,
  extra: Record<string, unknown> = {},
): Promise<VM> {
  return expectOk(await api.request<VM>('POST', '/v1/vms', vmBody(name, extra)));
}

/** Rejects after `ms` with `what` unless `promise` settles first; never delays a settled promise. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** An open GET ...?watch=true: ndjson lines, read one at a time as they arrive. */
export interface NdjsonStream<T> {
  status: number;
  headers: IncomingMessage['headers'];
  /** The next line, parsed; rejects when none arrives within `timeoutMs` or the stream ends. */
  next(timeoutMs?: number): Promise<T>;
  /**
   * Reads lines as they arrive until one satisfies `matches`, within `timeoutMs` overall;
   * resolves with it and the lines read before it.
   */
  until(matches: (line: T) => boolean, timeoutMs?: number): Promise<{ line: T; skipped: T[] }>;
  /** Drops the connection, as a client going away does. */
  close(): void;
}

/**
 * Opens a streaming GET and resolves once the response headers arrived (for the watch: once
 * the controller subscribed to changes, so nothing done after this resolves is missed).
 */
export function openNdjson<T>(
  api: TestController,
  path: string,
  as: Credentials | null = api.admin,
  timeoutMs = 5_000,
): Promise<NdjsonStream<T>> {
  const queue: T[] = [];
  const waiters: { resolve(line: T): void; reject(error: Error): void }[] = [];
  let ended: Error | null = null;
  let request!: ClientRequest;

  const finish = (error: Error) => {
    ended ??= error;
    for (const waiter of waiters.splice(0)) waiter.reject(ended);
  };

  const opened = new Promise<NdjsonStream<T>>((resolve, reject) => {
    request = httpRequest(api.url + path, {
      method: 'GET',
      headers: as ? { authorization: basicAuth(as) } : {},
    });
    request.on('error', (error) => {
      reject(error);
      finish(error);
    });
    request.on('response', (response) => {
      response.setEncoding('utf8');
      let buffer = '';
      response.on('data', (chunk: string) => {
        buffer += chunk;
        let newline: number;
        while ((newline = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          if (line.trim() === '') continue;
          const parsed = JSON.parse(line) as T;
          const waiter = waiters.shift();
          if (waiter) waiter.resolve(parsed);
          else queue.push(parsed);
        }
      });
      response.on('end', () => finish(new Error('the stream ended')));
      response.on('error', (error) => finish(error));
      const stream: NdjsonStream<T> = {
        status: response.statusCode ?? 0,
        headers: response.headers,
        async until(matches, untilTimeoutMs = 5_000) {
          const deadline = Date.now() + untilTimeoutMs;
          const skipped: T[] = [];
          for (;;) {
            let line: T;
            try {
              line = await stream.next(Math.max(1, deadline - Date.now()));
            } catch (error) {
              const seen = skipped.map((item) => JSON.stringify(item)).join('\n');
              throw new Error(`${(error as Error).message}; lines read meanwhile:\n${seen || '(none)'}`, {
                cause: error,
              });
            }
            if (matches(line)) return { line, skipped };
            skipped.push(line);
          }
        },
        next(lineTimeoutMs = 5_000) {
          const queued = queue.shift();
          if (queued !== undefined) return Promise.resolve(queued);
          if (ended) return Promise.reject(ended);
          return new Promise<T>((resolveLine, rejectLine) => {
            const waiter = {
              resolve: (line: T) => {
                clearTimeout(timer);
                resolveLine(line);
              },
              reject: (error: Error) => {
                clearTimeout(timer);
                rejectLine(error);
              },
            };
            // A bound on the wait, not a delay: it fires only when the line never comes.
            const timer = setTimeout(() => {
              waiters.splice(waiters.indexOf(waiter), 1);
              rejectLine(
                new Error(`timed out after ${lineTimeoutMs} ms waiting for the next line of ${path}`),
              );
            }, lineTimeoutMs);
            waiters.push(waiter);
          });
        },
        close: () => request.destroy(),
      };
      resolve(stream);
    });
    request.end();
  });
  return within(opened, timeoutMs, `the response headers of ${path}`).catch((error: unknown) => {
    request.destroy();
    throw error;
  });
}

export function watchVm(
  api: TestController,
  name: string,
  as?: Credentials | null,
): Promise<NdjsonStream<WatchEvent<VM>>> {
  return openNdjson<WatchEvent<VM>>(api, `/v1/vms/${encodeURIComponent(name)}?watch=true`, as);
}

export interface ServedRoute {
  method: string;
  /** As Fastify spells it: `/v1/vms/:name`. */
  path: string;
}

/**
 * Every (method, path) the controller's HTTP server routes, read from Fastify's own route tree,
 * without the HEAD twins Fastify adds to each GET.
 */
export function servedRoutes(api: TestController): ServedRoute[] {
  const tree = api.controller.app.getHttpAdapter().getInstance().printRoutes({ commonPrefix: false });
  const routes: ServedRoute[] = [];
  const segments: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^((?:│ {3}| {4})*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/u.exec(line);
    if (!match) continue;
    const depth = match[1].length / 4;
    segments.length = depth;
    segments.push(match[2]);
    const path = segments.join('');
    for (const method of match[3]?.split(', ') ?? []) {
      if (method !== 'HEAD') routes.push({ method, path });
    }
  }
  return routes;
}

/** The routes of the API itself: all served routes but the Swagger UI and the OpenAPI document. */
export function apiRoutes(api: TestController, prefix = ''): ServedRoute[] {
  return servedRoutes(api).filter(
    (route) => !route.path.startsWith(`${prefix}/v1/docs`) && route.path !== `${prefix}/v1/openapi.json`,
  );
}
