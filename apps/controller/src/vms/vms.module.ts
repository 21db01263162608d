import { Module } from '@nestjs/common';

import { ClusterSettingsModule } from '../cluster-settings/cluster-settings.module.js';
import { EventsController } from '../events/events.controller.js';
import { EventsService } from '../events/events.service.js';
import { VmWatchService } from './vm-watch.service.js';
import { VmsController } from './vms.controller.js';
import { VmsService } from './vms.service.js';

@Module({
  imports: [ClusterSettingsModule],
  controllers: [EventsController, VmsController],
  providers: [EventsService, VmWatchService, VmsService],
  exports: [VmsService],
})
export class VmsModule {}
