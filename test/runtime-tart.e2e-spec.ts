import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { LoggerService } from '@nestjs/common';

import { RuntimeError } from '../apps/worker/src/runtime/runtime-error.js';
import { TartRuntime } from '../apps/worker/src/runtime/tart/tart.runtime.js';
import type { VmRunOptions } from '../apps/worker/src/runtime/vm-runtime.js';

/** TartRuntime against the fake `tart` executable (test/fixtures/tart): real processes, real argv. */
const FAKE_TART = fileURLToPath(new URL('./fixtures/tart/tart', import.meta.url));
const IMAGE = 'ghcr.io/cirruslabs/macos-sonoma-base:latest';

class RecordingLogger implements LoggerService {
  readonly warnings: string[] = [];
  log(): void {}
  error(): void {}
  debug(): void {}
  warn(message: unknown): void {
    this.warnings.push(String(message));
  }
}

const runOptions = (overrides: Partial<VmRunOptions> = {}): VmRunOptions => ({
  netSoftnet: false,
  netSoftnetAllow: [],
  netSoftnetBlock: [],
  netBridged: '',
  headless: true,
  nested: false,
  suspendable: false,
  hostDirs: [],
  username: '',
  password: '',
  ...overrides,
});

async function rejection(promise: Promise<unknown>): Promise<RuntimeError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(RuntimeError);
    return error as RuntimeError;
  }
  throw new Error('expected a rejection');
}

