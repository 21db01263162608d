import { createController } from '../apps/controller/src/bootstrap.js';
import { resolveControllerConfig } from '../apps/controller/src/config/controller-config.js';
import { startTestCluster, type TestCluster } from './support/cluster-harness.js';
import { ADMIN_TOKEN } from './support/controller-harness.js';

describe('a worker that goes away', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startTestCluster({
      controller: { workerOfflineTimeout: '2s', schedulerInterval: '300ms', restartBackoffInitial: '100ms' },
      workers: [{ name: 'doomed' }],
    });
  });

  afterAll(async () => {
    await cluster?.close();
  });

  it('fails its VMs once it is offline, and an OnFailure VM restarts on another worker', async () => {
    await cluster.client.createVm({ name: 'keeper', image: 'img', restart_policy: 'OnFailure' });
    await cluster.client.createVm({ name: 'oneshot', image: 'img' });
    const first = await cluster.waitForVm('keeper', (vm) => vm.status === 'running');
    await cluster.waitForVm('oneshot', (vm) => vm.status === 'running');
    expect(first.worker).toBe('doomed');

    await cluster.startWorker({ name: 'survivor' });
    await cluster.workers[0].close();

    const failed = await cluster.waitForVm('oneshot', (vm) => vm.status === 'failed');
    expect(failed.status_message).toBe('VM is assigned to a worker that lost connection with the controller');
    const restarted = await cluster.waitForVm(
      'keeper',
      (vm) => vm.status === 'running' && vm.worker === 'survivor',
    );
    expect(restarted.restart_count).toBe(1);
    expect(restarted.localName).toBe(`orchard-keeper-${first.uid}-1`);
    expect(restarted.uid).toBe(first.uid);
  });
});

describe('a controller that restarts', () => {
  it('is rejoined by its worker, and no VM is lost or duplicated', async () => {
    const cluster = await startTestCluster({ workers: [{ name: 'steady' }] });
    const worker = cluster.workers[0];
    let second: Awaited<ReturnType<typeof createController>> | null = null;
    try {
      await cluster.client.createVm({ name: 'durable', image: 'img' });
      const before = await cluster.waitForVm('durable', (vm) => vm.status === 'running');

      const disconnected = new Promise((resolve) => worker.link.once('disconnected', resolve));
      await cluster.api.close();
      await disconnected;
      const reconnected = new Promise((resolve) => worker.link.once('connected', resolve));
      second = await createController(
        resolveControllerConfig(
          {
            listen: `127.0.0.1:${cluster.api.controller.port}`,
            databaseUrl: cluster.api.databaseUrl,
            bootstrapAdminToken: ADMIN_TOKEN,
            quiet: true,
          },
          {},
        ),
      );
      await reconnected;
      await new Promise((resolve) => worker.sync.once('synced', resolve));

      const vms = await cluster.client.listVms();
      expect(vms).toHaveLength(1);
      expect(vms[0]).toMatchObject({ name: 'durable', uid: before.uid, status: 'running', worker: 'steady' });
      const local = (await worker.runtime.list()).filter((vm) => vm.name.startsWith('orchard-'));
      expect(local.map((vm) => vm.name)).toEqual([before.localName]);
      expect(local[0].running).toBe(true);
    } finally {
      await worker.close();
      await second?.close();
    }
  });
});
