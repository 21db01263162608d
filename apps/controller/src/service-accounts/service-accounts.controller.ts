import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { ApiBasicAuth, ApiBody, ApiTags } from '@nestjs/swagger';

import { parseServiceAccountCreate, parseServiceAccountUpdate, type ServiceAccount } from '#api';

import { Roles } from '../auth/roles.decorator.js';
import { ServiceAccountsService } from './service-accounts.service.js';

@ApiTags('service-accounts')
@ApiBasicAuth()
@Controller('v1/service-accounts')
export class ServiceAccountsController {
  constructor(private readonly serviceAccounts: ServiceAccountsService) {}

  @Post()
  @HttpCode(200)
  @Roles('admin:write')
  @ApiBody({ description: 'ServiceAccount: name, roles, optional token (generated when absent)' })
  create(@Body() body: unknown): Promise<ServiceAccount> {
    return this.serviceAccounts.create(parseServiceAccountCreate(body));
  }

  @Get()
  @Roles('admin:read')
  list(): Promise<ServiceAccount[]> {
    return this.serviceAccounts.list();
  }

  @Get(':name')
  @Roles('admin:read')
  get(@Param('name') name: string): Promise<ServiceAccount> {
    return this.serviceAccounts.get(name);
  }

  @Put(':name')
  @Roles('admin:write')
  @ApiBody({ description: 'roles and/or token to set' })
  update(@Param('name') name: string, @Body() body: unknown): Promise<ServiceAccount> {
    return this.serviceAccounts.update(name, parseServiceAccountUpdate(body));
  }

  @Delete(':name')
  @Roles('admin:write')
  async delete(@Param('name') name: string): Promise<void> {
    await this.serviceAccounts.delete(name);
  }
}
