import { Module, type DynamicModule } from '@nestjs/common';
import type { DataSource } from 'typeorm';

import { AuthModule } from './auth/auth.module.js';
import { ClusterSettingsModule } from './cluster-settings/cluster-settings.module.js';
import { CoreModule } from './common/core.module.js';
import type { ControllerConfig } from './config/controller-config.js';
import { ControllerInfoModule } from './controller-info/controller-info.module.js';
import { DatabaseModule } from './database/database.module.js';
import { RpcModule } from './rpc/rpc.module.js';
import { SchedulerModule } from './scheduler/scheduler.module.js';
import { ServiceAccountsModule } from './service-accounts/service-accounts.module.js';
import { TunnelsModule } from './tunnels/tunnels.module.js';
import { VmsModule } from './vms/vms.module.js';
import { WorkersModule } from './workers/workers.module.js';

@Module({})
export class AppModule {
  static forRoot(config: ControllerConfig, dataSource: DataSource): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AuthModule,
        ClusterSettingsModule,
        ControllerInfoModule,
        CoreModule.forConfig(config),
        DatabaseModule.forDataSource(dataSource),
        RpcModule,
        SchedulerModule,
        ServiceAccountsModule,
        TunnelsModule,
        VmsModule,
        WorkersModule,
      ],
    };
  }
}
