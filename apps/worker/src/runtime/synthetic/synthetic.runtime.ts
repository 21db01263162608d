import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';

import { Logger, type LoggerService } from '@nestjs/common';
import ssh2 from 'ssh2';

import { assertPort, dial } from '../dial.js';
import { cancelledError, RuntimeError } from '../runtime-error.js';
import type { LocalVm, RunningVm, VmExit, VmHardware, VmRunOptions, VmRuntime } from '../vm-runtime.js';
import type { PtyModule } from './guest-process.js';
import { SyntheticGuest } from './synthetic-guest.js';

export interface SyntheticRuntimeOptions {
  /**
   * Where the VMs' private directories go. Default: a fresh directory under the OS's temporary
   * directory, removed by dispose().
   */
  dataDir?: string;
  logger?: LoggerService;
}

type SyntheticState = 'stopped' | 'running' | 'suspended';

interface SyntheticVm {
  name: string;
  image: string;
  hardware: VmHardware | null;
  /** Private working directory: commands run there; removed on delete. */
  dir: string;
  state: SyntheticState;
  /** The current boot, while running. */
  guest: SyntheticGuest | null;
  /** Settles the current boot's `exited`. */
  finish: ((exit: VmExit) => void) | null;
}

/** How long connect() gives the loopback handshake with a guest's service. */
const DIAL_TIMEOUT_MS = 5000;

/**
 * In-process VMs for dev mode on any OS, tests and load tests. Pull, clone, fqn and configure
 * succeed at once (clone gives the VM a private directory); a running VM serves a real SSH server
 * on port 22 (password auth with the VM's username/password, admin/admin when both are empty;
 * `exec` and `shell` run /bin/sh in the VM's directory, in a pty when asked) and echoes bytes on
 * every other port. See SyntheticGuest for how connect() reaches those services.
 */
export class SyntheticRuntime implements VmRuntime {
  readonly kind = 'synthetic';
  /** The SSH host key's public half (OpenSSH format), shared by every VM of this runtime. */
  readonly hostPublicKey: string;

  private readonly hostKey: string;
  private readonly logger: LoggerService;
  private readonly vms = new Map<string, SyntheticVm>();
  private readonly cloning = new Set<string>();
  private readonly pulled = new Set<string>();
  /** Emits 'running' with a VM's name when it starts, for ip() callers waiting on a boot. */
  private readonly boots = new EventEmitter().setMaxListeners(0);
  private readonly dataDir: string | undefined;
  private baseDir: Promise<string> | null = null;
  private pty: Promise<PtyModule | null> | null = null;
  private disposed = false;

  constructor(options: SyntheticRuntimeOptions = {}) {
    this.logger = options.logger ?? new Logger('synthetic');
    this.dataDir = options.dataDir;
    // Generated once per runtime: every VM presents the same host key, like one golden image.
    const keys = generateHostKey();
    this.hostKey = keys.private;
    this.hostPublicKey = keys.public;
  }

  pull(image: string, signal?: AbortSignal): Promise<void> {
    return settle(() => {
      this.checkUsable(signal, `pulling ${image}`);
      this.pulled.add(image);
    });
  }

  async clone(image: string, localName: string, signal?: AbortSignal): Promise<void> {
    this.checkUsable(signal, `cloning ${image}`);
    if (!localName || localName.includes('/') || localName.includes('\0')) {
      throw new RuntimeError('command-failed', `"${localName}" is not a local VM name`);
    }
    if (this.vms.has(localName) || this.cloning.has(localName)) {
      throw new RuntimeError('command-failed', `the specified VM "${localName}" already exists`);
    }
    this.cloning.add(localName);
    try {
      const dir = await mkdtemp(join(await this.base(), `${localName.replace(/[^\w.-]/g, '_')}-`));
      if (this.disposed || signal?.aborted) {
        await rm(dir, { recursive: true, force: true });
        this.checkUsable(signal, `cloning ${image}`);
      }
      this.vms.set(localName, {
        name: localName,
        image,
        hardware: null,
        dir,
        state: 'stopped',
        guest: null,
        finish: null,
      });
    } finally {
      this.cloning.delete(localName);
    }
  }

  /** Deterministic: REPOSITORY@sha256:<sha256 of the image name> for a remote image, else the name. */
  fqn(image: string, signal?: AbortSignal): Promise<string> {
    return settle(() => {
      this.checkUsable(signal, `resolving ${image}`);
      if (image.includes('@sha256:') || !image.includes('/')) return image;
      const repository = image.replace(/:[^/]*$/, '');
      return `${repository}@sha256:${createHash('sha256').update(image).digest('hex')}`;
    });
  }

  configure(localName: string, hardware: VmHardware, signal?: AbortSignal): Promise<void> {
    return settle(() => {
      this.checkUsable(signal, `configuring ${localName}`);
      this.vm(localName).hardware = { ...hardware };
    });
  }

  run(localName: string, options: VmRunOptions): Promise<RunningVm> {
    return settle(() => this.boot(localName, options));
  }

  private boot(localName: string, options: VmRunOptions): RunningVm {
    this.checkUsable(undefined, `running ${localName}`);
    const vm = this.vm(localName);
    if (vm.state === 'running')
      throw new RuntimeError('command-failed', `VM "${localName}" is already running`);
    const useDefaults = !options.username && !options.password;
    vm.guest = new SyntheticGuest({
      name: localName,
      dir: vm.dir,
      username: useDefaults ? 'admin' : options.username,
      password: useDefaults ? 'admin' : options.password,
      hostKey: this.hostKey,
      loadPty: () => this.loadPty(),
      logger: this.logger,
    });
    vm.state = 'running';
    const exited = new Promise<VmExit>((resolve) => (vm.finish = resolve));
    this.boots.emit('running', localName);
    return { exited };
  }

