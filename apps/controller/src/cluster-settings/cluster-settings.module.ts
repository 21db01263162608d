import { Module } from '@nestjs/common';

import { ClusterSettingsController } from './cluster-settings.controller.js';
import { ClusterSettingsService } from './cluster-settings.service.js';

@Module({
  controllers: [ClusterSettingsController],
  providers: [ClusterSettingsService],
  exports: [ClusterSettingsService],
})
export class ClusterSettingsModule {}
