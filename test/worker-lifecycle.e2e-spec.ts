import { startTestCluster, type TestCluster } from './support/cluster-harness.js';

describe('worker lifecycle on the synthetic runtime', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startTestCluster({ workers: [{ name: 'worker-1' }] });
  });

  afterAll(async () => {
    await cluster?.close();
  });

  it('registers the worker with the resources of a Tart host', async () => {
    const worker = await cluster.client.getWorker('worker-1');
    expect(worker.runtime).toBe('tart');
    expect(worker.arch).toBe('arm64');
    expect(worker.resources['org.cirruslabs.tart-vms']).toBe(2);
    expect(worker.resources['org.cirruslabs.logical-cores']).toBeGreaterThan(0);
    expect(worker.resources['org.cirruslabs.memory-mib']).toBeGreaterThan(0);
  });

  it('runs a created VM and reports it running with its image FQN', async () => {
    await cluster.client.createVm({ name: 'vm-a', image: 'ghcr.io/cirruslabs/macos-sequoia-base:latest' });
    const vm = await cluster.waitForVm('vm-a', (v) => v.status === 'running');
    expect(vm.worker).toBe('worker-1');
    expect(vm.status_message).toBe('VM started');
    expect(vm.image_fqn).toContain('ghcr.io/cirruslabs/macos-sequoia-base');
    expect(vm.started_at).not.toBe('0001-01-01T00:00:00Z');
    const local = await cluster.workers[0].runtime.list();
    expect(local.map((l) => l.name)).toContain(vm.localName);
  });

  it('deletes the VM locally once it is deleted through the API', async () => {
    const vm = await cluster.client.getVm('vm-a');
    const synced = new Promise<void>((resolve) => {
      const check = async () => {
        const names = (await cluster.workers[0].runtime.list()).map((l) => l.name);
        if (!names.includes(vm.localName)) {
          cluster.workers[0].sync.off('synced', onSynced);
          resolve();
        }
      };
      const onSynced = () => void check();
      cluster.workers[0].sync.on('synced', onSynced);
    });
    await cluster.client.deleteVm('vm-a');
    await synced;
  });
});
