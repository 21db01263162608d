import { Module } from '@nestjs/common';

import { ServiceAccountsModule } from '../service-accounts/service-accounts.module.js';
import { WorkersModule } from '../workers/workers.module.js';
import { ControllerRpcService } from './controller-rpc.service.js';
import { RendezvousService } from './rendezvous.service.js';
import { WorkerNotifier } from './worker-notifier.service.js';

/** The controller's gRPC side: the Controller service, the Watch-stream registry, rendezvous. */
@Module({
  imports: [ServiceAccountsModule, WorkersModule],
  providers: [ControllerRpcService, RendezvousService, WorkerNotifier],
  exports: [ControllerRpcService, RendezvousService, WorkerNotifier],
})
export class RpcModule {}
