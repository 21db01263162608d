import {
  DEFAULT_CPU,
  DEFAULT_MEMORY_MIB,
  type Architecture,
  type Labels,
  type Resources,
  type Runtime,
  type SchedulerProfile,
  type VmStatus,
} from '#api';

/** What the scheduler needs of a VM waiting for a worker (status pending, worker ''). */
export interface PendingVm {
  uid: string;
  name: string;
  createdAt: Date;
  cpu: number;
  memory: number;
  arch: Architecture;
  runtime: Runtime;
  resources: Resources;
  labels: Labels;
}

export interface SchedulingWorker {
  name: string;
  lastSeen: Date;
  schedulingPaused: boolean;
  resources: Resources;
  labels: Labels;
  defaultCpu: number;
  defaultMemory: number;
  arch: Architecture;
  runtime: Runtime;
}

/** What is already placed on a worker: how many VMs and the sum of their resources. */
export interface WorkerUsage {
  vms: number;
  resources: Resources;
}

export interface ScheduleInput {
  pending: readonly PendingVm[];
  workers: readonly SchedulingWorker[];
  /** Per worker name; a worker missing here runs nothing. */
  usage: ReadonlyMap<string, WorkerUsage>;
  profile: SchedulerProfile;
  now: Date;
  workerOfflineTimeoutMs: number;
}

export interface Placement {
  uid: string;
  worker: string;
  scheduledAt: Date;
  assignedCpu: number;
  assignedMemory: number;
}

export interface ScheduleResult {
  /** Oldest VM first. */
  placements: Placement[];
  /** Why each VM left unplaced stays pending, by uid, in words for `status_message`. */
  pendingReasons: Map<string, string>;
}

/**
 * Sums what the VMs placed on each worker take. Failed VMs take nothing: their worker has
 * stopped them (or is gone), so their slots are free for others.
 */
export function measureUsage(
  vms: Iterable<{ worker: string; status: VmStatus; resources: Resources }>,
): Map<string, WorkerUsage> {
  const usage = new Map<string, WorkerUsage>();
  for (const vm of vms) {
    if (vm.worker === '' || vm.status === 'failed') continue;
    let used = usage.get(vm.worker);
    if (!used) usage.set(vm.worker, (used = { vms: 0, resources: {} }));
    used.vms += 1;
    for (const key in vm.resources) used.resources[key] = (used.resources[key] ?? 0) + vm.resources[key];
  }
  return usage;
}

/**
 * The checks a worker must pass, in order. A worker failing a later check matched the VM more
 * closely, so a VM that stays pending is explained by the furthest check any worker reached.
 */
enum Check {
  Online,
  Platform,
  Labels,
  Resources,
  NotPaused,
  Passed,
}

interface Candidate {
  worker: SchedulingWorker;
  online: boolean;
  /** How many VMs it runs: the measure of "busy" the profiles sort by. */
  vms: number;
  /** Mutable copy: placements made in this pass consume from it. */
  used: Resources;
}

/**
 * Places pending VMs, oldest first, on eligible workers. Pure: no I/O, no clock.
 *
 * A worker is eligible when it is online (seen within the offline timeout), runs the VM's
 * arch and runtime, carries every label of the VM with the same value, has room for every
 * resource the VM requests (a resource the worker does not list has capacity 0), and is not
 * paused. Among eligible workers, `optimize-utilization` picks the one running the most VMs
 * (packing VMs tightly leaves whole workers free for big requests and for maintenance),
 * `distribute-load` the one running the fewest; ties go to the first name. Busyness is the
 * number of VMs placed there (Orchard keeps the same count per worker) rather than a share of
 * resources: workers advertise different resource names, so shares have no common measure.
 *
 * Cost: one pass over workers per VM, with no allocation in that inner loop.
 */
