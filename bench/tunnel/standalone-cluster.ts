import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import { formatBootstrapToken } from '#api';
import { OrchardClient } from '#client';

import { Child, endProcesses, type ChildStop } from './child.js';
import { ORCHARD_BIN } from './forwarder.js';
import { freePort } from './ports.js';
import { readStat } from './proc.js';

const RELAY_MAIN = fileURLToPath(new URL('./relay-main.js', import.meta.url));
const CONTROLLER_READY_TIMEOUT_MS = 120_000;
const WORKER_READY_TIMEOUT_MS = 30_000;
const VM_RUNNING_TIMEOUT_MS = 60_000;
const WORKER_ACCOUNT = 'bench-worker';

export interface StandaloneClusterOptions {
  /** A directory of the run (0755: as root, the embedded PostgreSQL must reach its data inside). */
  dir: string;
  /** Names this cluster's worker, VM, logs and profiles. */
  tag: string;
  /** Added each way between worker and controller; 0: the worker dials the controller directly. */
  delayMs: number;
  cpuProfileDir?: string;
  signal: AbortSignal;
  log: (line: string) => void;
}

/**
 * A controller and a worker in separate processes, as in production. With `delayMs`, the worker's
 * every connection to the controller (REST and the gRPC stream that carries tunnel bytes) crosses
 * a relay that delays each direction by that much:
 *
 *   orchard controller run --listen 127.0.0.1:P --insecure-no-tls   (embedded PostgreSQL)
 *   relay-main --to P --delay-ms D                                   (listens on R; only with delayMs)
 *   orchard worker run http://127.0.0.1:R --runtime synthetic --name TAG --bootstrap-token T
 *
 * The worker joins as a service account with compute:read and compute:write, created through the
 * API by `bootstrap-admin` (ORCHARD_BOOTSTRAP_ADMIN_TOKEN, random). A VM is created and runs on it.
 * Users reach the controller directly, as bootstrap-admin.
 */
export class StandaloneCluster {
  private readonly children: Child[] = [];
  url = '';
  account = { name: 'bootstrap-admin', token: randomBytes(24).toString('base64url') };
  startMs = NaN;

  private constructor(private readonly options: StandaloneClusterOptions) {}

  /** The worker's name. */
  get worker(): string {
    return this.options.tag;
  }

  /** The VM tunnels reach. */
  get vm(): string {
    return `tunnel-bench-${this.options.tag}`;
  }

  get controllerPid(): number | undefined {
    return this.children.find((child) => child.name === 'orchard controller run')?.pid;
  }

  get workerPid(): number | undefined {
    return this.children.find((child) => child.name === 'orchard worker run')?.pid;
  }

  get relayPid(): number | undefined {
    return this.children.find((child) => child.name === 'delay relay')?.pid;
  }

