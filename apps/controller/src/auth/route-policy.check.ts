import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants.js';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';

import { ACCESS_KEY } from './roles.decorator.js';

/**
 * Refuses to start an application in which some route handler declares no access policy, so a
 * forgotten @Roles fails every test rather than shipping an open route.
 */
@Injectable()
export class RoutePolicyCheck implements OnApplicationBootstrap {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {}

  onApplicationBootstrap(): void {
    const missing: string[] = [];
    for (const wrapper of this.discovery.getControllers()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance) continue;
      const prototype = Object.getPrototypeOf(instance) as object;
      for (const method of this.scanner.getAllMethodNames(prototype)) {
        const handler = (prototype as Record<string, unknown>)[method] as (...args: unknown[]) => unknown;
        if (this.reflector.get<string | undefined>(PATH_METADATA, handler) === undefined) continue;
        const access = this.reflector.getAllAndOverride<unknown>(ACCESS_KEY, [
          handler,
          instance.constructor as () => void,
        ]);
        if (!access) missing.push(`${(instance.constructor as { name: string }).name}.${method}`);
      }
    }
    if (missing.length > 0) {
      throw new Error(`routes without an access policy (@Roles or @AnyAccount): ${missing.join(', ')}`);
    }
  }
}