  /** 127.0.0.1 while the VM runs; waits up to `waitSeconds` for it to start otherwise. */
  async ip(localName: string, waitSeconds: number, signal?: AbortSignal): Promise<string> {
    this.checkUsable(signal, `resolving the IP of ${localName}`);
    if (this.vm(localName).state !== 'running') await this.waitForBoot(localName, waitSeconds, signal);
    return '127.0.0.1';
  }

  async stop(localName: string, _timeoutSeconds: number): Promise<void> {
    const vm = this.vm(localName);
    if (vm.state === 'running') await this.halt(vm, 'stopped');
    else vm.state = 'stopped';
  }

  async suspend(localName: string): Promise<void> {
    const vm = this.vm(localName);
    if (vm.state !== 'running') throw new RuntimeError('vm-not-running', `VM "${localName}" is not running`);
    await this.halt(vm, 'suspended');
  }

  async delete(localName: string): Promise<void> {
    const vm = this.vm(localName);
    if (vm.state === 'running') await this.halt(vm, 'stopped');
    this.vms.delete(localName);
    await rm(vm.dir, { recursive: true, force: true });
  }

  list(): Promise<LocalVm[]> {
    return settle(() =>
      [...this.vms.values()].map((vm) => ({
        name: vm.name,
        source: 'local' as const,
        state: vm.state,
        running: vm.state === 'running',
      })),
    );
  }

  /** Rejects at once (no waiting, no dialing) when the VM does not exist or is not running. */
  async connect(localName: string, port: number, signal?: AbortSignal): Promise<Duplex> {
    this.checkUsable(signal, `connecting to ${localName}`);
    assertPort(port);
    const vm = this.vm(localName);
    if (vm.state !== 'running' || !vm.guest) {
      throw new RuntimeError('vm-not-running', `VM "${localName}" is not running`);
    }
    const loopbackPort = await vm.guest.servicePort(port);
    return dial('127.0.0.1', loopbackPort, DIAL_TIMEOUT_MS, signal, `port ${port} of VM "${localName}"`);
  }

  /** Halts every VM (servers, connections, processes), removes their directories. Idempotent. */
  async dispose(): Promise<void> {
    this.disposed = true;
    const vms = [...this.vms.values()];
    this.vms.clear();
    await Promise.all(vms.filter((vm) => vm.state === 'running').map((vm) => this.halt(vm, 'stopped')));
    if (this.dataDir === undefined && this.baseDir) {
      await rm(await this.baseDir, { recursive: true, force: true });
    } else {
      await Promise.all(vms.map((vm) => rm(vm.dir, { recursive: true, force: true })));
    }
  }

  private async halt(vm: SyntheticVm, state: SyntheticState): Promise<void> {
    const { guest, finish } = vm;
    // The state changes first, so that connects from here on are refused at once.
    vm.state = state;
    vm.guest = null;
    vm.finish = null;
    await guest?.halt();
    finish?.({ code: 0, signal: null, deliberate: true, stderrFirstLine: '' });
  }

  private vm(localName: string): SyntheticVm {
    const vm = this.vms.get(localName);
    if (!vm) throw new RuntimeError('vm-not-found', `the specified VM "${localName}" does not exist`);
    return vm;
  }

  private checkUsable(signal: AbortSignal | undefined, what: string): void {
    if (signal?.aborted) throw cancelledError(what);
    if (this.disposed)
      throw new RuntimeError('command-failed', `${what}: the synthetic runtime was disposed`);
  }

  private base(): Promise<string> {
    this.baseDir ??=
      this.dataDir === undefined
        ? mkdtemp(join(tmpdir(), 'orchard-synthetic-'))
        : mkdir(this.dataDir, { recursive: true }).then(() => this.dataDir as string);
    return this.baseDir;
  }

  private loadPty(): Promise<PtyModule | null> {
    this.pty ??= import('node-pty').then(
      (module: PtyModule & { default?: PtyModule }) => module.default ?? module,
      (error: unknown) => {
        this.logger.warn(
          `node-pty could not be loaded (${String(error)}): sessions asking for a terminal get pipes instead`,
        );
        return null;
      },
    );
    return this.pty;
  }

  private waitForBoot(
    localName: string,
    waitSeconds: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        this.boots.off('running', onBoot);
        signal?.removeEventListener('abort', onAbort);
      };
      const onBoot = (name: string): void => {
        if (name !== localName) return;
        cleanup();
        resolve();
      };
      const onAbort = (): void => {
        cleanup();
        reject(cancelledError(`resolving the IP of ${localName}`));
      };
      const timer = setTimeout(
        () => {
          cleanup();
          reject(
            new RuntimeError('vm-not-running', `no IP address found for VM "${localName}", is it running?`),
          );
        },
        Math.max(0, waitSeconds) * 1000,
      );
      this.boots.on('running', onBoot);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** Runs `work` now; what it returns or throws becomes the promise's value or rejection. */
function settle<T>(work: () => T): Promise<T> {
  return new Promise((resolve) => resolve(work()));
}

/**
 * An ed25519 host key that ssh2 can read back. ssh2's own generator now and then writes a
 * private key its parser then rejects ("Malformed OpenSSH private key"), which made a VM fail
 * to boot about once in a few hundred; a key is checked before use and made again if need be.
 */
function generateHostKey(): { private: string; public: string } {
  for (let attempt = 1; ; attempt++) {
    const keys = ssh2.utils.generateKeyPairSync('ed25519');
    if (!(ssh2.utils.parseKey(keys.private) instanceof Error) || attempt >= 10) return keys;
  }
}
