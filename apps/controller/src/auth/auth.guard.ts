import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';

import { OrchardError, type Role } from '#api';

import { CONTROLLER_CONFIG, type ControllerConfig } from '../config/controller-config.js';
import { ServiceAccountsService } from '../service-accounts/service-accounts.service.js';
import { ACCESS_KEY, type Access } from './roles.decorator.js';

export interface AuthenticatedRequest extends FastifyRequest {
  serviceAccount?: { name: string; roles: readonly Role[] };
}

/** Parses `Authorization: Basic base64(name:token)`; null when absent or malformed. */
export function parseBasicAuth(header: string | undefined): { name: string; token: string } | null {
  if (!header) return null;
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!match) return null;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return null;
  return { name: decoded.slice(0, colon), token: decoded.slice(colon + 1) };
}

/**
 * The one guard in front of every route. Each route declares its access with @Roles or
 * @AnyAccount (RoutePolicyCheck refuses to start an app where one does not). No or wrong
 * credentials answer 401; a valid account without the role answers 403.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly serviceAccounts: ServiceAccountsService,
    @Inject(CONTROLLER_CONFIG) private readonly config: ControllerConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const access = this.reflector.getAllAndOverride<Access | undefined>(ACCESS_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!access) {
      throw new OrchardError('forbidden', 'this route declares no access policy');
    }
    if (!this.config.authEnabled || 'public' in access) return true;

    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const credentials = parseBasicAuth(request.headers.authorization);
    if (!credentials) {
      throw new OrchardError(
        'unauthenticated',
        'authentication required: HTTP Basic with a service account name and token',
      );
    }
    const account = await this.serviceAccounts.authenticate(credentials.name, credentials.token);
    if (!account) {
      throw new OrchardError('unauthenticated', 'invalid service account name or token');
    }
    request.serviceAccount = account;
    if ('anyAccount' in access) return true;
    if (access.roles.some((role) => account.roles.includes(role))) return true;
    throw new OrchardError(
      'forbidden',
      `service account "${account.name}" lacks the role ${access.roles.map((r) => `"${r}"`).join(' or ')}`,
    );
  }
}
