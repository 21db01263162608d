import { Controller, Get, Inject } from '@nestjs/common';
import { ApiBasicAuth, ApiTags } from '@nestjs/swagger';

import type { ControllerInfo } from '#api';

import { AnyAccount, Public } from '../auth/roles.decorator.js';
import { CONTROLLER_CONFIG, type ControllerConfig } from '../config/controller-config.js';

/** What this controller can do beyond the v1 basics, as Orchard's clients probe for it. */
export const CAPABILITIES = ['vm-state-endpoint'];

/**
 * The API root: Orchard's Go client probes `GET /v1/` before anything else and wants a 200.
 * It answers without credentials and says nothing but where the documentation is.
 */
@ApiTags('controller')
@Controller('v1')
export class ApiRootController {
  constructor(@Inject(CONTROLLER_CONFIG) private readonly config: ControllerConfig) {}

  @Get()
  @Public()
  root(): { message: string } {
    return { message: `Orchard v1 API, documented at ${this.config.apiPrefix}/v1/docs` };
  }
}

@ApiTags('controller')
@ApiBasicAuth()
@Controller('v1/controller')
export class ControllerInfoController {
  constructor(@Inject(CONTROLLER_CONFIG) private readonly config: ControllerConfig) {}

  @Get('info')
  @AnyAccount()
  info(): ControllerInfo {
    return { version: this.config.version, commit: this.config.commit, capabilities: CAPABILITIES };
  }
}
