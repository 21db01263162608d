import { performance } from 'node:perf_hooks';

import { TART_VMS_RESOURCE, type VM, type WatchEvent } from '#api';
import { OrchardClient, type VmCreate } from '#client';

import { VmWatch, type Seen } from './vm-watch.js';

export const IMAGE = 'ghcr.io/cirruslabs/macos-tahoe-base:latest';

/**
 * A macOS VM (the default os, darwin) that takes none of the worker's two
 * org.cirruslabs.tart-vms slots: with one slot each, 8 workers would run at most 16 VMs at
 * once and 84 of the 100 clients would measure a queue, not the lifecycle.
 */
export function vmCreate(name: string): VmCreate {
  return { name, image: IMAGE, resources: { [TART_VMS_RESOURCE]: 0 } };
}

/** Milliseconds; create steps from sending POST /v1/vms, delete steps from sending DELETE. */
export interface CycleTiming {
  name: string;
  /** performance.now() when POST /v1/vms was sent. */
  sentAt: number;
  /** The worker the scheduler placed the VM on. */
  worker: string;
  createAnswered: number;
  /** First event with a worker assigned: the scheduler's pass committed. */
  scheduled: number;
  /** First event carrying the worker's own report (conditions set): SyncVMs reached it, it listed and reported. */
  reported: number;
  /** First event with status running: the create -> running latency. */
  running: number;
  deleteAnswered: number;
  /** DELETED on the watch, from sending DELETE. */
  deleted: number;
  /** DELETED on the watch, from sending POST: the whole cycle. */
  total: number;
}

export type CycleStep = 'watch' | 'create' | 'running' | 'delete' | 'deleted';

export class CycleFailure extends Error {
  constructor(
    readonly step: CycleStep,
    message: string,
  ) {
    super(message);
  }
}

const describeError = (error: unknown) => (error instanceof Error ? error.message : String(error));

async function step<T>(name: CycleStep, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof CycleFailure) throw error;
    throw new CycleFailure(name, describeError(error));
  }
}

function firstAt(events: readonly Seen[], matches: (event: WatchEvent<VM>) => boolean): number {
  return events.find((seen) => matches(seen.event))?.at ?? NaN;
}

/**
 * One create -> running -> delete -> gone cycle of a VM that does not exist yet, timed through
 * a watch opened before the POST. A VM left behind by a failure is deleted (best effort).
 */
export async function runCycle(
  client: OrchardClient,
  name: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<CycleTiming> {
  const watch = await step('watch', () => VmWatch.open(client.baseUrl, name, signal));
  let created = false;
  let deleted = false;
  try {
    const createSent = performance.now();
    await step('create', () => client.createVm(vmCreate(name)));
    created = true;
    const createAnswered = performance.now() - createSent;
    const running = await step('running', () =>
      watch.waitFor(
        (event) =>
          event.type === 'DELETED' || event.object.status === 'running' || event.object.status === 'failed',
        timeoutMs,
        'running',
      ),
    );
    const vm = running.event.object;
    if (running.event.type === 'DELETED' || vm.status !== 'running') {
      throw new CycleFailure(
        'running',
        `${running.event.type === 'DELETED' ? 'deleted' : vm.status} instead of running: ${vm.status_message}`,
      );
    }
    const deleteSent = performance.now();
    await step('delete', () => client.deleteVm(name));
    deleted = true;
    const deleteAnswered = performance.now() - deleteSent;
    const gone = await step('deleted', () =>
      watch.waitFor((event) => event.type === 'DELETED', timeoutMs, 'deleted'),
    );
    const { events } = watch;
    const runningAt = running.at - createSent;
    return {
      name,
      sentAt: createSent,
      worker: vm.worker,
      createAnswered,
      scheduled: firstAt(events, (event) => event.object.worker !== '') - createSent,
      // The worker's first report sets conditions; a report that says running at once is that report.
      reported: Math.min(
        firstAt(events, (event) => event.object.conditions.length > 0) - createSent,
        runningAt,
      ),
      running: runningAt,
      deleteAnswered,
      deleted: gone.at - deleteSent,
      total: gone.at - createSent,
    };
  } finally {
    watch.close();
    if (created && !deleted && !signal.aborted) await client.deleteVm(name).catch(() => undefined);
  }
}

export interface PhaseResult {
  label: string;
  clients: number;
  attempted: number;
  cycles: CycleTiming[];
  /** Per failed step: how many, and the first message. */
  errors: Map<CycleStep, { count: number; first: string }>;
  /** performance.now() when the phase started. */
  startedAt: number;
  wallMs: number;
  /** Clients stopped starting cycles because the phase ran out of time. */
  cutShort: boolean;
}

export interface PhaseOptions {
  label: string;
  url: string;
  clients: number;
  cyclesPerClient: number;
  /** VM names are PREFIX-CLIENT-CYCLE. */
  namePrefix: string;
  timeoutMs: number;
  /** No cycle starts after this long. */
  maxDurationMs: number;
  signal: AbortSignal;
  onCycle?: (done: number) => void;
}

/** C clients, each running its cycles one after the other, all clients at once. */
export async function runPhase(options: PhaseOptions): Promise<PhaseResult> {
  const result: PhaseResult = {
    label: options.label,
    clients: options.clients,
    attempted: 0,
    cycles: [],
    errors: new Map(),
    startedAt: performance.now(),
    wallMs: NaN,
    cutShort: false,
  };
  const started = result.startedAt;
  const runClient = async (index: number) => {
    // All clients share fetch's keep-alive pool; every request in flight and every watch
    // still has a connection of its own.
    const client = new OrchardClient({ url: options.url, userAgent: 'orchard-ts-bench-lifecycle' });
    for (let cycle = 0; cycle < options.cyclesPerClient; cycle++) {
      if (options.signal.aborted) return;
      if (performance.now() - started > options.maxDurationMs) {
        result.cutShort = true;
        return;
      }
      result.attempted += 1;
      const name = `${options.namePrefix}-${index}-${cycle}`;
      try {
        result.cycles.push(await runCycle(client, name, options.timeoutMs, options.signal));
      } catch (error) {
        if (options.signal.aborted) return;
        const failure =
          error instanceof CycleFailure ? error : new CycleFailure('watch', describeError(error));
        const seen = result.errors.get(failure.step);
        if (seen) seen.count += 1;
        else result.errors.set(failure.step, { count: 1, first: failure.message });
      }
      options.onCycle?.(result.cycles.length);
    }
  };
  await Promise.all(Array.from({ length: options.clients }, (_, index) => runClient(index)));
  result.wallMs = performance.now() - started;
  return result;
}

export function errorCount(result: PhaseResult): number {
  let total = 0;
  for (const { count } of result.errors.values()) total += count;
  return total;
}
