import { TART_VMS_RESOURCE, vmLocalName, ZERO_TIME, type VM, type Worker } from '#api';

import { ClusterEvents } from '../apps/controller/src/common/cluster-events.js';
import { WORKER_GONE, WORKER_LOST } from '../apps/controller/src/scheduler/plan-pass.js';
import { startTestController, type TestController } from './support/controller-harness.js';

/** Upper bound on any wait below: a failure message beats jest's bare timeout. */
const WAIT_BOUND_MS = 30_000;

async function registerWorker(api: TestController, name: string, fields: Record<string, unknown> = {}) {
  const response = await api.request<Worker>('POST', '/v1/workers', {
    name,
    machine_id: `machine-${name}`,
    resources: { [TART_VMS_RESOURCE]: 2 },
    labels: {},
    arch: 'arm64',
    runtime: 'tart',
    ...fields,
  });
  expect(response.status).toBe(200);
  return response.body;
}

async function createVm(api: TestController, name: string, fields: Record<string, unknown> = {}) {
  const response = await api.request<VM>('POST', '/v1/vms', {
    name,
    image: 'ghcr.io/cirruslabs/macos:latest',
    ...fields,
  });
  expect(response.status).toBe(200);
  return response.body;
}

/**
 * Resolves with the VM once `condition` holds: at once if it already does, else at the first
 * committed change that makes it hold. Subscribes before reading, so no change slips between.
 */
async function vmWhen(api: TestController, name: string, condition: (vm: VM) => boolean): Promise<VM> {
  const events = api.controller.app.get(ClusterEvents);
  let last: VM | undefined;
  let subscription: { unsubscribe(): void } | undefined;
  let bound: NodeJS.Timeout | undefined;
  try {
    return await new Promise<VM>((resolve, reject) => {
      const check = (vm: VM) => {
        last = vm;
        if (condition(vm)) resolve(vm);
      };
      subscription = events.events.subscribe((event) => {
        if (event.kind === 'vm' && event.change.vm.name === name) check(event.change.vm);
      });
      bound = setTimeout(
        () => reject(new Error(`VM ${name} never met the condition; last seen: ${JSON.stringify(last)}`)),
        WAIT_BOUND_MS,
      );
      api.request<VM>('GET', `/v1/vms/${name}`).then((response) => {
        if (response.status === 200) check(response.body);
      }, reject);
    });
  } finally {
    subscription?.unsubscribe();
    clearTimeout(bound);
  }
}

const placed = (vm: VM) => vm.worker !== '';

/** Every VM change published from now on, for asserting on what happened along the way. */
function recordChanges(api: TestController, name: string): { vms: VM[]; stop(): void } {
  const vms: VM[] = [];
  const subscription = api.controller.app.get(ClusterEvents).events.subscribe((event) => {
    if (event.kind === 'vm' && event.change.vm.name === name) vms.push(event.change.vm);
  });
  return { vms, stop: () => subscription.unsubscribe() };
}

