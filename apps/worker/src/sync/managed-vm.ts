import { Logger } from '@nestjs/common';

import type { Condition, VM, VmStateReport } from '#api';

import type { RunningVm, VmRunOptions, VmRuntime } from '../runtime/vm-runtime.js';
import type { LocalState } from './reconcile.js';

/** Seconds `tart stop` waits for the guest before forcing it off. */
const STOP_TIMEOUT_SECONDS = 5;
/** How long a started VM may take to get an IP address (`tart ip --wait`), by default. */
export const DEFAULT_IP_WAIT_SECONDS = 60;

function runOptions(vm: VM): VmRunOptions {
  return {
    netSoftnet: vm.netSoftnet,
    netSoftnetAllow: vm.netSoftnetAllow,
    netSoftnetBlock: vm.netSoftnetBlock,
    netBridged: vm['net-bridged'],
    headless: vm.headless,
    nested: vm.nested,
    suspendable: vm.suspendable,
    hostDirs: vm.hostDirs,
    username: vm.username,
    password: vm.password,
  };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * One VM on this worker, from creation to deletion, driven by the sync loop. It owns the
 * runtime calls for its VM and keeps what the loop reports: state, status message, image FQN,
 * the generation it has applied and whether the guest is powered on. `onChange` asks the loop
 * to report promptly.
 */
export class ManagedVm {
  state: Exclude<LocalState, 'absent'> = 'pending';
  statusMessage = '';
  imageFqn = '';
  observedGeneration = 0;
  /** Whether the guest runs now (false while stopped or suspended by its spec). */
  poweredOn = false;
  spec: VM;
  /** Halted with `tart suspend` (the next run resumes it) rather than stopped. */
  private suspended = false;

  private readonly logger = new Logger('vm');
  private readonly abort = new AbortController();
  private running: RunningVm | null = null;
  /** Serialises runtime operations on this VM (create, spec changes, deletion). */
  private queue: Promise<void> = Promise.resolve();
  private applying = false;
  private destroyed = false;

  constructor(
    spec: VM,
    private readonly runtime: VmRuntime,
    private readonly onChange: () => void,
    private readonly ipWaitSeconds = DEFAULT_IP_WAIT_SECONDS,
  ) {
    this.spec = spec;
  }

  get localName(): string {
    return this.spec.localName;
  }

  /** Whether the controller's spec has changed since this VM last applied it. */
  needsReconfigure(remote: VM): boolean {
    return this.state === 'running' && !this.applying && remote.generation > this.observedGeneration;
  }

  report(): VmStateReport {
    const conditions: Condition[] = [{ type: 'running', state: this.poweredOn ? 'true' : 'false' }];
    return {
      status: this.state,
      statusMessage: this.statusMessage,
      imageFqn: this.imageFqn,
      observedGeneration: this.observedGeneration,
      conditions,
      uid: this.spec.uid,
      restartCount: this.spec.restart_count,
      worker: this.spec.worker,
    };
  }

  /** Pull (policy Always), clone, configure, run: the creation steps, in order. */
  create(): Promise<void> {
    return this.enqueue(async () => {
      const vm = this.spec;
      const signal = this.abort.signal;
      if (vm.imagePullPolicy === 'Always') {
        this.progress('pulling VM image...');
        await this.runtime.pull(vm.image, signal);
      }
      this.progress('cloning VM...');
      await this.runtime.clone(vm.image, vm.localName, signal);
      this.imageFqn = await this.runtime.fqn(vm.image, signal);
      this.progress('configuring VM...');
      await this.runtime.configure(
        vm.localName,
        {
          cpu: vm.assignedCPU || vm.cpu,
          memoryMib: vm.assignedMemory || vm.memory,
          diskSizeGb: vm.diskSize,
          randomSerial: vm.randomSerial,
        },
        signal,
      );
      await this.applyPowerState(vm);
      this.observedGeneration = vm.generation;
      this.state = 'running';
      this.statusMessage = 'VM started';
      this.onChange();
    });
  }

  /** Applies a changed spec (softnet, suspendable, power state) by stopping or suspending and re-running. */
  reconfigure(spec: VM): Promise<void> {
    this.spec = spec;
    this.applying = true;
    return this.enqueue(async () => {
      const vm = this.spec;
      if (this.poweredOn)
        await this.halt(vm.powerState === 'suspended' && vm.suspendable ? 'suspend' : 'stop');
      await this.applyPowerState(vm);
      this.observedGeneration = vm.generation;
      this.applying = false;
      this.onChange();
    });
  }

  /** Stops the VM if it runs and deletes it from the host; safe to call at any moment. */
  destroy(): Promise<void> {
    this.destroyed = true;
    this.abort.abort();
    return this.enqueue(async () => {
      if (this.poweredOn) await this.halt('stop').catch(() => undefined);
      await this.runtime.delete(this.localName).catch((error: unknown) => {
        this.logger.warn(`could not delete ${this.localName}: ${errorMessage(error)}`);
      });
    }, true);
  }

  /** Stops the VM but keeps it on disk (worker shutdown). */
  shutdown(): Promise<void> {
    this.destroyed = true;
    this.abort.abort();
    return this.enqueue(async () => {
      if (this.poweredOn) await this.halt('stop').catch(() => undefined);
    }, true);
  }

  /** The VM's IP address, for ResolveIP. */
  ip(): Promise<string> {
    return this.runtime.ip(this.localName, this.ipWaitSeconds, this.abort.signal);
  }

  /** Brings a halted VM to its spec's power state: running, stopped (off) or suspended. */
  private async applyPowerState(vm: VM): Promise<void> {
    switch (vm.powerState) {
      case 'running':
        if (!this.poweredOn) await this.start(vm);
        return;
      case 'stopped':
        return;
      case 'suspended':
        // Only a running VM can be suspended; one that is not suspendable is stopped instead.
        if (!this.suspended) {
          await this.start(vm);
          await this.halt(vm.suspendable ? 'suspend' : 'stop');
        }
        return;
    }
  }

  private async start(vm: VM): Promise<void> {
    const running = await this.runtime.run(vm.localName, runOptions(vm));
    this.running = running;
    this.poweredOn = true;
    this.suspended = false;
    void running.exited.then((exit) => {
      if (this.running !== running) return;
      this.running = null;
      this.poweredOn = false;
      if (exit.deliberate || this.destroyed) return;
      this.fail(`VM exited unexpectedly${exit.stderrFirstLine ? `: ${exit.stderrFirstLine}` : ''}`);
    });
    // Running means reachable: wait until the guest has an address, so that `orchard ssh` right
    // after `create vm --wait` connects. A guest that never gets one fails with tart's message.
    await this.runtime.ip(vm.localName, this.ipWaitSeconds, this.abort.signal);
  }

  private async halt(how: 'stop' | 'suspend'): Promise<void> {
    const running = this.running;
    this.running = null;
    this.poweredOn = false;
    this.suspended = how === 'suspend';
    if (how === 'suspend') await this.runtime.suspend(this.localName);
    else await this.runtime.stop(this.localName, STOP_TIMEOUT_SECONDS);
    await running?.exited;
  }

  private progress(message: string): void {
    this.statusMessage = message;
    this.onChange();
  }

  private fail(message: string): void {
    if (this.state === 'failed') return;
    this.state = 'failed';
    this.statusMessage = message;
    this.logger.warn(`${this.spec.name}: ${message}`);
    this.onChange();
  }

  /** Runs operations one at a time; a failure (other than our own cancellation) fails the VM. */
  private enqueue(operation: () => Promise<void>, evenIfDestroyed = false): Promise<void> {
    const next = this.queue.then(async () => {
      if (this.destroyed && !evenIfDestroyed) return;
      try {
        await operation();
      } catch (error) {
        if (this.abort.signal.aborted && !evenIfDestroyed) return;
        this.fail(errorMessage(error));
      }
    });
    this.queue = next;
    return next;
  }
}
