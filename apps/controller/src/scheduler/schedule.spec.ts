import { DEFAULT_CPU, DEFAULT_MEMORY_MIB, TART_VMS_RESOURCE } from '#api';

import {
  measureUsage,
  schedule,
  type PendingVm,
  type ScheduleInput,
  type SchedulingWorker,
  type WorkerUsage,
} from './schedule.js';

const NOW = new Date('2025-06-01T12:00:00Z');
const OFFLINE_TIMEOUT_MS = 60_000;

let vmCount = 0;

/** A darwin/tart VM, which requests one of the host's two macOS slots, created in call order. */
function vm(overrides: Partial<PendingVm> = {}): PendingVm {
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

function input(overrides: Partial<ScheduleInput>): ScheduleInput {
  return {
    pending: [],
    workers: [],
    usage: new Map(),
    profile: 'optimize-utilization',
    now: NOW,
    workerOfflineTimeoutMs: OFFLINE_TIMEOUT_MS,
    ...overrides,
  };
}

/** uid -> worker name, for the placements of one pass. */
function placed(result: ReturnType<typeof schedule>): Record<string, string> {
  return Object.fromEntries(result.placements.map((placement) => [placement.uid, placement.worker]));
}

function running(vms: number): WorkerUsage {
  return { vms, resources: { [TART_VMS_RESOURCE]: vms } };
}

describe(schedule.name, () => {
  describe('optimize-utilization', () => {
    it('places a VM on the eligible worker that runs the most VMs', () => {
      const a = worker('a', { resources: { [TART_VMS_RESOURCE]: 8 } });
      const b = worker('b', { resources: { [TART_VMS_RESOURCE]: 8 } });
      const first = vm();

      const result = schedule(
        input({
          pending: [first],
          workers: [a, b],
          usage: new Map([
            ['b', running(3)],
            ['a', running(1)],
          ]),
        }),
      );

      expect(placed(result)).toEqual({ [first.uid]: 'b' });
    });

    it('fills one worker before starting on the next, taking names in order on a tie', () => {
      const [first, second, third] = [vm(), vm(), vm()];

      const result = schedule(
        input({ pending: [first, second, third], workers: [worker('b'), worker('a')] }),
      );

      expect(placed(result)).toEqual({ [first.uid]: 'a', [second.uid]: 'a', [third.uid]: 'b' });
    });
  });

  describe('distribute-load', () => {
    it('places a VM on the eligible worker that runs the fewest VMs', () => {
      const first = vm();

      const result = schedule(
        input({
          profile: 'distribute-load',
          pending: [first],
          workers: [worker('a'), worker('b')],
          usage: new Map([['a', running(1)]]),
        }),
      );

      expect(placed(result)).toEqual({ [first.uid]: 'b' });
    });

    it('spreads the VMs of one pass across workers, taking names in order on a tie', () => {
      const [first, second, third] = [vm(), vm(), vm()];
      const workers = ['c', 'b', 'a'].map((name) => worker(name, { resources: { [TART_VMS_RESOURCE]: 8 } }));

      const result = schedule(
        input({ profile: 'distribute-load', pending: [first, second, third], workers }),
      );

      expect(placed(result)).toEqual({ [first.uid]: 'a', [second.uid]: 'b', [third.uid]: 'c' });
    });
  });

  describe('resources', () => {
    it('places two macOS VMs on a worker offering two slots and keeps the third pending', () => {
      const [first, second, third] = [vm(), vm(), vm()];

      const result = schedule(input({ pending: [first, second, third], workers: [worker('a')] }));

      expect(placed(result)).toEqual({ [first.uid]: 'a', [second.uid]: 'a' });
      expect(result.pendingReasons).toEqual(
        new Map([[third.uid, `no worker with enough ${TART_VMS_RESOURCE}`]]),
      );
    });

    it('counts what already runs on the worker', () => {
      const waiting = vm();

      const result = schedule(
        input({ pending: [waiting], workers: [worker('a')], usage: new Map([['a', running(2)]]) }),
      );

      expect(result.placements).toEqual([]);
      expect(result.pendingReasons.get(waiting.uid)).toBe(`no worker with enough ${TART_VMS_RESOURCE}`);
    });

    it('treats a resource the worker does not list as a capacity of zero', () => {
      const gpu = vm({ resources: { gpu: 1 } });
      const noGpu = vm({ resources: { gpu: 0 } });

      const result = schedule(input({ pending: [gpu, noGpu], workers: [worker('a')] }));

      expect(placed(result)).toEqual({ [noGpu.uid]: 'a' });
      expect(result.pendingReasons.get(gpu.uid)).toBe('no worker with enough gpu');
    });

    it('needs every requested resource to fit', () => {
      const big = vm({ resources: { [TART_VMS_RESOURCE]: 1, 'org.cirruslabs.memory-mib': 16_384 } });
      const a = worker('a', { resources: { [TART_VMS_RESOURCE]: 2, 'org.cirruslabs.memory-mib': 8_192 } });
      const b = worker('b', { resources: { [TART_VMS_RESOURCE]: 2, 'org.cirruslabs.memory-mib': 32_768 } });

      expect(placed(schedule(input({ pending: [big], workers: [a, b] })))).toEqual({ [big.uid]: 'b' });
    });

    it('gives the last slot to the VM created first, whatever the input order', () => {
      const older = vm({ createdAt: new Date(NOW.getTime() - 2_000) });
      const newer = vm({ createdAt: new Date(NOW.getTime() - 1_000) });

      const result = schedule(
        input({ pending: [newer, older], workers: [worker('a')], usage: new Map([['a', running(1)]]) }),
      );

      expect(placed(result)).toEqual({ [older.uid]: 'a' });
      expect([...result.pendingReasons.keys()]).toEqual([newer.uid]);
    });
  });

  describe('eligibility', () => {
    it('needs every label of the VM on the worker with the same value', () => {
      const sonoma = vm({ labels: { os: 'sonoma', pool: 'ci' } });
      const workers = [
        worker('a', { labels: { os: 'ventura', pool: 'ci' } }),
        worker('b', { labels: { os: 'sonoma' } }),
        worker('c', { labels: { os: 'sonoma', pool: 'ci', extra: 'yes' } }),
      ];

      expect(placed(schedule(input({ pending: [sonoma], workers })))).toEqual({ [sonoma.uid]: 'c' });
    });

    it('skips paused workers', () => {
      const first = vm();

      const result = schedule(
        input({ pending: [first], workers: [worker('a', { schedulingPaused: true }), worker('b')] }),
      );

      expect(placed(result)).toEqual({ [first.uid]: 'b' });
    });

    it('skips workers not seen within the offline timeout, and takes one seen exactly at its limit', () => {
      const first = vm();
      const stale = worker('a', { lastSeen: new Date(NOW.getTime() - OFFLINE_TIMEOUT_MS - 1) });
      const atLimit = worker('b', { lastSeen: new Date(NOW.getTime() - OFFLINE_TIMEOUT_MS) });

      expect(placed(schedule(input({ pending: [first], workers: [stale, atLimit] })))).toEqual({
        [first.uid]: 'b',
      });
    });

    it('needs the same arch and runtime', () => {
      const linux = vm({ arch: 'amd64', runtime: 'vetu', resources: {} });
      const workers = [
        worker('a', { arch: 'amd64', runtime: 'tart' }),
        worker('b', { arch: 'arm64', runtime: 'vetu' }),
        worker('c', { arch: 'amd64', runtime: 'vetu' }),
      ];

      expect(placed(schedule(input({ pending: [linux], workers })))).toEqual({ [linux.uid]: 'c' });
    });
  });

  describe('assigned cpu and memory', () => {
    it('takes what the VM asks for', () => {
      const sized = vm({ cpu: 2, memory: 4_096 });

      const [placement] = schedule(
        input({ pending: [sized], workers: [worker('a', { defaultCpu: 6, defaultMemory: 12_288 })] }),
      ).placements;

      expect(placement).toEqual({
        uid: sized.uid,
        worker: 'a',
        scheduledAt: NOW,
        assignedCpu: 2,
        assignedMemory: 4_096,
      });
    });

    it("falls back to the worker's defaults", () => {
      const [placement] = schedule(
        input({ pending: [vm()], workers: [worker('a', { defaultCpu: 6, defaultMemory: 12_288 })] }),
      ).placements;

      expect([placement.assignedCpu, placement.assignedMemory]).toEqual([6, 12_288]);
    });

    it('falls back to the built-in defaults when the worker has none', () => {
      const [placement] = schedule(input({ pending: [vm()], workers: [worker('a')] })).placements;

      expect([placement.assignedCpu, placement.assignedMemory]).toEqual([DEFAULT_CPU, DEFAULT_MEMORY_MIB]);
    });
  });

  describe('pending reasons', () => {
    const reasonFor = (pending: PendingVm, workers: SchedulingWorker[]) =>
      schedule(input({ pending: [pending], workers })).pendingReasons.get(pending.uid);

    it('says so when no worker is registered', () => {
      expect(reasonFor(vm(), [])).toBe('no worker registered');
    });

    it('says so when no worker is online', () => {
      expect(reasonFor(vm(), [worker('a', { lastSeen: new Date(0) })])).toBe('no online worker');
    });

    it('names the arch and runtime nobody offers', () => {
      expect(reasonFor(vm({ arch: 'amd64' }), [worker('a')])).toBe(
        'no worker for arch amd64 and runtime tart',
      );
    });

    it('names the first label no worker matches', () => {
      expect(reasonFor(vm({ labels: { os: 'sonoma' } }), [worker('a', { labels: { os: 'ventura' } })])).toBe(
        'no worker with label os=sonoma',
      );
    });

    it('says all eligible workers are paused when only pausing stands in the way', () => {
      expect(reasonFor(vm(), [worker('a', { schedulingPaused: true })])).toBe(
        'all eligible workers are paused',
      );
    });

    it('gives the reason of the worker that came closest', () => {
      const sonoma = vm({ labels: { os: 'sonoma' } });
      const workers = [
        worker('a', { lastSeen: new Date(0) }),
        worker('b', { arch: 'amd64' }),
        worker('c', { labels: { os: 'ventura' } }),
        worker('d', { labels: { os: 'sonoma' }, resources: {} }),
        worker('e', { labels: { os: 'ventura' }, schedulingPaused: true }),
      ];

      expect(reasonFor(sonoma, workers)).toBe(`no worker with enough ${TART_VMS_RESOURCE}`);
    });
  });
});

describe(measureUsage.name, () => {
  it('counts the VMs placed on each worker and sums their resources, leaving out failed and unplaced VMs', () => {
    const usage = measureUsage([
      { worker: 'a', status: 'running', resources: { [TART_VMS_RESOURCE]: 1, gpu: 2 } },
      { worker: 'a', status: 'pending', resources: { [TART_VMS_RESOURCE]: 1 } },
      { worker: 'a', status: 'failed', resources: { [TART_VMS_RESOURCE]: 1 } },
      { worker: '', status: 'pending', resources: { [TART_VMS_RESOURCE]: 1 } },
      { worker: 'b', status: 'running', resources: {} },
    ]);

    expect(usage).toEqual(
      new Map([
        ['a', { vms: 2, resources: { [TART_VMS_RESOURCE]: 2, gpu: 2 } }],
        ['b', { vms: 1, resources: {} }],
      ]),
    );
  });
});
