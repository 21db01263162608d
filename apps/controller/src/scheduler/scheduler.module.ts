import { Module } from '@nestjs/common';

/** Placement of pending VMs on workers; filled in by the scheduler change. */
@Module({})
export class SchedulerModule {}
