import { Module } from '@nestjs/common';

import { SchedulerService } from './scheduler.service.js';

/** Health checks, OnFailure restarts and placement of pending VMs on workers. */
@Module({
  providers: [SchedulerService],
})
export class SchedulerModule {}
