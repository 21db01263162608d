import {
  asObject,
  optionalBool,
  optionalCount,
  optionalCountMap,
  optionalEnum,
  optionalString,
  optionalStringMap,
} from './fields.js';
import { invalid } from './errors.js';
import { validateName } from './names.js';
import type { Labels, Resources } from './resources.js';
import { ARCHITECTURES, RUNTIMES, type Architecture, type Runtime } from './vm.js';

/** The Worker resource as Orchard's v1 API spells it. */
export interface Worker {
  name: string;
  machine_id: string;
  last_seen: string;
  scheduling_paused: boolean;
  resources: Resources;
  labels: Labels;
  defaultCPU: number;
  defaultMemory: number;
  arch: Architecture;
  runtime: Runtime;
  createdAt: string;
}

export interface WorkerRegistration {
  name: string;
  machineId: string;
  schedulingPaused: boolean;
  resources: Resources;
  labels: Labels;
  defaultCpu: number;
  defaultMemory: number;
  arch: Architecture;
  runtime: Runtime;
}

/** POST /v1/workers: a worker (re-)registering itself. */
export function parseWorkerRegistration(body: unknown): WorkerRegistration {
  const object = asObject(body);
  const name = validateName('worker', object['name']);
  const machineId = optionalString(object, 'machine_id');
  if (!machineId) throw invalid('machine_id is required');
  return {
    name,
    machineId,
    schedulingPaused: optionalBool(object, 'scheduling_paused') ?? false,
    resources: optionalCountMap(object, 'resources') ?? {},
    labels: optionalStringMap(object, 'labels') ?? {},
    defaultCpu: optionalCount(object, 'defaultCPU') ?? 0,
    defaultMemory: optionalCount(object, 'defaultMemory') ?? 0,
    arch: optionalEnum(object, 'arch', ARCHITECTURES) ?? 'arm64',
    runtime: optionalEnum(object, 'runtime', RUNTIMES) ?? 'tart',
  };
}

/** PUT /v1/workers/{name}: what may change on an existing worker (pause, heartbeat, capacity). */
export interface WorkerUpdate {
  schedulingPaused?: boolean;
  lastSeen?: boolean;
  resources?: Resources;
  labels?: Labels;
  defaultCpu?: number;
  defaultMemory?: number;
}

export function parseWorkerUpdate(body: unknown): WorkerUpdate {
  const object = asObject(body);
  const update: WorkerUpdate = {};
  const paused = optionalBool(object, 'scheduling_paused');
  if (paused !== undefined) update.schedulingPaused = paused;
  if (object['last_seen'] !== undefined && object['last_seen'] !== null) update.lastSeen = true;
  const resources = optionalCountMap(object, 'resources');
  if (resources !== undefined) update.resources = resources;
  const labels = optionalStringMap(object, 'labels');
  if (labels !== undefined) update.labels = labels;
  const cpu = optionalCount(object, 'defaultCPU');
  if (cpu !== undefined) update.defaultCpu = cpu;
  const memory = optionalCount(object, 'defaultMemory');
  if (memory !== undefined) update.defaultMemory = memory;
  return update;
}
