import { TART_VMS_RESOURCE } from '#api';

import {
  planPass,
  restartDelayMs,
  WORKER_GONE,
  WORKER_LOST,
  type PassInput,
  type VmSnapshot,
} from './plan-pass.js';
import type { SchedulingWorker } from './schedule.js';

const NOW = new Date('2025-06-01T12:00:00Z');
const OFFLINE_TIMEOUT_MS = 60_000;
const BACKOFF = { initialMs: 1_000, maxMs: 10_000 };

let vmCount = 0;

function vm(overrides: Partial<VmSnapshot> = {}): VmSnapshot {
  vmCount += 1;
  return {
    uid: `uid-${vmCount}`,
    name: `vm-${vmCount}`,
    createdAt: new Date(NOW.getTime() - 1_000_000 + vmCount),
    cpu: 0,
    memory: 0,
    arch: 'arm64',
    runtime: 'tart',
    resources: { [TART_VMS_RESOURCE]: 1 },
    labels: {},
    status: 'pending',
    statusMessage: '',
    worker: '',
    restartPolicy: 'Never',
    restartCount: 0,
    restartNotBefore: null,
    ...overrides,
  };
}

function worker(name: string, overrides: Partial<SchedulingWorker> = {}): SchedulingWorker {
  return {
    name,
    lastSeen: NOW,
    schedulingPaused: false,
    resources: { [TART_VMS_RESOURCE]: 2 },
    labels: {},
    defaultCpu: 0,
    defaultMemory: 0,
    arch: 'arm64',
    runtime: 'tart',
    ...overrides,
  };
}

function pass(vms: VmSnapshot[], workers: SchedulingWorker[]) {
  const input: PassInput = {
    vms,
    workers,
    profile: 'optimize-utilization',
    now: NOW,
    workerOfflineTimeoutMs: OFFLINE_TIMEOUT_MS,
    restartBackoff: BACKOFF,
  };
  return planPass(input);
}

const after = (ms: number) => new Date(NOW.getTime() + ms);

describe(planPass.name, () => {
  describe('health', () => {
    it('fails VMs on a worker that no longer exists or has gone silent, and only those', () => {
      const gone = vm({ worker: 'deleted', status: 'running' });
      const lost = vm({ worker: 'silent', status: 'pending' });
      const healthy = vm({ worker: 'alive', status: 'running' });
      const alreadyFailed = vm({ worker: 'deleted', status: 'failed' });

      const plan = pass(
        [gone, lost, healthy, alreadyFailed],
        [worker('silent', { lastSeen: new Date(NOW.getTime() - OFFLINE_TIMEOUT_MS - 1) }), worker('alive')],
      );

      expect(plan.failures).toEqual([
        { uid: gone.uid, worker: 'deleted', message: WORKER_GONE },
        { uid: lost.uid, worker: 'silent', message: WORKER_LOST },
      ]);
    });

    it('frees the slots of failed VMs for pending ones', () => {
      const crashed = vm({ worker: 'a', status: 'failed' });
      const runningThere = vm({ worker: 'a', status: 'running' });
      const waiting = vm();

      const plan = pass([crashed, runningThere, waiting], [worker('a')]);

      expect(plan.placements.map((p) => [p.uid, p.worker])).toEqual([[waiting.uid, 'a']]);
    });
  });

  describe('restarts', () => {
    it('starts the backoff of a failed OnFailure VM, doubling with each restart it already had', () => {
      const firstFailure = vm({ worker: 'a', status: 'failed', restartPolicy: 'OnFailure' });
      const thirdFailure = vm({ worker: 'a', status: 'failed', restartPolicy: 'OnFailure', restartCount: 2 });

      const plan = pass([firstFailure, thirdFailure], [worker('a')]);

      expect(plan.restartsNotBefore).toEqual([
        { uid: firstFailure.uid, at: after(1_000) },
        { uid: thirdFailure.uid, at: after(4_000) },
      ]);
      expect(plan.restarts).toEqual([]);
      expect(plan.nextRestartAt).toEqual(after(1_000));
    });

    it('starts the backoff of a VM that this very pass fails', () => {
      const lost = vm({ worker: 'deleted', status: 'running', restartPolicy: 'OnFailure' });

      expect(pass([lost], []).restartsNotBefore).toEqual([{ uid: lost.uid, at: after(1_000) }]);
    });

    it('restarts a VM whose backoff has ended and places it in the same pass', () => {
      const due = vm({
        worker: 'deleted',
        status: 'failed',
        statusMessage: WORKER_GONE,
        restartPolicy: 'OnFailure',
        restartCount: 1,
        restartNotBefore: NOW,
      });

      const plan = pass([due], [worker('b')]);

      expect(plan.restarts).toEqual([{ uid: due.uid, restartCount: 1 }]);
      expect(plan.placements.map((p) => [p.uid, p.worker])).toEqual([[due.uid, 'b']]);
      expect(plan.nextRestartAt).toBeNull();
    });

    it('says why a restarted VM that finds no worker stays pending', () => {
      const due = vm({
        worker: 'deleted',
        status: 'failed',
        restartPolicy: 'OnFailure',
        restartNotBefore: NOW,
      });

      expect(pass([due], []).pendingReasons).toEqual([{ uid: due.uid, message: 'no worker registered' }]);
    });

    it('waits for a backoff that has not ended, and says when it ends', () => {
      const waiting = vm({
        worker: 'a',
        status: 'failed',
        restartPolicy: 'OnFailure',
        restartNotBefore: after(500),
      });

      const plan = pass([waiting], [worker('a')]);

      expect([plan.restarts, plan.restartsNotBefore, plan.nextRestartAt]).toEqual([[], [], after(500)]);
    });

    it('never restarts a VM whose restart policy is Never', () => {
      const plan = pass([vm({ worker: 'a', status: 'failed', restartNotBefore: NOW })], [worker('a')]);

      expect([plan.restarts, plan.nextRestartAt]).toEqual([[], null]);
    });

    it('forgets the backoff of a VM that is no longer failed', () => {
      const recovered = vm({
        worker: 'a',
        status: 'running',
        restartPolicy: 'OnFailure',
        restartNotBefore: NOW,
      });

      expect(pass([recovered], [worker('a')]).restartsNotBefore).toEqual([{ uid: recovered.uid, at: null }]);
    });
  });

  describe('pending reasons', () => {
    it('reports a reason only when status_message says something else', () => {
      const known = vm({ statusMessage: 'no worker registered' });
      const changed = vm({ statusMessage: 'no online worker' });

      expect(pass([known, changed], []).pendingReasons).toEqual([
        { uid: changed.uid, message: 'no worker registered' },
      ]);
    });
  });
});

describe(restartDelayMs.name, () => {
  it('doubles from the initial delay up to the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 60].map((count) => restartDelayMs(count, BACKOFF))).toEqual([
      1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000,
    ]);
  });
});