export function schedule(input: ScheduleInput): ScheduleResult {
  const onlineSince = input.now.getTime() - input.workerOfflineTimeoutMs;
  const candidates: Candidate[] = input.workers
    .map((worker) => {
      const usage = input.usage.get(worker.name);
      return {
        worker,
        online: worker.lastSeen.getTime() >= onlineSince,
        vms: usage?.vms ?? 0,
        used: { ...usage?.resources },
      };
    })
    .sort((a, b) => compareText(a.worker.name, b.worker.name));
  // +1: prefer more VMs; -1: prefer fewer.
  const preference = input.profile === 'optimize-utilization' ? 1 : -1;

  const placements: Placement[] = [];
  const pendingReasons = new Map<string, string>();
  for (const vm of [...input.pending].sort(byAge)) {
    const resourceNames = Object.keys(vm.resources);
    const labelNames = Object.keys(vm.labels);
    let best: Candidate | null = null;
    let furthest: Check = Check.Online;
    let closest: Candidate | null = null;
    for (const candidate of candidates) {
      const reached = firstFailedCheck(candidate, vm, resourceNames, labelNames);
      if (reached === Check.Passed) {
        if (best === null || (candidate.vms - best.vms) * preference > 0) best = candidate;
      } else if (closest === null || reached > furthest) {
        furthest = reached;
        closest = candidate;
      }
    }
    if (best === null) {
      pendingReasons.set(vm.uid, explain(vm, closest, furthest, resourceNames, labelNames));
      continue;
    }
    best.vms += 1;
    for (const name of resourceNames) best.used[name] = (best.used[name] ?? 0) + vm.resources[name];
    placements.push({
      uid: vm.uid,
      worker: best.worker.name,
      scheduledAt: input.now,
      assignedCpu: vm.cpu || best.worker.defaultCpu || DEFAULT_CPU,
      assignedMemory: vm.memory || best.worker.defaultMemory || DEFAULT_MEMORY_MIB,
    });
  }
  return { placements, pendingReasons };
}

function firstFailedCheck(
  candidate: Candidate,
  vm: PendingVm,
  resourceNames: readonly string[],
  labelNames: readonly string[],
): Check {
  const worker = candidate.worker;
  if (!candidate.online) return Check.Online;
  if (worker.arch !== vm.arch || worker.runtime !== vm.runtime) return Check.Platform;
  for (const name of labelNames) {
    if (worker.labels[name] !== vm.labels[name]) return Check.Labels;
  }
  for (const name of resourceNames) {
    if (!fits(candidate, name, vm.resources[name])) return Check.Resources;
  }
  if (worker.schedulingPaused) return Check.NotPaused;
  return Check.Passed;
}

function fits(candidate: Candidate, resource: string, requested: number): boolean {
  return (candidate.worker.resources[resource] ?? 0) - (candidate.used[resource] ?? 0) >= requested;
}

function explain(
  vm: PendingVm,
  closest: Candidate | null,
  furthest: Check,
  resourceNames: readonly string[],
  labelNames: readonly string[],
): string {
  if (closest === null) return 'no worker registered';
  switch (furthest) {
    case Check.Online:
      return 'no online worker';
    case Check.Platform:
      return `no worker for arch ${vm.arch} and runtime ${vm.runtime}`;
    case Check.Labels: {
      const name = labelNames.find((label) => closest.worker.labels[label] !== vm.labels[label]) ?? '';
      return `no worker with label ${name}=${vm.labels[name]}`;
    }
    case Check.Resources: {
      const name = resourceNames.find((resource) => !fits(closest, resource, vm.resources[resource]));
      return `no worker with enough ${name}`;
    }
    case Check.NotPaused:
    case Check.Passed:
      return 'all eligible workers are paused';
  }
}

function byAge(a: PendingVm, b: PendingVm): number {
  return a.createdAt.getTime() - b.createdAt.getTime() || compareText(a.name, b.name);
}

/** Code-unit order, independent of the locale, so every replica decides alike. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
