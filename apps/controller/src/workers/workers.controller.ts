import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { ApiBasicAuth, ApiBody, ApiTags } from '@nestjs/swagger';

import { asObject, optionalString, parseWorkerRegistration, parseWorkerUpdate, type Worker } from '#api';

import { Roles } from '../auth/roles.decorator.js';
import { WorkersService } from './workers.service.js';

@ApiTags('workers')
@ApiBasicAuth()
@Controller('v1/workers')
export class WorkersController {
  constructor(private readonly workers: WorkersService) {}

  @Post()
  @HttpCode(200)
  @Roles('compute:write')
  @ApiBody({
    description: 'Worker: name, machine_id, resources, labels, defaultCPU, defaultMemory, arch, runtime',
  })
  register(@Body() body: unknown): Promise<Worker> {
    return this.workers.register(parseWorkerRegistration(body));
  }

  @Get()
  @Roles('compute:read')
  list(): Promise<Worker[]> {
    return this.workers.list();
  }

  @Get(':name')
  @Roles('compute:read')
  get(@Param('name') name: string): Promise<Worker> {
    return this.workers.get(name);
  }

  @Put(':name')
  @Roles('compute:write')
  @ApiBody({
    description: 'Worker fields to change: scheduling_paused, last_seen (heartbeat), resources, labels',
  })
  update(@Param('name') name: string, @Body() body: unknown): Promise<Worker> {
    return this.workers.update(name, parseWorkerUpdate(body), optionalString(asObject(body), 'machine_id'));
  }

  @Delete(':name')
  @Roles('compute:write')
  async delete(@Param('name') name: string): Promise<void> {
    await this.workers.delete(name);
  }
}
