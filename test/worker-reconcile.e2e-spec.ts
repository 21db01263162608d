import { randomUUID } from 'node:crypto';

import { SyntheticRuntime } from '../apps/worker/src/runtime/synthetic/synthetic.runtime.js';
import { startTestCluster, type TestCluster } from './support/cluster-harness.js';

describe('worker reconcile loop', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startTestCluster({
      workers: [
        { name: 'worker-a', labels: ['pool=a'] },
        { name: 'worker-b', labels: ['pool=b'], resources: ['gpu=1'] },
      ],
    });
  });

  afterAll(async () => {
    await cluster?.close();
  });

  it('routes a VM by its labels to the worker that has them', async () => {
    await cluster.client.createVm({ name: 'labelled', image: 'img', labels: { pool: 'b' } });
    const vm = await cluster.waitForVm('labelled', (v) => v.status === 'running');
    expect(vm.worker).toBe('worker-b');
  });

  it('routes a VM by the resources it requests to the worker that offers them', async () => {
    await cluster.client.createVm({ name: 'gpu-vm', image: 'img', resources: { gpu: 1 } });
    const vm = await cluster.waitForVm('gpu-vm', (v) => v.status === 'running');
    expect(vm.worker).toBe('worker-b');
  });

  it('stops a VM whose powerState becomes stopped, reports the generation it applied, and starts it again', async () => {
    await cluster.client.createVm({ name: 'power', image: 'img', labels: { pool: 'a' } });
    await cluster.waitForVm('power', (v) => v.status === 'running');

    const stopped = await cluster.client.updateVm('power', { powerState: 'stopped' });
    expect(stopped.generation).toBe(1);
    const observedStop = await cluster.waitForVm('power', (v) => v.observedGeneration === 1);
    expect(observedStop.conditions).toContainEqual({ type: 'running', state: 'false' });
    const local = (await cluster.workers[0].runtime.list()).find((l) => l.name === observedStop.localName);
    expect(local?.running).toBe(false);

    await cluster.client.updateVm('power', { powerState: 'running' });
    const observedRun = await cluster.waitForVm('power', (v) => v.observedGeneration === 2);
    expect(observedRun.conditions).toContainEqual({ type: 'running', state: 'true' });
    expect(observedRun.status).toBe('running');
  });

  it('re-runs a VM with new softnet settings and reports the generation it applied', async () => {
    await cluster.client.createVm({ name: 'softnet', image: 'img', labels: { pool: 'a' } });
    await cluster.waitForVm('softnet', (v) => v.status === 'running');
    const updated = await cluster.client.updateVm('softnet', {
      netSoftnet: true,
      netSoftnetAllow: ['10.0.0.0/8'],
    });
    const observed = await cluster.waitForVm('softnet', (v) => v.observedGeneration === updated.generation);
    expect(observed.status).toBe('running');
    expect(observed.conditions).toContainEqual({ type: 'running', state: 'true' });
  });
});

describe('worker start-up', () => {
  it('deletes on-disk VMs named like its own that the controller does not know', async () => {
    const runtime = new SyntheticRuntime();
    const orphan = `orchard-ghost-${randomUUID()}-0`;
    const stranger = 'my-own-vm';
    await runtime.clone('img', orphan);
    await runtime.clone('img', stranger);
    const cluster = await startTestCluster({ workers: [] });
    try {
      const worker = await cluster.startWorker({ name: 'gc-worker', vmRuntime: runtime });
      await new Promise((resolve) => worker.sync.once('synced', resolve));
      const names = (await runtime.list()).map((vm) => vm.name);
      expect(names).not.toContain(orphan);
      expect(names).toContain(stranger);
    } finally {
      await cluster.close();
    }
  });
});
