import type { VM } from '#api';

import { createVm, expectError, expectOk, vmBody } from './support/api-fixtures.js';
import { basicAuth, startTestController, type TestController } from './support/controller-harness.js';

/** Every route that reads a JSON body, with the resource it would touch (all exist, see beforeAll). */
const BODY_ROUTES: { method: string; path: string; takes: 'object' | 'array' }[] = [
  { method: 'PUT', path: '/v1/cluster-settings', takes: 'object' },
  { method: 'POST', path: '/v1/service-accounts', takes: 'object' },
  { method: 'PUT', path: '/v1/service-accounts/errors-account', takes: 'object' },
  { method: 'POST', path: '/v1/workers', takes: 'object' },
  { method: 'PUT', path: '/v1/workers/errors-worker', takes: 'object' },
  { method: 'POST', path: '/v1/vms', takes: 'object' },
  { method: 'PUT', path: '/v1/vms/errors-vm', takes: 'object' },
  { method: 'PUT', path: '/v1/vms/errors-vm/state', takes: 'object' },
  { method: 'POST', path: '/v1/vms/errors-vm/events', takes: 'array' },
];

const ONE_MIB = 1024 * 1024;

describe('API errors', () => {
  let api: TestController;

  beforeAll(async () => {
    api = await startTestController();
    expectOk(await api.request('POST', '/v1/service-accounts', { name: 'errors-account', roles: [] }));
    // Paused at once and never given a VM it could run: the scheduler leaves it alone.
    expectOk(
      await api.request('POST', '/v1/workers', {
        name: 'errors-worker',
        machine_id: 'm',
        scheduling_paused: true,
      }),
    );
    await createVm(api, 'errors-vm');
  });

  afterAll(async () => {
    await api.close();
  });

  /** Sends `body` as it is, with `contentType` (none when undefined). */
  async function sendRaw(method: string, path: string, body: string, contentType?: string) {
    const headers: Record<string, string> = { authorization: basicAuth(api.admin) };
    if (contentType) headers['content-type'] = contentType;
    const response = await fetch(api.url + path, { method, headers, body });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: response.status, headers: response.headers, body: parsed, text };
  }

  describe.each(BODY_ROUTES)('$method $path', ({ method, path, takes }) => {
    it('answers malformed JSON with 400 and {"message"}', async () => {
      expectError(await api.request(method, path, '{"name": "half'), 400);
    });

    it('answers malformed JSON sent without a Content-Type with 400', async () => {
      expectError(await sendRaw(method, path, '{"name": "half'), 400);
    });

    it('answers a body over 1 MiB with 413', async () => {
      const huge = JSON.stringify({ name: 'huge', payload: 'x'.repeat(ONE_MIB) });
      expectError(await api.request(method, path, huge), 413);
    });

    if (takes === 'object') {
      it.each([
        ['a JSON array', '[{"name": "x"}]'],
        ['null', 'null'],
        ['a string', '"text"'],
        ['a number', '42'],
      ])('answers %s instead of an object with 400 or 412, never 5xx', async (_what, body) => {
        const response = await api.request(method, path, body);
        expect([400, 412]).toContain(response.status);
        expectError(response, response.status);
      });
    } else {
      it('answers an object instead of an array with 400 or 412', async () => {
        const response = await api.request(method, path, { kind: 'log_line', timestamp: 1, payload: 'x' });
        expect([400, 412]).toContain(response.status);
        expectError(response, response.status);
      });
    }
  });

  it('takes JSON sent without a Content-Type, as Orchard clients send it', async () => {
    const response = await sendRaw('POST', '/v1/vms', JSON.stringify(vmBody('no-content-type')));
    expect(expectOk(response as { status: number; headers: Headers; body: VM; text: string }).name).toBe(
      'no-content-type',
    );
  });

  it('takes JSON sent as text/plain', async () => {
    const response = await sendRaw('POST', '/v1/vms', JSON.stringify(vmBody('text-plain')), 'text/plain');
    expect(response.status).toBe(200);
  });

  it('stores nothing when a body is refused', async () => {
    await api.request(
      'POST',
      '/v1/vms',
      JSON.stringify({ ...vmBody('refused-big'), pad: 'x'.repeat(ONE_MIB) }),
    );
    await api.request('POST', '/v1/vms', '{"name": "refused-malformed", "image": ');
    await api.request('POST', '/v1/vms', vmBody('refused-invalid', { cpu: 'four' }));
    const names = expectOk(await api.request<VM[]>('GET', '/v1/vms')).map((vm) => vm.name);
    expect(names).not.toContain('refused-big');
    expect(names).not.toContain('refused-malformed');
    expect(names).not.toContain('refused-invalid');
  });

  it.each([
    ['GET', '/v1/nothing-here'],
    ['PATCH', '/v1/vms/errors-vm'],
    ['POST', '/v1/vms/errors-vm'],
    ['DELETE', '/v1/vms'],
  ])('answers %s %s, which no route serves, with 404 and {"message"}', async (method, path) => {
    expectError(await api.request(method, path), 404);
  });

  describe('credentials', () => {
    const asHeader = async (authorization: string | null) => {
      const headers: Record<string, string> = authorization === null ? {} : { authorization };
      const response = await fetch(api.url + '/v1/vms', { headers });
      const body: unknown = await response.json();
      return { status: response.status, headers: response.headers, body, text: '' };
    };
    const basic = (text: string) => 'Basic ' + Buffer.from(text).toString('base64');

    it.each<[string, string | null]>([
      ['no Authorization header', null],
      ['an empty Authorization header', ''],
      ['a Bearer token', 'Bearer test-admin-token-0123456789abcdef'],
      ['Basic with no credentials', 'Basic '],
      ['Basic with text that is not base64', 'Basic !!!not-base64!!!'],
      ['Basic without a colon', basic('bootstrap-admin')],
      ['Basic with an empty name', basic(':test-admin-token-0123456789abcdef')],
      ['Basic with an empty token', basic('bootstrap-admin:')],
      ['Basic with a wrong token', basic('bootstrap-admin:test-admin-token-0123456789abcdeX')],
      ['Basic with an unknown account', basic('nobody:test-admin-token-0123456789abcdef')],
    ])('answers %s with 401 and {"message"}', async (_what, authorization) => {
      expectError(await asHeader(authorization), 401);
    });

    it('accepts the right Basic credentials', async () => {
      expect((await asHeader(basic('bootstrap-admin:test-admin-token-0123456789abcdef'))).status).toBe(200);
    });
  });
});
