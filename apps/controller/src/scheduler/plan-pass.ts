import type { RestartPolicy, SchedulerProfile, VmStatus } from '#api';

import { measureUsage, schedule, type PendingVm, type Placement, type SchedulingWorker } from './schedule.js';

export const WORKER_GONE = "VM is assigned to a worker that doesn't exist anymore";
export const WORKER_LOST = 'VM is assigned to a worker that lost connection with the controller';

/** A VM as one scheduler pass sees it. */
export interface VmSnapshot extends PendingVm {
  status: VmStatus;
  statusMessage: string;
  worker: string;
  restartPolicy: RestartPolicy;
  restartCount: number;
  restartNotBefore: Date | null;
}

export interface PassInput {
  vms: readonly VmSnapshot[];
  workers: readonly SchedulingWorker[];
  profile: SchedulerProfile;
  now: Date;
  workerOfflineTimeoutMs: number;
  restartBackoff: { initialMs: number; maxMs: number };
}

/** The writes one pass makes, in the order they must be applied. */
export interface PassPlan {
  /** Placed VMs whose worker is gone or offline. */
  failures: { uid: string; worker: string; message: string }[];
  /**
   * Failed OnFailure VMs seen failed for the first time: when their backoff ends; null for a
   * VM that left the failed state by other means, so that its next failure backs off afresh.
   */
  restartsNotBefore: { uid: string; at: Date | null }[];
  /** Failed OnFailure VMs whose backoff has ended, with the restart_count they have now. */
  restarts: { uid: string; restartCount: number }[];
  placements: Placement[];
  /** Reasons for VMs that stay pending, only where status_message says something else. */
  pendingReasons: { uid: string; message: string }[];
  /** When the earliest backoff this pass waits for ends, so the loop can wake up then. */
  nextRestartAt: Date | null;
}

/** Backoff before restart number `restartCount + 1`: the initial delay, doubling, capped. */
export function restartDelayMs(restartCount: number, backoff: { initialMs: number; maxMs: number }): number {
  return Math.min(backoff.maxMs, backoff.initialMs * 2 ** restartCount);
}

/**
 * Decides one pass: health (fail VMs on lost workers), restarts of failed OnFailure VMs after
 * their backoff, then placement. Pure. Each step sees the decisions of the steps before, so a
 * VM failed by the health check frees its resources, and a VM restarted is placed, in the same
 * pass. Every write is guarded where it is applied, so a plan made from a snapshot that a
 * concurrent change has overtaken does no harm.
 */
export function planPass(input: PassInput): PassPlan {
  const now = input.now.getTime();
  const onlineSince = now - input.workerOfflineTimeoutMs;
  const workers = new Map(input.workers.map((worker) => [worker.name, worker]));
  const vms = input.vms.map((vm) => ({ ...vm }));
  const plan: PassPlan = {
    failures: [],
    restartsNotBefore: [],
    restarts: [],
    placements: [],
    pendingReasons: [],
    nextRestartAt: null,
  };

  for (const vm of vms) {
    if (vm.worker === '' || vm.status === 'failed') continue;
    const worker = workers.get(vm.worker);
    const message = !worker ? WORKER_GONE : worker.lastSeen.getTime() < onlineSince ? WORKER_LOST : null;
    if (message === null) continue;
    plan.failures.push({ uid: vm.uid, worker: vm.worker, message });
    vm.status = 'failed';
    vm.statusMessage = message;
  }

  let nextRestartAt = Infinity;
  for (const vm of vms) {
    if (vm.status !== 'failed' || vm.restartPolicy !== 'OnFailure') {
      if (vm.restartNotBefore !== null) plan.restartsNotBefore.push({ uid: vm.uid, at: null });
      continue;
    }
    if (vm.restartNotBefore === null) {
      const at = now + restartDelayMs(vm.restartCount, input.restartBackoff);
      plan.restartsNotBefore.push({ uid: vm.uid, at: new Date(at) });
      nextRestartAt = Math.min(nextRestartAt, at);
    } else if (vm.restartNotBefore.getTime() <= now) {
      plan.restarts.push({ uid: vm.uid, restartCount: vm.restartCount });
      vm.status = 'pending';
      vm.worker = '';
      vm.statusMessage = '';
    } else {
      nextRestartAt = Math.min(nextRestartAt, vm.restartNotBefore.getTime());
    }
  }
  plan.nextRestartAt = Number.isFinite(nextRestartAt) ? new Date(nextRestartAt) : null;

  const pending = vms.filter((vm) => vm.status === 'pending' && vm.worker === '');
  const { placements, pendingReasons } = schedule({
    pending,
    workers: input.workers,
    usage: measureUsage(vms),
    profile: input.profile,
    now: input.now,
    workerOfflineTimeoutMs: input.workerOfflineTimeoutMs,
  });
  plan.placements = placements;
  for (const vm of pending) {
    const message = pendingReasons.get(vm.uid);
    if (message !== undefined && message !== vm.statusMessage) {
      plan.pendingReasons.push({ uid: vm.uid, message });
    }
  }
  return plan;
}
