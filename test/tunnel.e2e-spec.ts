import { createHash, randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { Client as SshClient } from 'ssh2';
import WebSocket from 'ws';

import { HALF_CLOSE_HEADER } from '#api';

import { RendezvousService } from '../apps/controller/src/rpc/rendezvous.service.js';
import { TunnelsService } from '../apps/controller/src/tunnels/tunnels.service.js';
import { webSocketDuplex } from '../libs/pipe/src/index.js';
import { startTestCluster, type TestCluster } from './support/cluster-harness.js';
import { basicAuth } from './support/controller-harness.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/**
 * This process's live memory (JS heap and Buffers) after full garbage collections: what a leak
 * keeps, whatever V8 and malloc keep of RSS. V8 hands out `gc` to a context created once the flag
 * is set, so no command-line flag is needed.
 */
function liveBytesAfterGc(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

describe('port forwarding through the controller', () => {
  let cluster: TestCluster;

  /** Opens the tunnel; resolves with a byte stream, or rejects with the HTTP status and message. */
  function tunnel(path: string, credentials = cluster.api.admin): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(cluster.api.url.replace('http', 'ws') + path, {
        headers: { authorization: basicAuth(credentials) },
        perMessageDeflate: false,
      });
      ws.once('open', () => resolve(webSocketDuplex(ws)));
      ws.once('unexpected-response', (_request, response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => {
          const { message } = JSON.parse(body) as { message: string };
          reject(Object.assign(new Error(message), { status: response.statusCode }));
        });
      });
      ws.once('error', reject);
    });
  }

  function roundTrip(stream: Duplex, data: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const received: Buffer[] = [];
      let length = 0;
      stream.on('data', (chunk: Buffer) => {
        received.push(chunk);
        length += chunk.length;
        if (length >= data.length) {
          stream.destroy();
          resolve(Buffer.concat(received));
        }
      });
      stream.on('error', reject);
      stream.write(data);
    });
  }

  /** Tunnels close asynchronously after their streams end: wait for the controller's count. */
  async function untilNoTunnels(): Promise<void> {
    const tunnels = cluster.api.controller.app.get(TunnelsService);
    const rendezvous = cluster.api.controller.app.get(RendezvousService);
    for (let i = 0; i < 200 && (tunnels.activeTunnels > 0 || rendezvous.size > 0); i++) {
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect({ tunnels: tunnels.activeTunnels, sessions: rendezvous.size }).toEqual({
      tunnels: 0,
      sessions: 0,
    });
  }

  beforeAll(async () => {
    cluster = await startTestCluster({ workers: [{ name: 'tunnel-worker' }] });
    await cluster.client.createVm({ name: 'target', image: 'img', username: 'admin', password: 'admin' });
    await cluster.waitForVm('target', (vm) => vm.status === 'running');
  });

  afterAll(async () => {
    await cluster?.close();
  });

  it('carries bytes to a VM port and back intact', async () => {
    const stream = await tunnel('/v1/vms/target/port-forward?port=7&wait=10');
    const data = randomBytes(8 * 1024 * 1024);
    expect(sha256(await roundTrip(stream, data))).toBe(sha256(data));
  });

  it('carries a half-close when the client asks for it: the whole echo comes back after the client ended its side', async () => {
    const ws = new WebSocket(cluster.api.url.replace('http', 'ws') + '/v1/vms/target/port-forward?port=7', {
      headers: { authorization: basicAuth(cluster.api.admin), [HALF_CLOSE_HEADER]: '1' },
      perMessageDeflate: false,
    });
    const confirmed = new Promise<string | string[] | undefined>((resolve) =>
      ws.once('upgrade', (response) => resolve(response.headers[HALF_CLOSE_HEADER])),
    );
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    expect(await confirmed).toBe('1');
    const stream = webSocketDuplex(ws, { halfClose: true });
    const data = randomBytes(4 * 1024 * 1024);
    const received: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => received.push(chunk));
    const ended = new Promise<void>((resolve, reject) => {
      stream.once('end', resolve);
      stream.once('error', reject);
    });
    // All of it is written and the client's side ended before a byte of the echo is read.
    stream.end(data);
    await ended;
    expect(sha256(Buffer.concat(received))).toBe(sha256(data));
    await new Promise((resolve) =>
      ws.readyState === WebSocket.CLOSED ? resolve(null) : ws.once('close', resolve),
    );
    await untilNoTunnels();
  });

  it('does not confirm half-close to a client that did not ask for it (Orchard behaviour)', async () => {
    const ws = new WebSocket(cluster.api.url.replace('http', 'ws') + '/v1/vms/target/port-forward?port=7', {
      headers: { authorization: basicAuth(cluster.api.admin) },
      perMessageDeflate: false,
    });
    const header = new Promise<string | string[] | undefined>((resolve) =>
      ws.once('upgrade', (response) => resolve(response.headers[HALF_CLOSE_HEADER])),
    );
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    expect(await header).toBeUndefined();
    ws.close();
    await untilNoTunnels();
  });

  it("reaches the VM's SSH server: a command's exit status comes back", async () => {
    const stream = await tunnel('/v1/vms/target/port-forward?port=22');
    const ssh = new SshClient();
    const code = await new Promise<number>((resolve, reject) => {
      ssh.once('ready', () => {
        ssh.exec('exit 7', (error, channel) => {
          if (error) return reject(error);
          channel.on('exit', (exitCode: number) => resolve(exitCode)).resume();
        });
      });
      ssh.once('error', reject);
      ssh.connect({ sock: stream, username: 'admin', password: 'admin' });
    });
    ssh.end();
    expect(code).toBe(7);
  });

  it('answers 404 for an unknown VM', async () => {
    await expect(tunnel('/v1/vms/nope/port-forward?port=22')).rejects.toMatchObject({ status: 404 });
  });

  it('answers 400 for a bad port or wait', async () => {
    await expect(tunnel('/v1/vms/target/port-forward?port=70000')).rejects.toMatchObject({ status: 400 });
    await expect(tunnel('/v1/vms/target/port-forward?port=22&wait=soon')).rejects.toMatchObject({
      status: 400,
    });
  });

  it('answers 408 when the VM is not running within the wait', async () => {
    await cluster.client.createVm({ name: 'unplaceable', image: 'img', labels: { nowhere: 'true' } });
    await expect(tunnel('/v1/vms/unplaceable/port-forward?port=22&wait=1')).rejects.toMatchObject({
      status: 408,
    });
  });

  it("answers 417 with the VM's failure for a VM that failed", async () => {
    await cluster.client.createVm({ name: 'doomed', image: 'img' });
    await cluster.waitForVm('doomed', (vm) => vm.status === 'running');
    const report = await cluster.api.request('PUT', '/v1/vms/doomed/state', {
      status: 'failed',
      status_message: 'the guest panicked',
    });
    expect(report.status).toBe(200);
    await expect(tunnel('/v1/vms/doomed/port-forward?port=22&wait=5')).rejects.toMatchObject({
      status: 417,
      message: expect.stringContaining('the guest panicked'),
    });
  });

  it('answers 403 for an account that can neither write nor connect', async () => {
    await cluster.client.createServiceAccount({
      name: 'reader',
      roles: ['compute:read'],
      token: 'reader-token-0123456789',
    });
    await expect(
      tunnel('/v1/vms/target/port-forward?port=22', { name: 'reader', token: 'reader-token-0123456789' }),
    ).rejects.toMatchObject({ status: 403 });
  });

  it('carries 200 concurrent tunnels of 1 MiB each intact and leaves no session, tunnel or memory behind', async () => {
    const concurrentTunnels = async (count: number) => {
      const results = await Promise.all(
        Array.from({ length: count }, async () => {
          const data = randomBytes(1024 * 1024);
          const stream = await tunnel('/v1/vms/target/port-forward?port=9');
          return sha256(await roundTrip(stream, data)) === sha256(data);
        }),
      );
      await untilNoTunnels();
      return results;
    };
    // A first round warms the pools and caches every later tunnel reuses.
    await concurrentTunnels(20);
    const baseline = liveBytesAfterGc();

    const results = await concurrentTunnels(200);
    expect(results.filter(Boolean)).toHaveLength(200);
    // 200 MiB went each way through this process (controller, worker and VM are all in it): a tunnel
    // that kept a tenth of its bytes would leave 40 MiB behind. The worker's and the clients' sides
    // finish closing after the controller's count reaches zero (up to 95 MiB were still held at
    // that moment, none 50 ms later), so measure until it settles; a leak never does.
    const bound = 16 * 1024 * 1024;
    let leftBehind = liveBytesAfterGc() - baseline;
    for (let i = 0; i < 40 && leftBehind >= bound; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      leftBehind = liveBytesAfterGc() - baseline;
    }
    expect(leftBehind).toBeLessThan(bound);
  });

  it("refuses at once, with the worker's reason, a port the worker cannot connect to", async () => {
    const started = Date.now();
    const error = await tunnel('/v1/workers/tunnel-worker/port-forward?port=1&wait=30').catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ status: 503, message: expect.stringMatching(/ECONNREFUSED|refused/i) });
    // Far below the 30 s wait: the refusal travels back on the PortForward call itself.
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(cluster.api.controller.app.get(RendezvousService).size).toBe(0);
  });

  it('resolves the VM IP through its worker', async () => {
    const response = await cluster.api.request<{ ip: string }>('GET', '/v1/vms/target/ip?wait=5');
    expect(response.status).toBe(200);
    expect(response.body.ip).toBe('127.0.0.1');
  });
});

