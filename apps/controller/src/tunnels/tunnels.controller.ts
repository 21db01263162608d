import { Controller, Get, Param, Query, Req, Res } from '@nestjs/common';
import { ApiBasicAuth, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';

import { Roles } from '../auth/roles.decorator.js';
import { parsePort, parseWait } from './tunnel-query.js';
import { TunnelsService } from './tunnels.service.js';

const WAIT_QUERY = {
  name: 'wait',
  required: false,
  description: 'seconds to wait for the target (default 10)',
};
const PORT_QUERY = { name: 'port', required: true, description: 'TCP port, 1-65535' };

@ApiTags('tunnels')
@ApiBasicAuth()
@Controller('v1')
export class TunnelsController {
  constructor(private readonly tunnels: TunnelsService) {}

  /** WebSocket carrying one TCP connection to a VM's port, raw bytes in binary messages. */
  @Get('vms/:name/port-forward')
  @Roles('compute:write', 'compute:connect')
  @ApiQuery(PORT_QUERY)
  @ApiQuery(WAIT_QUERY)
  async forwardToVm(
    @Param('name') name: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
    @Query('port') port?: string,
    @Query('wait') wait?: string,
  ): Promise<void> {
    const target = parsePort(port);
    await this.tunnels.forward({ kind: 'vm', name }, target, parseWait(wait), request.raw);
    reply.hijack();
  }

  /** WebSocket carrying one TCP connection to a port on the worker host's loopback interface. */
  @Get('workers/:name/port-forward')
  @Roles('admin:write')
  @ApiQuery(PORT_QUERY)
  @ApiQuery(WAIT_QUERY)
  async forwardToWorker(
    @Param('name') name: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
    @Query('port') port?: string,
    @Query('wait') wait?: string,
  ): Promise<void> {
    const target = parsePort(port);
    await this.tunnels.forward({ kind: 'worker', name }, target, parseWait(wait), request.raw);
    reply.hijack();
  }

  /** The VM's IP address, as its worker resolves it. */
  @Get('vms/:name/ip')
  @Roles('compute:write', 'compute:connect')
  @ApiQuery(WAIT_QUERY)
  async ip(
    @Param('name') name: string,
    @Req() request: FastifyRequest,
    @Query('wait') wait?: string,
  ): Promise<{ ip: string }> {
    const abandoned = new AbortController();
    request.raw.once('close', () => abandoned.abort());
    return { ip: await this.tunnels.resolveIp(name, parseWait(wait), abandoned.signal) };
  }
}
