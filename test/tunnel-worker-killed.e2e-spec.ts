import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import WebSocket from 'ws';

import { RendezvousService } from '../apps/controller/src/rpc/rendezvous.service.js';
import { TunnelsService } from '../apps/controller/src/tunnels/tunnels.service.js';
import { webSocketDuplex } from '../libs/pipe/src/index.js';
import { startTestCluster, WORKER_ACCOUNT, type TestCluster } from './support/cluster-harness.js';
import { basicAuth } from './support/controller-harness.js';

const ORCHARD_BIN = fileURLToPath(new URL('../bin/orchard.js', import.meta.url));
const MiB = 1024 * 1024;

/**
 * A worker that dies (SIGKILL: no goodbye, its connections just drop) in the middle of a transfer,
 * as a real `orchard worker run` process, against a controller in this process.
 */
describe('a worker process killed during a transfer', () => {
  let cluster: TestCluster;
  let scratch: string;
  let worker: ChildProcess | undefined;

  beforeAll(async () => {
    cluster = await startTestCluster({ workers: [] });
    scratch = await mkdtemp(join(tmpdir(), 'orchard-killed-worker-'));
  });

  afterAll(async () => {
    worker?.kill('SIGKILL');
    await cluster?.close();
    // The synthetic VMs of a killed worker stay where it put them: under TMPDIR, i.e. here.
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it("closes the user's connection with an error at once and leaves no session or tunnel on the controller", async () => {
    const child = spawn(
      process.execPath,
      [ORCHARD_BIN, 'worker', 'run', cluster.api.url, '--name', 'mortal', '--runtime', 'synthetic'],
      {
        env: {
          PATH: process.env['PATH'],
          HOME: scratch,
          TMPDIR: scratch,
          ORCHARD_SERVICE_ACCOUNT_NAME: WORKER_ACCOUNT.name,
          ORCHARD_SERVICE_ACCOUNT_TOKEN: WORKER_ACCOUNT.token,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    worker = child;
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
      child.once('exit', (code, signal) => resolve(signal ?? code)),
    );
    void exited.then((how) => {
      if (how !== 'SIGKILL') console.error(`the worker exited (${how}) on its own:\n${stderr}`);
    });

    await cluster.client.createVm({ name: 'victim', image: 'img' });
    const running = await cluster.waitForVm('victim', (vm) => vm.status === 'running', 30_000);
    expect(running.worker).toBe('mortal');

    const ws = new WebSocket(cluster.api.url.replace('http', 'ws') + '/v1/vms/victim/port-forward?port=7', {
      headers: { authorization: basicAuth(cluster.api.admin) },
      perMessageDeflate: false,
    });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const stream = webSocketDuplex(ws);
    const ended = new Promise<string>((resolve) => {
      stream.on('error', (error) => resolve(`error: ${error.message}`));
      stream.on('close', () => resolve('closed without an error'));
    });
    // Bytes are flowing both ways when the worker dies.
    const firstEcho = new Promise((resolve) => stream.once('data', resolve));
    stream.write(randomBytes(32 * MiB));
    await firstEcho;
    stream.resume();

    const killedAt = Date.now();
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(await ended).toMatch(/^error: /);
    // The controller learns it from the worker's dropped connection, not from a keepalive
    // timeout (those take tens of seconds).
    expect(Date.now() - killedAt).toBeLessThan(10_000);

    const tunnels = cluster.api.controller.app.get(TunnelsService);
    const rendezvous = cluster.api.controller.app.get(RendezvousService);
    for (let i = 0; i < 200 && (tunnels.activeTunnels > 0 || rendezvous.size > 0); i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect({ tunnels: tunnels.activeTunnels, sessions: rendezvous.size }).toEqual({
      tunnels: 0,
      sessions: 0,
    });
  });
});
