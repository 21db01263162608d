import {
  Inject,
  Injectable,
  Logger,
  Module,
  type DynamicModule,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';

import { OrchardClient } from '#client';

import { WORKER_CONFIG, type WorkerConfig } from './config/worker-config.js';
import type { ControllerApi } from './controller-link/controller-api.js';
import { ControllerLink } from './controller-link/controller-link.js';
import { PortForwarder } from './controller-link/port-forwarder.js';
import { RestControllerApi } from './controller-link/rest-controller-api.js';
import { createRuntime } from './runtime/create-runtime.js';
import type { VmRuntime } from './runtime/vm-runtime.js';
import { SyncService } from './sync/sync.service.js';

export const VM_RUNTIME = Symbol('VM_RUNTIME');
export const CONTROLLER_API = Symbol('CONTROLLER_API');

/** Starts the link and the sync loop in order, and stops them (and the VMs) on shutdown. */
@Injectable()
export class WorkerLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('worker');

  constructor(
    private readonly link: ControllerLink,
    private readonly sync: SyncService,
    @Inject(VM_RUNTIME) private readonly runtime: VmRuntime,
  ) {}

  onApplicationBootstrap(): void {
    // Orphans are collected once, after the first successful connection (the controller must
    // be reachable to tell which VMs it still knows), then the loop starts.
    this.link.once('connected', () => {
      void this.sync
        .collectGarbage()
        .catch((error: unknown) => this.logger.warn(`garbage collection failed: ${String(error)}`))
        .finally(() => this.sync.start());
    });
    this.link.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.link.stop();
    await this.sync.stop();
    await this.runtime.dispose?.();
  }
}

@Module({})
export class WorkerModule {
  static forRoot(config: WorkerConfig, runtime?: VmRuntime): DynamicModule {
    return {
      module: WorkerModule,
      providers: [
        { provide: WORKER_CONFIG, useValue: config },
        { provide: VM_RUNTIME, useFactory: () => runtime ?? createRuntime(config) },
        {
          provide: CONTROLLER_API,
          useFactory: () =>
            new RestControllerApi(
              new OrchardClient({
                url: config.controllerUrl,
                serviceAccountName: config.serviceAccount?.name,
                serviceAccountToken: config.serviceAccount?.token,
                userAgent: `orchard-ts-worker/${config.name}`,
              }),
            ),
        },
        {
          provide: SyncService,
          inject: [CONTROLLER_API, VM_RUNTIME],
          useFactory: (api: ControllerApi, vmRuntime: VmRuntime) =>
            new SyncService(api, vmRuntime, {
              workerName: config.name,
              intervalMs: config.syncIntervalMs,
              ipWaitSeconds: config.ipWaitSeconds,
            }),
        },
        {
          provide: ControllerLink,
          inject: [CONTROLLER_API, SyncService, VM_RUNTIME],
          useFactory: (api: ControllerApi, sync: SyncService, vmRuntime: VmRuntime) => {
            // The forwarder opens PortForward calls on the link's channel; the link hands it the
            // instructions. `link` is only used once instructions arrive, after construction.
            const forwarder = new PortForwarder(vmRuntime, sync, (metadata) =>
              link.grpcClient.PortForward(link.metadata(metadata)),
            );
            const link: ControllerLink = new ControllerLink(config, api, {
              syncVms: () => sync.kick(),
              resolveIp: async (_session, vmUid) => (await sync.findByUid(vmUid)?.ip()) ?? '',
              portForward: (instruction) => void forwarder.handle(instruction),
            });
            link.once('stopping', () => forwarder.closeAll());
            return link;
          },
        },
        WorkerLifecycle,
      ],
      exports: [ControllerLink, SyncService, VM_RUNTIME],
    };
  }
}
