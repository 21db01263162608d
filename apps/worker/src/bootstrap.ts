import 'reflect-metadata';

import { NestFactory } from '@nestjs/core';

import { OrchardLogger } from '#process';
import type { INestApplicationContext } from '@nestjs/common';

import type { WorkerConfig } from './config/worker-config.js';
import { ControllerLink } from './controller-link/controller-link.js';
import type { VmRuntime } from './runtime/vm-runtime.js';
import { SyncService } from './sync/sync.service.js';
import { VM_RUNTIME, WorkerModule } from './worker.module.js';

export interface RunningWorker {
  name: string;
  app: INestApplicationContext;
  link: ControllerLink;
  sync: SyncService;
  runtime: VmRuntime;
  /** Resolves once the worker has registered and its Watch stream is open. */
  connected(): Promise<void>;
  /** Stops the link, the sync loop and the VMs this worker runs. */
  close(): Promise<void>;
}

/** Builds and starts a worker; used by `orchard worker run`, `orchard dev` and the test harness. */
export async function createWorker(
  config: WorkerConfig,
  options: { runtime?: VmRuntime } = {},
): Promise<RunningWorker> {
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config, options.runtime), {
    logger: new OrchardLogger('orchard-worker', { logLevels: config.logLevels }),
    abortOnError: false,
  });
  const link = app.get(ControllerLink);
  const connected = new Promise<void>((resolve) => {
    if (link.connected) resolve();
    else link.once('connected', () => resolve());
  });
  await app.init();
  return {
    name: config.name,
    app,
    link,
    sync: app.get(SyncService),
    runtime: app.get<VmRuntime>(VM_RUNTIME),
    connected: () => connected,
    close: () => app.close(),
  };
}
