import { performance } from 'node:perf_hooks';

import { parseVmCreate, parseWorkerRegistration, type SchedulerProfile } from '#api';

// The bench times the controller's own pure scheduler in-process, on purpose.
/* eslint-disable no-restricted-imports */
import { planPass, type PassInput, type VmSnapshot } from '../../apps/controller/src/scheduler/plan-pass.js';
import {
  schedule,
  type ScheduleInput,
  type SchedulingWorker,
} from '../../apps/controller/src/scheduler/schedule.js';
/* eslint-enable no-restricted-imports */
import { seededVmName, vmBody, workerBody } from './fleet.js';

export interface PassTiming {
  label: string;
  /** The first call in this process: interpreted and baseline-compiled code. */
  coldMs: number;
  /** Median (the upper one for an even count) of the runs after one warm-up. */
  warmMs: number;
  warmRuns: number;
  placed: number;
}

const OFFLINE_TIMEOUT_MS = 180_000;

const collectGarbage = (globalThis as { gc?: () => void }).gc;

/** Workers as readSnapshot gives them to the scheduler, from the bodies workers register with. */
function syntheticWorkers(count: number, now: Date): SchedulingWorker[] {
  return Array.from({ length: count }, (_, index) => {
    const registration = parseWorkerRegistration(workerBody(index));
    return {
      name: registration.name,
      lastSeen: new Date(now.getTime() - (index % 30) * 1000),
      schedulingPaused: registration.schedulingPaused,
      resources: registration.resources,
      labels: registration.labels,
      defaultCpu: registration.defaultCpu,
      defaultMemory: registration.defaultMemory,
      arch: registration.arch,
      runtime: registration.runtime,
    };
  });
}

/** Pending VMs as readSnapshot gives them: parsed from POST /v1/vms bodies, one millisecond apart. */
function syntheticVms(count: number, now: Date): VmSnapshot[] {
  const start = now.getTime() - count;
  return Array.from({ length: count }, (_, index) => {
    const spec = parseVmCreate(vmBody(seededVmName(index)));
    return {
      uid: crypto.randomUUID(),
      name: spec.name,
      createdAt: new Date(start + index),
      cpu: spec.cpu,
      memory: spec.memory,
      arch: spec.arch,
      runtime: spec.runtime,
      resources: spec.resources,
      labels: spec.labels,
      status: 'pending',
      statusMessage: '',
      worker: '',
      restartPolicy: spec.restartPolicy,
      restartCount: 0,
      restartNotBefore: null,
    };
  });
}

/** Times `run` on fresh input each call (inputs are built outside the timing). */
function time<I>(label: string, makeInput: () => I, run: (input: I) => number, runs: number): PassTiming {
  const measure = (): { ms: number; placed: number } => {
    const input = makeInput();
    // With --expose-gc, start from a clean heap, so that the time is the pass's own and not
    // the collection of the garbage left by building its input.
    collectGarbage?.();
    const started = performance.now();
    const placed = run(input);
    return { ms: performance.now() - started, placed };
  };
  const cold = measure(); // also the warm-up
  const warm = Array.from({ length: runs }, measure).sort((a, b) => a.ms - b.ms);
  const middle = warm[Math.floor(runs / 2)];
  return {
    label,
    coldMs: cold.ms,
    warmMs: middle.ms,
    warmRuns: runs,
    placed: Math.min(cold.placed, ...warm.map((w) => w.placed)),
  };
}

/**
 * One scheduler pass over `vms` pending VMs and `workers` empty workers, for each profile, and
 * planPass (health check + restarts + placement) on the same snapshot. Call before anything
 * else has warmed up these functions, so "cold" means cold.
 */
export function timeSchedulerPasses(vms: number, workers: number, runs = 5): PassTiming[] {
  const scheduleInput = (profile: SchedulerProfile) => (): ScheduleInput => {
    const now = new Date();
    return {
      pending: syntheticVms(vms, now),
      workers: syntheticWorkers(workers, now),
      usage: new Map(),
      profile,
      now,
      workerOfflineTimeoutMs: OFFLINE_TIMEOUT_MS,
    };
  };
  const runSchedule = (input: ScheduleInput) => schedule(input).placements.length;
  return [
    time('schedule(), optimize-utilization', scheduleInput('optimize-utilization'), runSchedule, runs),
    time('schedule(), distribute-load', scheduleInput('distribute-load'), runSchedule, runs),
    time(
      'planPass() (health + restarts + schedule)',
      (): PassInput => {
        const now = new Date();
        return {
          vms: syntheticVms(vms, now),
          workers: syntheticWorkers(workers, now),
          profile: 'optimize-utilization',
          now,
          workerOfflineTimeoutMs: OFFLINE_TIMEOUT_MS,
          restartBackoff: { initialMs: 5_000, maxMs: 300_000 },
        };
      },
      (input) => planPass(input).placements.length,
      runs,
    ),
  ];
}
