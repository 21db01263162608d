import type { OpenAPIObject } from '@nestjs/swagger';

import { apiRoutes, expectOk } from './support/api-fixtures.js';
import { startTestController, type TestController } from './support/controller-harness.js';

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'] as const;

/** `/v1/vms/{name}` -> `/v1/vms/:name`, the way Fastify spells a path parameter. */
const toFastifyPath = (path: string) => path.replace(/\{([^}]+)\}/g, ':$1');

/** Every operation the document describes, as "METHOD /path". */
function documentedOperations(document: OpenAPIObject): string[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    HTTP_METHODS.filter((method) => item[method] !== undefined).map(
      (method) => `${method.toUpperCase()} ${toFastifyPath(path)}`,
    ),
  );
}

describe('OpenAPI document and Swagger UI', () => {
  let api: TestController;

  beforeAll(async () => {
    api = await startTestController();
  });

  afterAll(async () => {
    await api.close();
  });

  it('GET /v1/openapi.json describes every route the controller serves, and nothing else', async () => {
    const document = expectOk(await api.request<OpenAPIObject>('GET', '/v1/openapi.json', undefined, null));
    expect(document.openapi).toMatch(/^3\./);
    const served = apiRoutes(api).map((route) => `${route.method} ${route.path}`);
    // The route list is parsed from Fastify's tree: make sure it found the deep ones too.
    expect(served).toEqual(expect.arrayContaining(['PUT /v1/vms/:name/state', 'POST /v1/vms/:name/events']));
    expect([...documentedOperations(document)].sort()).toEqual([...served].sort());
  });

  it('serves the same document it was built with', async () => {
    const document = expectOk(await api.request<OpenAPIObject>('GET', '/v1/openapi.json', undefined, null));
    expect(document).toEqual(JSON.parse(JSON.stringify(api.controller.openApi)));
  });

  it('declares HTTP Basic authentication on every operation but the public API root', async () => {
    const document = expectOk(await api.request<OpenAPIObject>('GET', '/v1/openapi.json', undefined, null));
    const schemes = document.components?.securitySchemes ?? {};
    const [basicName] =
      Object.entries(schemes).find(([, scheme]) => 'scheme' in scheme && scheme.scheme === 'basic') ?? [];
    expect(basicName).toBeDefined();
    expect(document.paths['/v1']?.get?.security).toBeUndefined();
    for (const [path, item] of Object.entries(document.paths)) {
      if (path === '/v1') continue;
      for (const method of HTTP_METHODS) {
        const operation = item[method];
        if (!operation) continue;
        expect({ operation: `${method} ${path}`, security: operation.security }).toEqual({
          operation: `${method} ${path}`,
          security: expect.arrayContaining([{ [basicName as string]: [] }]),
        });
      }
    }
  });

  it('GET /v1/docs serves the Swagger UI as HTML', async () => {
    const response = await api.request('GET', '/v1/docs', undefined, null);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.text).toMatch(/swagger-ui/i);
    // The page loads its assets from under /v1/docs: one of them must be there.
    const script = /src="([^"]*swagger-ui-init\.js)"/.exec(response.text)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(new URL(script as string, api.url + '/v1/docs/'));
    expect(asset.status).toBe(200);
    expect(await asset.text()).toContain('/v1/vms/{name}/state');
  });
});
