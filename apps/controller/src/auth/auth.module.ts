import { Module } from '@nestjs/common';
import { APP_GUARD, DiscoveryModule } from '@nestjs/core';

import { ServiceAccountsModule } from '../service-accounts/service-accounts.module.js';
import { AuthGuard } from './auth.guard.js';
import { RoutePolicyCheck } from './route-policy.check.js';

@Module({
  imports: [DiscoveryModule, ServiceAccountsModule],
  providers: [{ provide: APP_GUARD, useClass: AuthGuard }, RoutePolicyCheck],
})
export class AuthModule {}
