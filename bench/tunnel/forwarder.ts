import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import WebSocket from 'ws';

import { splice, tunnelMaskOptions, webSocketDuplex } from '#pipe';

import { Child, type ChildStop } from './child.js';
import type { Probe } from './proc.js';

/** The `orchard` executable of this checkout (dist/bench/tunnel/ -> bin/). */
export const ORCHARD_BIN = fileURLToPath(new URL('../../../bin/orchard.js', import.meta.url));
const READY_TIMEOUT_MS = 30_000;

/** Where a tunnel goes, and as whom (no account: `orchard dev` has no auth). */
export interface TunnelSpec {
  kind: 'vm' | 'worker';
  name: string;
  remotePort: number;
  /** The controller, e.g. http://127.0.0.1:6120. */
  url: string;
  account?: { name: string; token: string };
}

/** A local port on 127.0.0.1 whose every connection becomes a tunnel of its own. */
export interface Forwarder {
  port: number;
  /** How: `orchard port-forward` (the CLI, a process of its own) or the bench's fallback. */
  via: 'cli' | 'bench';
  /** The CLI process, for the CPU and memory columns; null in-process. */
  probe: Probe | null;
  stop(): Promise<ChildStop | null>;
}

export interface CliForwarderOptions {
  /** ORCHARD_HOME of the CLI: a private, empty one, so the user's contexts are never read. */
  home: string;
  logFile: string;
  cpuProfileDir?: string;
  profileName: string;
}

/**
 * `node bin/orchard.js port-forward vm|worker NAME 0:REMOTE`, configured by the environment only
 * (ORCHARD_URL, ORCHARD_SERVICE_ACCOUNT_*, a private ORCHARD_HOME); resolves once it printed
 * the local port it listens on.
 */
export async function startCliForwarder(spec: TunnelSpec, options: CliForwarderOptions): Promise<Forwarder> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ORCHARD_URL: spec.url,
    ORCHARD_HOME: options.home,
    NO_COLOR: '1',
  };
  delete env['ORCHARD_SERVICE_ACCOUNT_NAME'];
  delete env['ORCHARD_SERVICE_ACCOUNT_TOKEN'];
  if (spec.account) {
    env['ORCHARD_SERVICE_ACCOUNT_NAME'] = spec.account.name;
    env['ORCHARD_SERVICE_ACCOUNT_TOKEN'] = spec.account.token;
  }
  const profile = options.cpuProfileDir
    ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`, `--cpu-prof-name=${options.profileName}`]
    : [];
  const child = new Child({
    name: `orchard port-forward ${spec.kind} ${spec.name} 0:${spec.remotePort}`,
    command: process.execPath,
    args: [...profile, ORCHARD_BIN, 'port-forward', spec.kind, spec.name, `0:${spec.remotePort}`],
    env,
    logFile: options.logFile,
    stopSignal: 'SIGINT',
    stopTimeoutMs: 10_000,
  });
  try {
    const match = await child.waitForLine(/Forwarding 127\.0\.0\.1:(\d+) ->/, READY_TIMEOUT_MS);
    return {
      port: Number(match[1]),
      via: 'cli',
      probe: { label: 'orchard port-forward', pid: child.pid ?? -1 },
      stop: () => child.stop(),
    };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

/**
 * The fallback when the CLI cannot be used: the CLI's own code path in miniature. A net server
 * (allowHalfOpen) on 127.0.0.1:0; each connection opens its own WebSocket to the port-forward
 * endpoint (no compression) and is spliced to it through `#pipe`, as the CLI does.
 */
export async function startBenchForwarder(spec: TunnelSpec): Promise<Forwarder> {
  const collection = spec.kind === 'vm' ? 'vms' : 'workers';
  const url =
    `${spec.url.replace(/^http/, 'ws')}/v1/${collection}/${encodeURIComponent(spec.name)}` +
    `/port-forward?port=${spec.remotePort}&wait=60`;
  const headers: Record<string, string> = {};
  if (spec.account) {
    headers['authorization'] =
      'Basic ' + Buffer.from(`${spec.account.name}:${spec.account.token}`).toString('base64');
  }
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const ws = new WebSocket(url, {
      headers,
      ...tunnelMaskOptions(url),
      perMessageDeflate: false,
      maxPayload: 64 * 1024 * 1024,
    });
    ws.once('error', () => socket.destroy());
    ws.once('unexpected-response', () => {
      ws.terminate();
      socket.destroy();
    });
    ws.once('open', () => {
      splice(socket, webSocketDuplex(ws)).catch(() => undefined);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    via: 'bench',
    probe: null,
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
      return null;
    },
  };
}

/** The CLI when it works, else the in-bench forwarder; `note` says which and why. */
export async function startForwarder(
  spec: TunnelSpec,
  mode: 'cli' | 'bench',
  cli: Omit<CliForwarderOptions, 'logFile' | 'profileName'> & { dir: string; tag: string },
  note: (line: string) => void,
): Promise<Forwarder> {
  if (mode === 'bench') return startBenchForwarder(spec);
  try {
    return await startCliForwarder(spec, {
      home: cli.home,
      cpuProfileDir: cli.cpuProfileDir,
      logFile: join(cli.dir, `port-forward-${cli.tag}.log`),
      profileName: `port-forward-${cli.tag}.cpuprofile`,
    });
  } catch (error) {
    note(
      `orchard port-forward did not start (${error instanceof Error ? error.message.split('\n')[0] : String(error)}); ` +
        'using the in-bench forwarder (ws + #pipe splice) instead',
    );
    return startBenchForwarder(spec);
  }
}
