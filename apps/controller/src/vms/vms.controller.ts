import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query, Res } from '@nestjs/common';
import { ApiBasicAuth, ApiBody, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';

import { parseVmCreate, parseVmStateReport, parseVmUpdate, type VM } from '#api';

import { Roles } from '../auth/roles.decorator.js';
import { VmWatchService } from './vm-watch.service.js';
import { parseVmFilter, VmsService } from './vms.service.js';

@ApiTags('vms')
@ApiBasicAuth()
@Controller('v1/vms')
export class VmsController {
  constructor(
    private readonly vms: VmsService,
    private readonly watch: VmWatchService,
  ) {}

  @Post()
  @HttpCode(200)
  @Roles('compute:write')
  @ApiBody({ description: 'VM spec: name and image required; Orchard v1 field names' })
  create(@Body() body: unknown): Promise<VM> {
    return this.vms.create(parseVmCreate(body));
  }

  @Get()
  @Roles('compute:read')
  @ApiQuery({ name: 'filter', required: false, description: 'worker=NAME' })
  list(@Query('filter') filter?: string): Promise<VM[]> {
    return this.vms.list(parseVmFilter(filter));
  }

  @Get(':name')
  @Roles('compute:read')
  @ApiQuery({
    name: 'watch',
    required: false,
    description:
      'true: stream ndjson {"type":"ADDED|MODIFIED|DELETED","object":VM} lines, even before the VM exists',
  })
  async get(
    @Param('name') name: string,
    @Res() reply: FastifyReply,
    @Query('watch') watch?: string,
  ): Promise<void> {
    if (watch === 'true' || watch === '1') {
      await this.watch.stream(name, reply);
      return;
    }
    await reply.send(await this.vms.get(name));
  }

  @Put(':name')
  @Roles('compute:write')
  @ApiBody({
    description:
      'changeable spec fields: netSoftnet, netSoftnetAllow, netSoftnetBlock, suspendable, powerState',
  })
  update(@Param('name') name: string, @Body() body: unknown): Promise<VM> {
    return this.vms.update(name, parseVmUpdate(body));
  }

  @Put(':name/state')
  @Roles('compute:write')
  @ApiBody({
    description:
      'what the worker reports: status, status_message, image_fqn, observedGeneration, conditions; optionally uid, restart_count and worker (a stale report gets 409)',
  })
  reportState(@Param('name') name: string, @Body() body: unknown): Promise<VM> {
    return this.vms.reportState(name, parseVmStateReport(body));
  }

  @Delete(':name')
  @Roles('compute:write')
  async delete(@Param('name') name: string): Promise<void> {
    await this.vms.delete(name);
  }
}
