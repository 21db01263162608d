import type { VM } from '#api';
import { OrchardClient } from '#client';

import { createWorker, type RunningWorker } from '../../apps/worker/src/bootstrap.js';
import { resolveWorkerConfig, type WorkerConfigInput } from '../../apps/worker/src/config/worker-config.js';
import type { VmRuntime } from '../../apps/worker/src/runtime/vm-runtime.js';
import type { ControllerConfigInput } from '../../apps/controller/src/config/controller-config.js';
import { startTestController, type TestController } from './controller-harness.js';

export const WORKER_ACCOUNT = { name: 'workers', token: 'test-worker-token-0123456789abcdef' };

export interface TestWorkerOptions extends Partial<WorkerConfigInput> {
  name: string;
  /** A runtime instance to use instead of the one the config names (e.g. tart on the fake). */
  runtime?: string;
  vmRuntime?: VmRuntime;
}

export interface TestCluster {
  api: TestController;
  client: OrchardClient;
  workers: RunningWorker[];
  startWorker(options: TestWorkerOptions): Promise<RunningWorker>;
  /** Follows the VM's watch stream until `predicate` holds; rejects after timeoutMs. */
  waitForVm(name: string, predicate: (vm: VM) => boolean, timeoutMs?: number): Promise<VM>;
  close(): Promise<void>;
}

/**
 * A controller and N workers in this process on loopback port 0, workers on the synthetic
 * runtime unless told otherwise; resolves once every worker's Watch stream is open.
 */
export async function startTestCluster(
  options: { workers?: TestWorkerOptions[]; controller?: ControllerConfigInput } = {},
): Promise<TestCluster> {
  const api = await startTestController({ schedulerInterval: '1s', ...options.controller });
  await api.request('POST', '/v1/service-accounts', {
    name: WORKER_ACCOUNT.name,
    token: WORKER_ACCOUNT.token,
    roles: ['compute:read', 'compute:write'],
  });
  const client = new OrchardClient({
    url: api.url,
    serviceAccountName: api.admin.name,
    serviceAccountToken: api.admin.token,
  });
  const workers: RunningWorker[] = [];

  const startWorker = async (worker: TestWorkerOptions): Promise<RunningWorker> => {
    const { vmRuntime, ...input } = worker;
    const config = resolveWorkerConfig(
      {
        controllerUrl: api.url,
        runtime: 'synthetic',
        serviceAccountName: WORKER_ACCOUNT.name,
        serviceAccountToken: WORKER_ACCOUNT.token,
        machineId: `machine-${worker.name}`,
        syncInterval: '2s',
        heartbeatInterval: '1s',
        reconnectInitial: '50ms',
        reconnectMax: '500ms',
        quiet: true,
        ...input,
      },
      {},
    );
    const running = await createWorker(config, vmRuntime ? { runtime: vmRuntime } : {});
    workers.push(running);
    await running.connected();
    return running;
  };

  try {
    for (const worker of options.workers ?? [{ name: 'worker-1' }]) await startWorker(worker);
  } catch (error) {
    await Promise.all(workers.map((w) => w.close()));
    await api.close();
    throw error;
  }

  return {
    api,
    client,
    workers,
    startWorker,
    async waitForVm(name, predicate, timeoutMs = 15_000) {
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), timeoutMs);
      let last: VM | undefined;
      try {
        for await (const event of client.watchVm(name, abort.signal)) {
          last = event.object;
          if (event.type !== 'DELETED' && predicate(event.object)) return event.object;
        }
      } catch (error) {
        if (!abort.signal.aborted) throw error;
      } finally {
        clearTimeout(timer);
        abort.abort();
      }
      throw new Error(
        `VM ${name} did not reach the expected state within ${timeoutMs} ms; last seen: ${JSON.stringify(last)}`,
      );
    },
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await api.close();
    },
  };
}