describe('scheduler', () => {
  let api: TestController;

  beforeAll(async () => {
    api = await startTestController({ schedulerInterval: '200ms', restartBackoffInitial: '100ms' });
  });

  afterEach(async () => {
    for (const vm of (await api.request<VM[]>('GET', '/v1/vms')).body) {
      await api.request('DELETE', `/v1/vms/${vm.name}`);
    }
    for (const worker of (await api.request<Worker[]>('GET', '/v1/workers')).body) {
      await api.request('DELETE', `/v1/workers/${worker.name}`);
    }
    await api.request('PUT', '/v1/cluster-settings', { schedulerProfile: 'optimize-utilization' });
  });

  afterAll(async () => {
    await api.close();
  });

  it("places a VM on a worker, filling in cpu and memory from the worker's defaults", async () => {
    await registerWorker(api, 'mini-1', { defaultCPU: 6, defaultMemory: 12_288 });

    await createVm(api, 'sized', { cpu: 2, memory: 4_096 });
    await createVm(api, 'unsized');

    const sized = await vmWhen(api, 'sized', placed);
    const unsized = await vmWhen(api, 'unsized', placed);
    expect(sized).toMatchObject({
      worker: 'mini-1',
      assignedCPU: 2,
      assignedMemory: 4_096,
      status: 'pending',
    });
    expect(unsized).toMatchObject({ worker: 'mini-1', assignedCPU: 6, assignedMemory: 12_288 });
    expect(unsized.scheduled_at).not.toBe(ZERO_TIME);
  });

  it('packs VMs onto the busiest worker under optimize-utilization', async () => {
    await registerWorker(api, 'mini-a');
    await registerWorker(api, 'mini-b');

    await createVm(api, 'first');
    expect((await vmWhen(api, 'first', placed)).worker).toBe('mini-a');
    await createVm(api, 'second');

    expect((await vmWhen(api, 'second', placed)).worker).toBe('mini-a');
  });

  it('spreads VMs across workers under distribute-load', async () => {
    await api.request('PUT', '/v1/cluster-settings', { schedulerProfile: 'distribute-load' });
    await registerWorker(api, 'mini-a');
    await registerWorker(api, 'mini-b');

    await createVm(api, 'first');
    expect((await vmWhen(api, 'first', placed)).worker).toBe('mini-a');
    await createVm(api, 'second');

    expect((await vmWhen(api, 'second', placed)).worker).toBe('mini-b');
  });

  it('keeps a VM pending with the reason in status_message until a worker with its label appears', async () => {
    await registerWorker(api, 'ventura', { labels: { os: 'ventura' } });
    await createVm(api, 'needs-sonoma', { labels: { os: 'sonoma' } });

    await vmWhen(api, 'needs-sonoma', (vm) => vm.status_message === 'no worker with label os=sonoma');
    await registerWorker(api, 'sonoma', { labels: { os: 'sonoma' } });

    const vm = await vmWhen(api, 'needs-sonoma', placed);
    expect(vm).toMatchObject({ worker: 'sonoma', status_message: '' });
  });

  it('keeps the third macOS VM pending while the only worker offers two slots, and places it when one frees up', async () => {
    await registerWorker(api, 'mini-1');
    for (const name of ['one', 'two']) {
      await createVm(api, name);
      await vmWhen(api, name, placed);
    }

    await createVm(api, 'three');
    await vmWhen(api, 'three', (vm) => vm.status_message === `no worker with enough ${TART_VMS_RESOURCE}`);
    await api.request('DELETE', '/v1/vms/one');

    expect((await vmWhen(api, 'three', placed)).worker).toBe('mini-1');
  });

  it('skips paused workers, and says so when only paused workers could take the VM', async () => {
    await registerWorker(api, 'paused', { scheduling_paused: true });
    await createVm(api, 'waiting');
    await vmWhen(api, 'waiting', (vm) => vm.status_message === 'all eligible workers are paused');

    await registerWorker(api, 'active');

    expect((await vmWhen(api, 'waiting', placed)).worker).toBe('active');
  });

  it('fails a VM whose worker is deleted', async () => {
    await registerWorker(api, 'doomed');
    await createVm(api, 'orphan');
    await vmWhen(api, 'orphan', placed);

    await api.request('DELETE', '/v1/workers/doomed');

    const vm = await vmWhen(api, 'orphan', (vm) => vm.status === 'failed');
    expect(vm).toMatchObject({ worker: 'doomed', status_message: WORKER_GONE, restart_count: 0 });
  });

  it('restarts a failed OnFailure VM on another worker, under a new localName', async () => {
    await registerWorker(api, 'doomed');
    const created = await createVm(api, 'phoenix', { restart_policy: 'OnFailure' });
    await vmWhen(api, 'phoenix', placed);
    await registerWorker(api, 'survivor');
    const changes = recordChanges(api, 'phoenix');

    await api.request('DELETE', '/v1/workers/doomed');
    const vm = await vmWhen(api, 'phoenix', (vm) => vm.worker === 'survivor');
    changes.stop();

    expect(changes.vms.map((change) => [change.status, change.status_message, change.worker])).toEqual([
      ['failed', WORKER_GONE, 'doomed'],
      ['pending', '', 'survivor'],
    ]);
    expect(vm).toMatchObject({ restart_count: 1, localName: vmLocalName('phoenix', created.uid, 1) });
    expect(vm.localName).not.toBe(created.localName);
    expect(vm.restarted_at).not.toBe(ZERO_TIME);
  });

  it('restarts a VM that its worker reports failed, with a fresh status', async () => {
    await registerWorker(api, 'mini-1');
    await createVm(api, 'flaky', { restart_policy: 'OnFailure' });
    await vmWhen(api, 'flaky', placed);
    await api.request('PUT', '/v1/vms/flaky/state', {
      status: 'failed',
      status_message: 'tart exited with code 1',
      conditions: [{ type: 'ready', state: 'false' }],
    });

    const vm = await vmWhen(api, 'flaky', (vm) => vm.restart_count === 1 && placed(vm));

    expect(vm).toMatchObject({ worker: 'mini-1', status: 'pending', status_message: '', conditions: [] });
  });
});

describe('scheduler with a short worker offline timeout', () => {
  let api: TestController;

  beforeAll(async () => {
    api = await startTestController({ workerOfflineTimeout: '2s', schedulerInterval: '200ms' });
  });

  afterAll(async () => {
    await api.close();
  });

  it('fails a VM whose worker stops sending heartbeats', async () => {
    await createVm(api, 'stranded');
    await registerWorker(api, 'silent');
    await vmWhen(api, 'stranded', placed);

    const vm = await vmWhen(api, 'stranded', (vm) => vm.status === 'failed');

    expect(vm).toMatchObject({ worker: 'silent', status_message: WORKER_LOST });
  });
});

describe('scheduler across replicas', () => {
  it('hands scheduling over to another replica when the one scheduling closes', async () => {
    const first = await startTestController({ schedulerInterval: '200ms' });
    let second: TestController | undefined;
    try {
      // Alone, the first replica must be the one scheduling.
      await registerWorker(first, 'mini-1');
      await createVm(first, 'before');
      await vmWhen(first, 'before', placed);
      second = await startTestController({ schedulerInterval: '200ms', databaseUrl: first.databaseUrl });

      await first.close();
      await createVm(second, 'after');

      expect((await vmWhen(second, 'after', placed)).worker).toBe('mini-1');
    } finally {
      await second?.close();
    }
  });
});
