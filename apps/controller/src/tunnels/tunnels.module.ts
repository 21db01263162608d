import { Module } from '@nestjs/common';

import { RpcModule } from '../rpc/rpc.module.js';
import { VmsModule } from '../vms/vms.module.js';
import { WorkersModule } from '../workers/workers.module.js';
import { TunnelsController } from './tunnels.controller.js';
import { TunnelsService } from './tunnels.service.js';

/** Port forwarding (WebSocket <-> worker PortForward stream) and IP resolution. */
@Module({
  imports: [RpcModule, VmsModule, WorkersModule],
  controllers: [TunnelsController],
  providers: [TunnelsService],
  exports: [TunnelsService],
})
export class TunnelsModule {}
