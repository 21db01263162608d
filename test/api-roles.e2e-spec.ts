import { Controller, Get, Module, Post } from '@nestjs/common';
import { DiscoveryModule, NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';

import { ROLES, type Role } from '#api';

import { AnyAccount, Roles } from '../apps/controller/src/auth/roles.decorator.js';
import { RoutePolicyCheck } from '../apps/controller/src/auth/route-policy.check.js';
import { apiRoutes, createAccount, createVm, expectError } from './support/api-fixtures.js';
import {
  basicAuth,
  startTestController,
  type Credentials,
  type TestController,
} from './support/controller-harness.js';

interface RouteCase {
  method: string;
  /** The route as the server registers it. */
  route: string;
  /** What to call: every target exists, or is meant not to (then the handler answers 404). */
  url: string;
  body?: unknown;
  /** The role (or any of the roles) the route requires, 'any' valid account, or 'public'. */
  access: Role | readonly Role[] | 'any' | 'public';
  /** The answer once past authentication and authorisation; nothing here changes state. */
  expected: number;
}

const ROUTES: RouteCase[] = [
  { method: 'GET', route: '/v1', url: '/v1/', access: 'public', expected: 200 },
  { method: 'GET', route: '/v1/controller/info', url: '/v1/controller/info', access: 'any', expected: 200 },

  {
    method: 'GET',
    route: '/v1/cluster-settings',
    url: '/v1/cluster-settings',
    access: 'admin:read',
    expected: 200,
  },
  {
    method: 'PUT',
    route: '/v1/cluster-settings',
    url: '/v1/cluster-settings',
    body: {},
    access: 'admin:write',
    expected: 200,
  },

  {
    method: 'POST',
    route: '/v1/service-accounts',
    url: '/v1/service-accounts',
    body: {},
    access: 'admin:write',
    expected: 412,
  },
  {
    method: 'GET',
    route: '/v1/service-accounts',
    url: '/v1/service-accounts',
    access: 'admin:read',
    expected: 200,
  },
  {
    method: 'GET',
    route: '/v1/service-accounts/:name',
    url: '/v1/service-accounts/bootstrap-admin',
    access: 'admin:read',
    expected: 200,
  },
  {
    method: 'PUT',
    route: '/v1/service-accounts/:name',
    url: '/v1/service-accounts/no-such-account',
    body: {},
    access: 'admin:write',
    expected: 404,
  },
  {
    method: 'DELETE',
    route: '/v1/service-accounts/:name',
    url: '/v1/service-accounts/no-such-account',
    access: 'admin:write',
    expected: 404,
  },

  {
    method: 'POST',
    route: '/v1/workers',
    url: '/v1/workers',
    body: {},
    access: 'compute:write',
    expected: 412,
  },
  { method: 'GET', route: '/v1/workers', url: '/v1/workers', access: 'compute:read', expected: 200 },
  {
    method: 'GET',
    route: '/v1/workers/:name',
    url: '/v1/workers/no-such-worker',
    access: 'compute:read',
    expected: 404,
  },
  {
    method: 'PUT',
    route: '/v1/workers/:name',
    url: '/v1/workers/no-such-worker',
    body: {},
    access: 'compute:write',
    expected: 404,
  },
  {
    method: 'DELETE',
    route: '/v1/workers/:name',
    url: '/v1/workers/no-such-worker',
    access: 'compute:write',
    expected: 404,
  },

  { method: 'POST', route: '/v1/vms', url: '/v1/vms', body: {}, access: 'compute:write', expected: 412 },
  // The tunnel endpoints speak WebSocket: past the guard, a plain GET is a 400 (or 404 for the IP).
  {
    method: 'GET',
    route: '/v1/vms/:name/port-forward',
    url: '/v1/vms/no-such-vm/port-forward?port=22',
    access: ['compute:write', 'compute:connect'],
    expected: 400,
  },
  {
    method: 'GET',
    route: '/v1/workers/:name/port-forward',
    url: '/v1/workers/no-such-worker/port-forward?port=22',
    access: 'admin:write',
    expected: 400,
  },
  {
    method: 'GET',
    route: '/v1/vms/:name/ip',
    url: '/v1/vms/no-such-vm/ip?wait=0',
    access: ['compute:write', 'compute:connect'],
    expected: 404,
  },
  { method: 'GET', route: '/v1/vms', url: '/v1/vms', access: 'compute:read', expected: 200 },
  { method: 'GET', route: '/v1/vms/:name', url: '/v1/vms/matrix-vm', access: 'compute:read', expected: 200 },
  {
    method: 'GET',
    route: '/v1/vms/:name',
    url: '/v1/vms/matrix-vm?watch=true',
    access: 'compute:read',
    expected: 200,
  },
  {
    method: 'PUT',
    route: '/v1/vms/:name',
    url: '/v1/vms/matrix-vm',
    body: {},
    access: 'compute:write',
    expected: 200,
  },
  {
    method: 'DELETE',
    route: '/v1/vms/:name',
    url: '/v1/vms/no-such-vm',
    access: 'compute:write',
    expected: 404,
  },
  {
    method: 'PUT',
    route: '/v1/vms/:name/state',
    url: '/v1/vms/no-such-vm/state',
    body: {},
    access: 'compute:write',
    expected: 404,
  },
  {
    method: 'GET',
    route: '/v1/vms/:name/events',
    url: '/v1/vms/matrix-vm/events',
    access: 'compute:read',
    expected: 200,
  },
  {
    method: 'POST',
    route: '/v1/vms/:name/events',
    url: '/v1/vms/matrix-vm/events',
    body: [],
    access: 'compute:write',
    expected: 200,
  },
];

/** Who calls: no credentials, wrong ones, an account per single role, one with none, one with all. */
type Caller =
  | { label: string; kind: 'none' }
  | { label: string; kind: 'invalid'; credentials: Credentials }
  | { label: string; kind: 'account'; account: string; roles: Role[] };

const CALLERS: Caller[] = [
  { label: 'no credentials', kind: 'none' },
  {
    label: 'a wrong token',
    kind: 'invalid',
    credentials: { name: 'matrix-all', token: 'wrong-token-0123456789abcdef' },
  },
  {
    label: 'an unknown account',
    kind: 'invalid',
    credentials: { name: 'matrix-nobody', token: 'some-token-0123456789abcdef' },
  },
  ...ROLES.map((role): Caller => ({
    label: `only ${role}`,
    kind: 'account',
    account: `matrix-${role.replace(':', '-')}`,
    roles: [role],
  })),
  { label: 'no roles', kind: 'account', account: 'matrix-none', roles: [] },
  { label: 'all roles', kind: 'account', account: 'matrix-all', roles: [...ROLES] },
];

function expectedStatus(route: RouteCase, caller: Caller): number {
  if (route.access === 'public') return route.expected;
  if (caller.kind !== 'account') return 401;
  if (route.access === 'any') return route.expected;
  const needed: readonly Role[] = typeof route.access === 'string' ? [route.access] : route.access;
  if (needed.some((role) => caller.roles.includes(role))) return route.expected;
  return 403;
}

describe('role matrix', () => {
  let api: TestController;
  const accounts = new Map<string, Credentials>();

  beforeAll(async () => {
    api = await startTestController();
    for (const caller of CALLERS) {
      if (caller.kind === 'account')
        accounts.set(caller.account, await createAccount(api, caller.account, caller.roles));
    }
    await createVm(api, 'matrix-vm');
  });

  afterAll(async () => {
    await api.close();
  });

  async function call(route: RouteCase, caller: Caller) {
    const credentials =
      caller.kind === 'none'
        ? null
        : caller.kind === 'invalid'
          ? caller.credentials
          : accounts.get(caller.account);
    const headers: Record<string, string> = {};
    if (credentials) headers['authorization'] = basicAuth(credentials);
    if (route.body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(api.url + route.url, {
      method: route.method,
      headers,
      body: route.body === undefined ? undefined : JSON.stringify(route.body),
    });
    if (response.headers.get('content-type')?.startsWith('application/x-ndjson')) {
      // A watch: the status is all this test needs; the stream would run forever.
      await response.body?.cancel();
      return { status: response.status, headers: response.headers, body: undefined, text: '' };
    }
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: text ? (JSON.parse(text) as unknown) : undefined,
      text,
    };
  }

  describe.each(ROUTES.map((route) => [`${route.method} ${route.url}`, route] as const))(
    '%s',
    (_name, route) => {
      it.each(CALLERS.map((caller) => [caller.label, expectedStatus(route, caller), caller] as const))(
        'answers %s with %i',
        async (_label, status, caller) => {
          const response = await call(route, caller);
          if (status === 401 || status === 403) expectError(response, status);
          else
            expect({ status: response.status, body: response.body }).toEqual({ status, body: response.body });
        },
      );
    },
  );

  it('covers every route the controller serves', () => {
    const served = apiRoutes(api).map((route) => `${route.method} ${route.path}`);
    const covered = new Set(ROUTES.map((route) => `${route.method} ${route.route}`));
    expect(served.length).toBeGreaterThan(15);
    expect(served.filter((route) => !covered.has(route))).toEqual([]);
    expect([...covered].filter((route) => !served.includes(route))).toEqual([]);
  });
});

describe(RoutePolicyCheck.name, () => {
  @Controller('open')
  class ForgetfulController {
    @Get()
    guarded(): string {
      return 'ok';
    }

    @Post()
    @Roles('compute:write')
    declared(): string {
      return 'ok';
    }

    /** Not a route: needs no policy. */
    helper(): string {
      return 'helper';
    }
  }

  @Controller('declared')
  class DeclaredController {
    @Get()
    @AnyAccount()
    info(): string {
      return 'ok';
    }

    @Post()
    @Roles('admin:write')
    write(): string {
      return 'ok';
    }
  }

  @Controller('class-level')
  @Roles('compute:read')
  class ClassLevelController {
    @Get()
    read(): string {
      return 'ok';
    }
  }

  async function bootstrap(...controllers: (new () => object)[]): Promise<NestFastifyApplication> {
    @Module({ imports: [DiscoveryModule], controllers, providers: [RoutePolicyCheck] })
    class TinyModule {}
    return NestFactory.create<NestFastifyApplication>(TinyModule, new FastifyAdapter(), {
      logger: false,
      abortOnError: false,
    });
  }

  it('refuses to start an app in which a route declares no access policy, naming the route', async () => {
    const app = await bootstrap(DeclaredController, ForgetfulController);
    try {
      const started = app.init();
      await expect(started).rejects.toThrow(/ForgetfulController\.guarded/);
      await expect(started).rejects.not.toThrow(/declared|helper|DeclaredController/);
    } finally {
      await app.close().catch(() => undefined);
    }
  });

  it('starts an app in which every route declares @Roles or @AnyAccount, on the method or the class', async () => {
    const app = await bootstrap(DeclaredController, ClassLevelController);
    try {
      await expect(app.init()).resolves.toBe(app);
    } finally {
      await app.close();
    }
  });
});
