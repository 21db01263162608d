import { Injectable } from '@nestjs/common';
import { Subject, type Observable } from 'rxjs';

import type { VM, WatchEventType } from '#api';

/** A VM changed in the database (after the commit). */
export interface VmChange {
  type: WatchEventType;
  vm: VM;
  /** The worker it was on before the change, when that differs from vm.worker. */
  previousWorker?: string;
  /** What caused it: a worker reporting the VM's state needs no SyncVMs back. */
  cause?: 'worker-report';
}

export type ClusterEvent =
  | { kind: 'vm'; change: VmChange }
  | { kind: 'worker'; name: string; deleted: boolean }
  | { kind: 'settings' };

/**
 * In-process feed of committed changes: the watch endpoint, the scheduler (which runs on every
 * change) and, later, the worker notifier subscribe here. Producers publish only after commit.
 */
@Injectable()
export class ClusterEvents {
  private readonly subject = new Subject<ClusterEvent>();

  get events(): Observable<ClusterEvent> {
    return this.subject.asObservable();
  }

  vmChanged(change: VmChange): void {
    this.subject.next({ kind: 'vm', change });
  }

  workerChanged(name: string, deleted = false): void {
    this.subject.next({ kind: 'worker', name, deleted });
  }

  settingsChanged(): void {
    this.subject.next({ kind: 'settings' });
  }
}
