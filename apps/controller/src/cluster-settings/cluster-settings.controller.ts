import { Body, Controller, Get, Put } from '@nestjs/common';
import { ApiBasicAuth, ApiBody, ApiTags } from '@nestjs/swagger';

import { parseClusterSettingsUpdate, type ClusterSettings } from '#api';

import { Roles } from '../auth/roles.decorator.js';
import { ClusterSettingsService } from './cluster-settings.service.js';

@ApiTags('cluster-settings')
@ApiBasicAuth()
@Controller('v1/cluster-settings')
export class ClusterSettingsController {
  constructor(private readonly settings: ClusterSettingsService) {}

  @Get()
  @Roles('admin:read')
  get(): Promise<ClusterSettings> {
    return this.settings.get();
  }

  @Put()
  @Roles('admin:write')
  @ApiBody({ description: 'ClusterSettings: hostDirPolicies [{pathPrefix, ro}], schedulerProfile' })
  async set(@Body() body: unknown): Promise<ClusterSettings> {
    return this.settings.set(parseClusterSettingsUpdate(body, await this.settings.get()));
  }
}
