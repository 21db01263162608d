import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

import WebSocket from 'ws';

import { HALF_CLOSE_HEADER, halfCloseRequested } from '#api';
import {
  ApiError,
  loadContexts,
  networkReason,
  OrchardClient,
  resolveConnection,
  type ClientConfig,
} from '#client';
import { tunnelMaskOptions, webSocketDuplex } from '#pipe';

import { USER_AGENT } from '../cli-config.js';
import { CommandFailedError, UsageError } from './errors.js';
import { parseCount } from './flags.js';

/** What a tunnel reaches: a port of a VM, or a port on a worker host's loopback interface. */
export interface TunnelTarget {
  kind: 'vm' | 'worker';
  name: string;
  port: number;
  /** Seconds the controller may wait for the VM to run and the worker to connect (`?wait=`). */
  waitSeconds: number;
}

/** As Orchard's CLI: a VM that is not running yet gets a minute. */
export const DEFAULT_WAIT_SECONDS = 60;
/** The controller refuses longer waits. */
const MAX_WAIT_SECONDS = 3600;
/** How long past `wait` the controller may take to answer before we give up on it. */
const ANSWER_GRACE_SECONDS = 30;
/** The controller answers refusals with a small JSON body; more is not an Orchard controller. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** `--wait <seconds>`: a whole number of seconds the controller accepts. */
export function parseWaitSeconds(text: string): number {
  const seconds = parseCount('--wait', text);
  if (seconds > MAX_WAIT_SECONDS) throw new UsageError(`--wait must be at most ${MAX_WAIT_SECONDS} seconds`);
  return seconds;
}

/** `vm/NAME:PORT`, how output names a target. */
export const describeTarget = (target: Pick<TunnelTarget, 'kind' | 'name' | 'port'>): string =>
  `${target.kind}/${target.name}:${target.port}`;

/**
 * The controller refused a tunnel (the HTTP status and its `{"message": ...}`), or could not be
 * reached. The message is written for the user as it stands.
 */
export class TunnelError extends CommandFailedError {
  override name = 'TunnelError';

  constructor(
    message: string,
    /** The HTTP status of a refusal; undefined when there was no answer. */
    readonly status?: number,
  ) {
    super(message);
  }
}

/**
 * Opens tunnels to the configured controller (the default context, overridden field by field by
 * ORCHARD_URL and ORCHARD_SERVICE_ACCOUNT_*), and talks REST to it with the same credentials.
 */
export class TunnelDialer {
  private readonly authorization: string | undefined;

  private constructor(
    /** REST client of the same controller, as the same account. */
    readonly client: OrchardClient,
    serviceAccountName: string | undefined,
    serviceAccountToken: string | undefined,
  ) {
    this.authorization =
      serviceAccountName && serviceAccountToken
        ? 'Basic ' + Buffer.from(`${serviceAccountName}:${serviceAccountToken}`).toString('base64')
        : undefined;
  }

  static async create(config: ClientConfig): Promise<TunnelDialer> {
    const connection = resolveConnection(await loadContexts(config.contextsFile), config.overrides);
    // The client validates the URL; its base URL keeps an API prefix path (https://host/orchard).
    const client = new OrchardClient({ ...connection, userAgent: USER_AGENT });
    return new TunnelDialer(client, connection.serviceAccountName, connection.serviceAccountToken);
  }

  /**
   * Fails fast on a name that does not exist (or a controller that cannot be reached), before
   * waiting for connections that could only fail. An account allowed to connect but not to read
   * may not look: any other refusal is left for the tunnels to report.
   */
  async checkExists(kind: TunnelTarget['kind'], name: string): Promise<void> {
    try {
      if (kind === 'vm') await this.client.getVm(name);
      else await this.client.getWorker(name);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status === 404) throw error;
    }
  }

  /** ws:// or wss:// URL of the target's port-forward endpoint. */
  url(target: TunnelTarget): string {
    const collection = target.kind === 'vm' ? 'vms' : 'workers';
    const query = new URLSearchParams({ port: String(target.port), wait: String(target.waitSeconds) });
    const base = this.client.baseUrl.replace(/^http/, 'ws');
    return `${base}/v1/${collection}/${encodeURIComponent(target.name)}/port-forward?${query.toString()}`;
  }

  /**
   * Resolves with the tunnel as a byte Duplex once the controller has upgraded, that is once the
   * bytes can flow; rejects with a {@link TunnelError} (the controller's message when it
   * refused). Aborting the signal while it is opening rejects with the signal's reason.
   */
  open(target: TunnelTarget, signal?: AbortSignal): Promise<Duplex> {
    return new Promise<Duplex>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason as Error);
      // Offered always: a controller that does not know the extension ignores the header.
      const headers: Record<string, string> = { 'user-agent': USER_AGENT, [HALF_CLOSE_HEADER]: '1' };
      if (this.authorization) headers['authorization'] = this.authorization;
      const url = this.url(target);
      const ws = new WebSocket(url, {
        headers,
        ...tunnelMaskOptions(url),
        // Tunnel bytes are mostly encrypted already: compressing them costs CPU for nothing.
        perMessageDeflate: false,
        // Bigger than any message the controller sends (see #pipe's message size).
        maxPayload: 64 * 1024 * 1024,
        handshakeTimeout: (target.waitSeconds + ANSWER_GRACE_SECONDS) * 1000,
      });
      let settled = false;
      const settle = (outcome: Duplex | Error) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        ws.off('open', onOpen);
        if (outcome instanceof Error) {
          // Whatever ws still reports about the aborted handshake is moot now.
          ws.on('error', () => undefined);
          ws.terminate();
          reject(outcome);
        } else {
          ws.off('error', onError);
          resolve(outcome);
        }
      };
      // The duplex must listen from the 'open' event on: a server that speaks first (SSH) may
      // have its first message in the same packet as the 101, and ws emits it before any
      // promise continuation would run.
      let halfClose = false;
      const onUpgrade = (response: IncomingMessage) => {
        halfClose = halfCloseRequested(response.headers[HALF_CLOSE_HEADER]);
      };
      const onOpen = () => settle(webSocketDuplex(ws, { halfClose }));
      const onError = (error: Error) => settle(this.failure(error));
      const onAbort = () => settle(signal?.reason as Error);
      ws.once('upgrade', onUpgrade);
      ws.once('open', onOpen);
      ws.once('error', onError);
      ws.once('unexpected-response', (_request, response: IncomingMessage) => {
        void refusal(response).then(settle);
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private failure(error: Error): TunnelError {
    const base = this.client.baseUrl;
    if (error.message === 'Opening handshake has timed out') {
      return new TunnelError(`the controller at ${base} did not answer in time`);
    }
    return new TunnelError(`cannot reach the controller at ${base}: ${networkReason(error)}`);
  }
}

/** A non-101 answer as one line: the controller's `message`, else the status line. */
async function refusal(response: IncomingMessage): Promise<TunnelError> {
  const status = response.statusCode ?? 0;
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      length += chunk.length;
      if (length > MAX_ERROR_BODY_BYTES) break;
      chunks.push(chunk);
    }
  } catch {
    // The controller hung up mid-answer: the status says enough.
  }
  let message = '';
  try {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { message?: unknown };
    if (typeof body.message === 'string') message = body.message;
  } catch {
    // Not JSON: a proxy's page, or not an Orchard controller.
  }
  if (!message) {
    message =
      status === 200
        ? 'the controller answered without upgrading to a WebSocket: is this an Orchard controller?'
        : `the controller answered ${status} ${response.statusMessage ?? ''}`.trim();
  }
  return new TunnelError(message, status);
}
