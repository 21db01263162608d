import { EventEmitter } from 'node:events';

import { Logger } from '@nestjs/common';

import { LOCAL_NAME_PATTERN, type VM, type VmStateReport } from '#api';

import type { ControllerApi } from '../controller-link/controller-api.js';
import type { VmRuntime } from '../runtime/vm-runtime.js';
import { ManagedVm } from './managed-vm.js';
import { decide } from './reconcile.js';

export const LOST_TRACK_MESSAGE = 'Worker lost track of VM';

export interface SyncServiceOptions {
  workerName: string;
  intervalMs: number;
  /** How long a started VM may take to get an IP address before it fails. */
  ipWaitSeconds?: number;
}

function sameReport(a: VmStateReport | undefined, b: VmStateReport): boolean {
  return a !== undefined && JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The reconcile loop: on every SyncVMs and every few seconds, fetch the VMs the controller
 * assigned to this worker, compare with what runs here, act through the table in
 * reconcile.ts, and report what changed. One pass at a time; a request during a pass
 * schedules exactly one more. Emits 'synced' after each pass (tests await it).
 */
export class SyncService extends EventEmitter {
  private readonly logger = new Logger('sync');
  private readonly vms = new Map<string, ManagedVm>();
  /** What was last reported per VM name, so an unchanged state is not sent again. */
  private readonly reported = new Map<string, VmStateReport>();
  /** The last report in flight per VM name, so the next one waits for it. */
  private readonly reporting = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(
    private readonly api: ControllerApi,
    private readonly runtime: VmRuntime,
    private readonly options: SyncServiceOptions,
  ) {
    super();
  }

  start(): void {
    this.timer = setInterval(() => this.kick(), this.options.intervalMs);
    this.kick();
  }

  /** Requests a pass as soon as possible (coalesced). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = null;
    });
  }

  /** The VM this worker runs with that uid, for port forwarding and ResolveIP. */
  findByUid(uid: string): ManagedVm | undefined {
    for (const vm of this.vms.values()) if (vm.spec.uid === uid) return vm;
    return undefined;
  }

  /** Deletes on-disk VMs named like ours that the controller no longer assigns to this worker. */
  async collectGarbage(): Promise<string[]> {
    const assigned = new Set((await this.api.listVms(this.options.workerName)).map((vm) => vm.localName));
    const removed: string[] = [];
    for (const local of await this.runtime.list()) {
      if (!LOCAL_NAME_PATTERN.test(local.name) || assigned.has(local.name) || this.vms.has(local.name))
        continue;
      this.logger.log(`deleting orphaned VM ${local.name}`);
      if (local.running) await this.runtime.stop(local.name, 5).catch(() => undefined);
      await this.runtime.delete(local.name);
      removed.push(local.name);
    }
    return removed;
  }

  /** Stops the loop and the VMs this worker runs (kept on disk, as Orchard does). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await Promise.all([...this.vms.values()].map((vm) => vm.shutdown()));
    this.vms.clear();
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.pass();
        this.emit('synced');
      } catch (error) {
        this.logger.warn(`sync failed: ${error instanceof Error ? error.message : String(error)}`);
        this.emit('sync-failed', error);
      }
    } while (this.again && !this.stopped);
  }

  private async pass(): Promise<void> {
    const remote = await this.api.listVms(this.options.workerName);
    const remoteByLocalName = new Map<string, VM>(remote.map((vm) => [vm.localName, vm]));
    // Reports of different VMs go out together; each VM's own reports stay in order (report()).
    const reports: Promise<void>[] = [];

    for (const vm of remote) {
      if (this.stopped) break;
      const local = this.vms.get(vm.localName);
      const action = decide(vm.status, local?.state ?? 'absent');
      switch (action) {
        case 'create': {
          // A VM that changes state reports at once, without waiting for the next pass.
          const managed: ManagedVm = new ManagedVm(
            vm,
            this.runtime,
            () => void this.reportVm(managed),
            this.options.ipWaitSeconds,
          );
          this.vms.set(vm.localName, managed);
          void managed.create();
          reports.push(this.report(vm.name, managed.report()));
          break;
        }
        case 'report-progress':
        case 'report-running':
        case 'report-failed':
        case 'none':
          if (local) {
            if (local.needsReconfigure(vm)) void local.reconfigure(vm);
            reports.push(this.report(vm.name, local.report()));
          }
          break;
        case 'report-lost':
          reports.push(this.report(vm.name, { status: 'failed', statusMessage: LOST_TRACK_MESSAGE }));
          break;
        case 'stop-and-delete':
        case 'delete':
          if (local) await this.remove(local);
          break;
      }
    }
    await Promise.all(reports);

    for (const local of [...this.vms.values()]) {
      if (remoteByLocalName.has(local.localName)) continue;
      const action = decide('absent', local.state);
      if (action === 'stop-and-delete' || action === 'delete') await this.remove(local);
    }
  }

  /** A managed VM changed state: report it now (a failed report is retried by the next pass). */
  private async reportVm(vm: ManagedVm): Promise<void> {
    if (this.stopped || this.vms.get(vm.localName) !== vm) return;
    try {
      await this.report(vm.spec.name, vm.report());
    } catch (error) {
      this.logger.debug(
        `report of ${vm.spec.name} failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  private async remove(vm: ManagedVm): Promise<void> {
    this.vms.delete(vm.localName);
    this.reported.delete(vm.spec.name);
    await vm.destroy();
  }

  /** Sends a report unless it is what was last sent; one VM's reports go out one at a time, in order. */
  private report(name: string, report: VmStateReport): Promise<void> {
    const previous = this.reporting.get(name) ?? Promise.resolve();
    const next = previous.then(async () => {
      if (sameReport(this.reported.get(name), report)) return;
      const found = await this.api.reportVmState(name, report);
      // 404: the VM was deleted meanwhile; the next pass removes it here.
      if (found) this.reported.set(name, report);
      else this.again = true;
    });
    const settled = next.catch(() => undefined);
    this.reporting.set(name, settled);
    void settled.then(() => {
      if (this.reporting.get(name) === settled) this.reporting.delete(name);
    });
    return next;
  }
}
