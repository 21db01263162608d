import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBasicAuth, ApiBody, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';

import { parseEvents, type VmEvent } from '#api';

import { Roles } from '../auth/roles.decorator.js';
import { EventsService } from './events.service.js';

@ApiTags('vms')
@ApiBasicAuth()
@Controller('v1/vms/:name/events')
export class EventsController {
  constructor(private readonly events: EventsService) {}

  @Get()
  @Roles('compute:read')
  @ApiQuery({ name: 'limit', required: false })
  @ApiQuery({ name: 'order', required: false, enum: ['asc', 'desc'] })
  @ApiQuery({ name: 'cursor', required: false, description: 'X-Next-Cursor of the previous page' })
  async list(
    @Param('name') name: string,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Query('limit') limit?: string,
    @Query('order') order?: string,
    @Query('cursor') cursor?: string,
  ): Promise<VmEvent[]> {
    const page = await this.events.page(name, { limit, order, cursor });
    if (page.nextCursor) void reply.header('X-Next-Cursor', page.nextCursor);
    return page.events;
  }

  @Post()
  @HttpCode(200)
  @Roles('compute:write')
  @ApiBody({ description: 'array of events: [{kind, timestamp (unix seconds), payload}]' })
  async append(@Param('name') name: string, @Body() body: unknown): Promise<void> {
    await this.events.append(name, parseEvents(body));
  }
}
