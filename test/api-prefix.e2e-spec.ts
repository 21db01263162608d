import type { OpenAPIObject } from '@nestjs/swagger';

import type { VM, WatchEvent } from '#api';

import { apiRoutes, expectError, expectOk, openNdjson, stable, vmBody } from './support/api-fixtures.js';
import { startTestController, type TestController } from './support/controller-harness.js';

describe('--api-prefix /orchard', () => {
  let api: TestController;

  beforeAll(async () => {
    api = await startTestController({ apiPrefix: '/orchard' });
  });

  afterAll(async () => {
    await api.close();
  });

  it('serves the API under /orchard/v1', async () => {
    const created = expectOk(await api.request<VM>('POST', '/orchard/v1/vms', vmBody('prefixed')));
    expect(expectOk(await api.request<VM[]>('GET', '/orchard/v1/vms')).map(stable)).toEqual([
      stable(created),
    ]);
    expect(stable(expectOk(await api.request<VM>('GET', '/orchard/v1/vms/prefixed')))).toEqual(
      stable(created),
    );
    expectOk(await api.request('GET', '/orchard/v1/controller/info'));
  });

  it.each([
    ['GET', '/v1/vms'],
    ['POST', '/v1/vms'],
    ['GET', '/v1/controller/info'],
    ['GET', '/v1/openapi.json'],
    ['GET', '/v1/docs'],
  ])('answers %s %s, outside the prefix, with 404', async (method, path) => {
    const response = await api.request(method, path, method === 'POST' ? vmBody('unprefixed') : undefined);
    expectError(response, 404);
  });

  it('registers every API route under the prefix and none outside it', () => {
    const routes = apiRoutes(api, '/orchard');
    expect(routes.length).toBeGreaterThan(15);
    const underPrefix = (path: string) => path === '/orchard/v1' || path.startsWith('/orchard/v1/');
    expect(routes.filter((route) => !underPrefix(route.path))).toEqual([]);
  });

  it('still guards the prefixed routes', async () => {
    expectError(await api.request('GET', '/orchard/v1/vms', undefined, null), 401);
  });

  it('streams the watch under the prefix', async () => {
    const watch = await openNdjson<WatchEvent<VM>>(api, '/orchard/v1/vms/prefixed-watch?watch=true');
    try {
      expect(watch.status).toBe(200);
      const created = expectOk(await api.request<VM>('POST', '/orchard/v1/vms', vmBody('prefixed-watch')));
      expect(await watch.next()).toEqual({ type: 'ADDED', object: created });
    } finally {
      watch.close();
    }
  });

  it('serves the OpenAPI document and the Swagger UI under the prefix, with prefixed paths', async () => {
    const document = expectOk(
      await api.request<OpenAPIObject>('GET', '/orchard/v1/openapi.json', undefined, null),
    );
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(['/orchard/v1/vms', '/orchard/v1/vms/{name}']),
    );
    const paths = Object.keys(document.paths);
    expect(paths.filter((path) => path !== '/orchard/v1' && !path.startsWith('/orchard/v1/'))).toEqual([]);
    const docs = await api.request('GET', '/orchard/v1/docs', undefined, null);
    expect(docs.status).toBe(200);
    expect(docs.text).toMatch(/swagger-ui/i);
  });
});