describe('TartRuntime with the fake tart', () => {
  let home: string;
  let logger: RecordingLogger;
  let runtimes: TartRuntime[];

  /** A runtime whose tart is the fake, with extra variables (failure injection) if given. */
  function tart(env: Record<string, string> = {}): TartRuntime {
    const runtime = new TartRuntime({ binary: FAKE_TART, env: { TART_FAKE_HOME: home, ...env }, logger });
    runtimes.push(runtime);
    return runtime;
  }

  async function calls(): Promise<string[][]> {
    const log = await readFile(join(home, 'calls.log'), 'utf8');
    return log
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as string[]);
  }

  /** Clones and starts a VM, returning once `tart ip` sees it running. */
  async function startedVm(runtime: TartRuntime, name: string, options = runOptions()) {
    await runtime.clone(IMAGE, name);
    const running = await runtime.run(name, options);
    await runtime.ip(name, 30);
    return running;
  }

  beforeEach(async () => {
    home = await mkdtemp(join(tmpdir(), 'orchard-fake-tart-'));
    logger = new RecordingLogger();
    runtimes = [];
  });

  afterEach(async () => {
    await Promise.all(runtimes.map((runtime) => runtime.dispose()));
    await rm(home, { recursive: true, force: true });
  });

  it('takes a VM from pull to delete with Tart’s exact arguments, in order', async () => {
    const runtime = tart();
    const vm = 'orchard-ci-1234-0';

    await runtime.pull(IMAGE);
    await runtime.clone(IMAGE, vm);
    const fqn = await runtime.fqn(IMAGE);
    await runtime.configure(vm, { cpu: 4, memoryMib: 8192, diskSizeGb: 80, randomSerial: true });
    const running = await runtime.run(
      vm,
      runOptions({
        netSoftnet: true,
        netSoftnetAllow: ['10.0.0.0/8', '192.168.0.0/16'],
        netSoftnetBlock: ['1.1.1.1/32'],
        nested: true,
        hostDirs: [{ name: 'src', path: '/Users/admin/my src', ro: true }],
      }),
    );
    const ip = await runtime.ip(vm, 60);
    await runtime.stop(vm, 5);
    const exit = await running.exited;
    await runtime.delete(vm);

    expect(fqn).toMatch(/^ghcr\.io\/cirruslabs\/macos-sonoma-base@sha256:[0-9a-f]{64}$/);
    expect(ip).toBe('127.0.0.1');
    expect(exit).toEqual({ code: 0, signal: null, deliberate: true, stderrFirstLine: '' });
    const [pull, clone, fqnCall, set, first, second, ...rest] = await calls();
    expect([pull, clone, fqnCall, set]).toEqual([
      ['pull', IMAGE],
      ['clone', IMAGE, vm],
      ['fqn', IMAGE],
      ['set', '--cpu', '4', '--memory', '8192', '--disk-size', '80', '--random-mac', '--random-serial', vm],
    ]);
    // `tart ip` is started while `tart run` is still starting: either may log first.
    expect([first, second]).toEqual(
      expect.arrayContaining([
        [
          'run',
          '--net-softnet',
          '--net-softnet-allow',
          '10.0.0.0/8,192.168.0.0/16',
          '--net-softnet-block',
          '1.1.1.1/32',
          '--no-graphics',
          '--nested',
          '--dir=src:/Users/admin/my src:ro',
          vm,
        ],
        ['ip', '--wait', '60', vm],
      ]),
    );
    expect(rest).toEqual([
      ['stop', '--timeout', '5', vm],
      ['delete', vm],
    ]);
    expect(logger.warnings).toEqual([]);
  });

  it('sets only the hardware that is given, always with a fresh MAC address', async () => {
    const runtime = tart();
    await runtime.clone(IMAGE, 'vm');

    await runtime.configure('vm', { cpu: 0, memoryMib: 0, diskSizeGb: 0, randomSerial: false });
    await runtime.configure('vm', { cpu: 2, memoryMib: 0, diskSizeGb: 0, randomSerial: false });

    expect((await calls()).slice(1)).toEqual([
      ['set', '--random-mac', 'vm'],
      ['set', '--cpu', '2', '--random-mac', 'vm'],
    ]);
  });

  it('runs with a window unless headless, suspendable and bridged as asked', async () => {
    const runtime = tart();

    await startedVm(runtime, 'vm', runOptions({ headless: false, suspendable: true, netBridged: 'en0' }));

    const log = await calls();
    expect(log).toContainEqual(['run', '--net-bridged=en0', '--suspendable', 'vm']);
    // Bridged VMs are not in Tart's DHCP leases: the guest agent is asked first.
    expect(log).toContainEqual(['ip', '--wait', '5', '--resolver', 'agent', 'vm']);
  });

  it('fails a clone with tart’s first stderr line and exit code', async () => {
    const runtime = tart({ TART_FAKE_FAIL_CLONE: 'no space left on device' });

    const error = await rejection(runtime.clone(IMAGE, 'vm'));

    expect(error.reason).toBe('command-failed');
    expect(error.message).toBe('tart command failed: "no space left on device"');
    expect(error.exitCode).toBe(1);
  });

  it('fails a clone of an image no registry knows', async () => {
    const error = await rejection(tart().clone('ghcr.io/missing/image:latest', 'vm'));

    expect(error.message).toMatch(/^tart command failed: ".*NAME_UNKNOWN.*"$/);
  });

  it('reports a tart run that exits on its own as an unexpected exit with its stderr line', async () => {
    const runtime = tart({ TART_FAKE_RUN_EXIT_AFTER_MS: '50' });
    await runtime.clone(IMAGE, 'vm');

    const running = await runtime.run('vm', runOptions());
    const exit = await running.exited;

    expect(exit).toEqual({
      code: 1,
      signal: null,
      deliberate: false,
      stderrFirstLine: 'the VM crashed: guest kernel panic (TART_FAKE_RUN_EXIT_AFTER_MS)',
    });
    expect(logger.warnings).toEqual([expect.stringContaining('tart run vm exited unexpectedly (code 1)')]);
    // A VM known to have exited is refused at once, without waiting for an IP.
    expect((await rejection(runtime.connect('vm', 22))).reason).toBe('vm-not-running');
  });

  it('gives up on the IP after the wait when the VM never gets one', async () => {
    const runtime = tart({ TART_FAKE_IP_NEVER: '1' });
    await runtime.clone(IMAGE, 'vm');
    await runtime.run('vm', runOptions());

    const error = await rejection(runtime.ip('vm', 1));

    expect(error.message).toBe('tart command failed: "no IP address found"');
    expect(await calls()).toContainEqual(['ip', '--wait', '1', 'vm']);
  });

  it('cancels a pending tart ip without reporting a failure', async () => {
    const runtime = tart({ TART_FAKE_IP_NEVER: '1' });
    await runtime.clone(IMAGE, 'vm');
    const controller = new AbortController();

    const pending = runtime.ip('vm', 60, controller.signal);
    controller.abort();

    expect((await rejection(pending)).cancelled).toBe(true);
    expect(logger.warnings).toEqual([]);
  });

  it('lists local VMs and pulled images from tart list --format json', async () => {
    const runtime = tart();
    await startedVm(runtime, 'b-running');
    await runtime.clone(IMAGE, 'a-stopped');

    expect(await runtime.list()).toEqual([
      { name: 'a-stopped', source: 'local', state: 'stopped', running: false },
      { name: 'b-running', source: 'local', state: 'running', running: true },
      { name: IMAGE, source: 'oci', state: 'stopped', running: false },
    ]);
    expect((await calls()).at(-1)).toEqual(['list', '--format', 'json']);
  });

  it('suspends a suspendable VM: its tart run ends deliberately and the VM lists as suspended', async () => {
    const runtime = tart();
    const running = await startedVm(runtime, 'vm', runOptions({ suspendable: true }));

    await runtime.suspend('vm');

    expect(await running.exited).toEqual({ code: 0, signal: null, deliberate: true, stderrFirstLine: '' });
    expect(await runtime.list()).toContainEqual({
      name: 'vm',
      source: 'local',
      state: 'suspended',
      running: false,
    });
  });

  it('rejects a suspend that tart run could not carry out', async () => {
    const runtime = tart();
    const running = await startedVm(runtime, 'vm');

    const error = await rejection(runtime.suspend('vm'));

    expect(error.message).toBe(
      'tart command failed: "failed to suspend the VM: it was not started with --suspendable"',
    );
    expect((await running.exited).code).toBe(1);
  });

  it('connects to a port on the VM’s IP', async () => {
    const service = createServer((socket) => socket.end('SSH-2.0-guest\r\n'));
    service.listen(0, '127.0.0.1');
    await once(service, 'listening');
    const runtime = tart();
    await startedVm(runtime, 'vm');

    const socket = await runtime.connect('vm', (service.address() as AddressInfo).port);
    const chunks: Buffer[] = [];
    for await (const chunk of socket) chunks.push(chunk as Buffer);

    expect(Buffer.concat(chunks).toString()).toBe('SSH-2.0-guest\r\n');
    service.close();
  });

  it('rejects a connection the VM refuses with a clear error', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const runtime = tart();
    await startedVm(runtime, 'vm');

    const error = await rejection(runtime.connect('vm', port));

    expect(error.reason).toBe('unreachable');
    expect(error.message).toBe(`cannot connect to port ${port} of VM "vm" (127.0.0.1): ECONNREFUSED`);
  });

  it('refuses to connect anywhere but an IP address tart printed', async () => {
    const runtime = tart({ TART_FAKE_IP: 'example.com' });
    await runtime.clone(IMAGE, 'vm');
    await runtime.run('vm', runOptions());

    const error = await rejection(runtime.connect('vm', 22));

    expect(error.message).toBe('tart ip printed "example.com", not an IP address');
  });

  it('ends its own tart run processes on dispose, deliberately', async () => {
    const runtime = tart();
    const running = await startedVm(runtime, 'vm');

    await runtime.dispose();

    expect(await running.exited).toMatchObject({ signal: 'SIGKILL', deliberate: true });
  });

  it('explains how to install tart when it is missing', async () => {
    const runtime = new TartRuntime({ binary: join(home, 'no-tart-here'), logger });

    const error = await rejection(runtime.list());

    expect(error.reason).toBe('not-installed');
    expect(error.message).toContain('install it with brew install cirruslabs/cli/tart');
  });
});