  static async start(options: StandaloneClusterOptions): Promise<StandaloneCluster> {
    const cluster = new StandaloneCluster(options);
    const began = performance.now();
    try {
      await cluster.boot();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    cluster.startMs = performance.now() - began;
    return cluster;
  }

  private profile(name: string): string[] {
    const dir = this.options.cpuProfileDir;
    return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
  }

  private async boot(): Promise<void> {
    const { dir, tag, delayMs, signal, log } = this.options;
    const home = join(dir, `home-${tag}`);
    await mkdir(home, { mode: 0o700 });
    const baseEnv: NodeJS.ProcessEnv = { ...process.env, ORCHARD_HOME: home, NO_COLOR: '1' };
    for (const key of [
      'DATABASE_URL',
      'ORCHARD_SERVICE_ACCOUNT_NAME',
      'ORCHARD_SERVICE_ACCOUNT_TOKEN',
      'ORCHARD_BOOTSTRAP_TOKEN',
      'ORCHARD_URL',
    ]) {
      delete baseEnv[key];
    }

    const port = await freePort();
    const controller = this.spawn({
      name: 'orchard controller run',
      command: process.execPath,
      args: [
        ...this.profile(`controller-${tag}`),
        ORCHARD_BIN,
        ...['controller', 'run', '--listen', `127.0.0.1:${port}`, '--insecure-no-tls'],
        ...['--data-dir', join(dir, 'controller-data')],
      ],
      env: { ...baseEnv, ORCHARD_BOOTSTRAP_ADMIN_TOKEN: this.account.token },
      logFile: join(dir, `controller-${tag}.log`),
      stopSignal: 'SIGTERM',
      stopTimeoutMs: 60_000,
    });
    log(`${tag}: starting orchard controller run on 127.0.0.1:${port}`);
    await controller.waitForLine(/orchard controller listening on/, CONTROLLER_READY_TIMEOUT_MS, signal);
    this.url = `http://127.0.0.1:${port}`;

    let workerUrl = this.url;
    if (delayMs > 0) {
      const relay = this.spawn({
        name: 'delay relay',
        command: process.execPath,
        args: [RELAY_MAIN, '--to', String(port), '--delay-ms', String(delayMs)],
        logFile: join(dir, 'delay-relay.log'),
        stopSignal: 'SIGTERM',
        stopTimeoutMs: 5_000,
        stdinPipe: true,
      });
      const relayLine = await relay.waitForLine(/relay 127\.0\.0\.1:(\d+) ->/, 10_000, signal);
      workerUrl = `http://127.0.0.1:${relayLine[1]}`;
    }

    const admin = new OrchardClient({
      url: this.url,
      serviceAccountName: this.account.name,
      serviceAccountToken: this.account.token,
    });
    const workerToken = randomBytes(24).toString('base64url');
    await admin.createServiceAccount({
      name: WORKER_ACCOUNT,
      roles: ['compute:read', 'compute:write'],
      token: workerToken,
    });
    const bootstrapToken = formatBootstrapToken({
      serviceAccountName: WORKER_ACCOUNT,
      serviceAccountToken: workerToken,
    });
    const worker = this.spawn({
      name: 'orchard worker run',
      command: process.execPath,
      args: [
        ...this.profile(`worker-${tag}`),
        ORCHARD_BIN,
        ...['worker', 'run', workerUrl, '--runtime', 'synthetic'],
        ...['--name', this.worker, '--bootstrap-token', bootstrapToken],
      ],
      env: baseEnv,
      logFile: join(dir, `worker-${tag}.log`),
      stopSignal: 'SIGINT',
      stopTimeoutMs: 30_000,
    });
    log(
      `${tag}: starting orchard worker run, controller ${workerUrl}${delayMs > 0 ? ' (the delay relay)' : ''}`,
    );
    await worker.waitForLine(new RegExp(`orchard worker "${tag}" started`), WORKER_READY_TIMEOUT_MS, signal);

    await admin.createVm({ name: this.vm, image: 'x' });
    const deadline = performance.now() + VM_RUNNING_TIMEOUT_MS;
    for (;;) {
      const vm = await admin.getVm(this.vm);
      if (vm.status === 'running') break;
      if (vm.status === 'failed') throw new Error(`VM ${this.vm} failed: ${vm.status_message ?? ''}`);
      if (performance.now() > deadline || signal.aborted) {
        throw new Error(`VM ${this.vm} is not running after ${VM_RUNNING_TIMEOUT_MS} ms (${vm.status})`);
      }
      await sleep(200);
    }
  }

  private spawn(options: ConstructorParameters<typeof Child>[0]): Child {
    const child = new Child(options);
    this.children.push(child);
    return child;
  }

  logTails(): string {
    return this.children.map((child) => `--- ${child.name}\n${child.logTail(15)}`).join('\n');
  }

  /**
   * Worker first (it stops its VMs), then the controller (it stops its PostgreSQL), then the
   * relay; a PostgreSQL that outlived its controller is stopped here. Never rejects.
   */
  async stop(): Promise<{ outcomes: ChildStop[]; postgresLeftRunning: boolean }> {
    const order = ['orchard worker run', 'orchard controller run', 'delay relay'];
    const outcomes: ChildStop[] = [];
    for (const name of order) {
      const child = this.children.find((candidate) => candidate.name === name);
      if (child) outcomes.push(await child.stop());
    }
    const pidText = await readFile(
      join(this.options.dir, 'controller-data', 'postgres', 'postmaster.pid'),
      'utf8',
    ).catch(() => '');
    const pid = Number(pidText.split('\n')[0]);
    const stat = Number.isInteger(pid) && pid > 1 ? readStat(pid) : null;
    if (stat) await endProcesses([{ pid, start: stat.start }]);
    return { outcomes, postgresLeftRunning: stat !== null };
  }
}