describe('a worker that goes away during a transfer', () => {
  it("closes the user's connection when it shuts down, and leaves no session on the controller", async () => {
    const cluster = await startTestCluster({ workers: [{ name: 'fragile' }] });
    try {
      await cluster.client.createVm({ name: 'victim', image: 'img' });
      await cluster.waitForVm('victim', (vm) => vm.status === 'running');
      const ws = new WebSocket(cluster.api.url.replace('http', 'ws') + '/v1/vms/victim/port-forward?port=7', {
        headers: { authorization: basicAuth(cluster.api.admin) },
        perMessageDeflate: false,
      });
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      const stream = webSocketDuplex(ws);
      // A clean shutdown stops the VM, whose side of the connection closes: the tunnel ends the
      // way it would if the VM's server had hung up (a killed worker is an error, see
      // tunnel-worker-killed.e2e-spec.ts).
      const ended = new Promise<void>((resolve) => {
        stream.on('error', () => resolve());
        stream.on('close', () => resolve());
      });
      stream.write(randomBytes(1024 * 1024));
      stream.resume();
      await cluster.workers[0].close();
      await ended;
      const tunnels = cluster.api.controller.app.get(TunnelsService);
      for (let i = 0; i < 200 && tunnels.activeTunnels > 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(tunnels.activeTunnels).toBe(0);
      expect(cluster.api.controller.app.get(RendezvousService).size).toBe(0);
    } finally {
      await cluster.close();
    }
  });

  it('answers 503 within the wait when the worker of a running VM is not connected', async () => {
    const cluster = await startTestCluster({ workers: [{ name: 'gone' }] });
    try {
      await cluster.client.createVm({ name: 'orphan', image: 'img' });
      await cluster.waitForVm('orphan', (vm) => vm.status === 'running');
      await cluster.workers[0].close();
      const error = await new Promise<unknown>((resolve) => {
        const ws = new WebSocket(
          cluster.api.url.replace('http', 'ws') + '/v1/vms/orphan/port-forward?port=22&wait=1',
          {
            headers: { authorization: basicAuth(cluster.api.admin) },
          },
        );
        ws.once('unexpected-response', (_request, res) => resolve(res.statusCode));
        ws.once('open', () => resolve('opened'));
      });
      expect(error).toBe(503);
    } finally {
      await cluster.close();
    }
  });
});
