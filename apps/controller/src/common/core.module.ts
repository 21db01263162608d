import { Module, type DynamicModule } from '@nestjs/common';

import { CONTROLLER_CONFIG, type ControllerConfig } from '../config/controller-config.js';
import { ClusterEvents } from './cluster-events.js';

/** Config and the change feed, which every feature may inject. */
@Module({})
export class CoreModule {
  static forConfig(config: ControllerConfig): DynamicModule {
    return {
      module: CoreModule,
      global: true,
      providers: [{ provide: CONTROLLER_CONFIG, useValue: config }, ClusterEvents],
      exports: [CONTROLLER_CONFIG, ClusterEvents],
    };
  }
}
