import type { ServiceAccount } from '#api';

import { RFC3339, createAccount, expectError, expectOk } from './support/api-fixtures.js';
import { startTestController, type TestController } from './support/controller-harness.js';

describe('service accounts API', () => {
  let api: TestController;

  beforeAll(async () => {
    api = await startTestController();
  });

  afterAll(async () => {
    await api.close();
  });

  const getAccount = (name: string) => api.request<ServiceAccount>('GET', `/v1/service-accounts/${name}`);
  /** GET /v1/controller/info as `credentials`: any valid account may call it. */
  const infoAs = (credentials: { name: string; token: string }) =>
    api.request('GET', '/v1/controller/info', undefined, credentials);

  describe('POST /v1/service-accounts', () => {
    it('answers 200 with the stored account and a generated token, which then authenticates', async () => {
      const created = expectOk(
        await api.request<ServiceAccount>('POST', '/v1/service-accounts', {
          name: 'ci',
          roles: ['compute:read', 'compute:write'],
        }),
      );
      expect(created).toEqual({
        name: 'ci',
        roles: ['compute:read', 'compute:write'],
        token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        createdAt: expect.stringMatching(RFC3339),
      });
      const credentials = { name: 'ci', token: created.token as string };
      expectOk(await infoAs(credentials));
      expectOk(await api.request('GET', '/v1/vms', undefined, credentials));
    });

    it('keeps a token the client chose, and that token authenticates', async () => {
      const token = 'chosen-token-0123456789';
      const created = expectOk(
        await api.request<ServiceAccount>('POST', '/v1/service-accounts', {
          name: 'chosen',
          roles: [],
          token,
        }),
      );
      expect(created.token).toBe(token);
      expectOk(await infoAs({ name: 'chosen', token }));
    });

    it('never shows the token again: GET and the list leave it out', async () => {
      await createAccount(api, 'secretive', ['admin:read']);
      const fetched = expectOk(await getAccount('secretive'));
      expect(fetched).toEqual({
        name: 'secretive',
        roles: ['admin:read'],
        createdAt: expect.stringMatching(RFC3339),
      });
      const listed = expectOk(await api.request<ServiceAccount[]>('GET', '/v1/service-accounts'));
      expect(listed.map((account) => account.name)).toEqual(
        expect.arrayContaining(['secretive', 'bootstrap-admin']),
      );
      for (const account of listed) expect(account).not.toHaveProperty('token');
    });

    it('ignores unknown fields', async () => {
      const created = expectOk(
        await api.request<ServiceAccount>('POST', '/v1/service-accounts', {
          name: 'tolerant',
          roles: [],
          extra: 1,
        }),
      );
      expect(created).not.toHaveProperty('extra');
    });

    it('refuses a taken name with 409 and keeps the first account and its token', async () => {
      const first = await createAccount(api, 'taken', ['compute:read']);
      const response = await api.request('POST', '/v1/service-accounts', {
        name: 'taken',
        roles: ['admin:write'],
        token: 'another-token-0123456789',
      });
      expectError(response, 409);
      expect(expectOk(await getAccount('taken')).roles).toEqual(['compute:read']);
      expectOk(await infoAs(first));
      expectError(await infoAs({ name: 'taken', token: 'another-token-0123456789' }), 401);
    });

    it.each<[string, Record<string, unknown>]>([
      ['an invalid name', { name: 'with space' }],
      ['no name', { roles: [] }],
      ['an unknown role', { name: 'wrong-types', roles: ['root'] }],
      ['roles as a string', { name: 'wrong-types', roles: 'admin:read' }],
      ['a numeric role', { name: 'wrong-types', roles: [1] }],
      ['a token shorter than 16 characters', { name: 'wrong-types', roles: [], token: 'short' }],
      ['a numeric token', { name: 'wrong-types', roles: [], token: 1234567890123456 }],
    ])('refuses %s with 412 and stores nothing', async (_what, body) => {
      expectError(await api.request('POST', '/v1/service-accounts', body), 412);
      expectError(await getAccount('wrong-types'), 404);
    });
  });

  describe('GET /v1/service-accounts/{name}', () => {
    it('answers 404 for an account that does not exist', async () => {
      expectError(await getAccount('does-not-exist'), 404);
    });
  });

  describe('PUT /v1/service-accounts/{name}', () => {
    it('rotates the token: the new one authenticates, the old one gets 401', async () => {
      const old = await createAccount(api, 'rotating', ['compute:read']);
      // Used once first, so that the controller has read (and may keep) the account.
      expectOk(await infoAs(old));
      const token = 'rotated-token-0123456789';
      const rotated = expectOk(
        await api.request<ServiceAccount>('PUT', '/v1/service-accounts/rotating', { token }),
      );
      expect(rotated).toMatchObject({ name: 'rotating', roles: ['compute:read'], token });
      expectOk(await infoAs({ name: 'rotating', token }));
      expectError(await infoAs(old), 401);
      expect(expectOk(await getAccount('rotating'))).not.toHaveProperty('token');
    });

    it('changes roles, which take effect on the next request', async () => {
      const credentials = await createAccount(api, 'promoted', ['compute:read']);
      expectError(await api.request('GET', '/v1/cluster-settings', undefined, credentials), 403);
      const updated = expectOk(
        await api.request<ServiceAccount>('PUT', '/v1/service-accounts/promoted', { roles: ['admin:read'] }),
      );
      expect(updated.roles).toEqual(['admin:read']);
      expect(updated).not.toHaveProperty('token');
      expectOk(await api.request('GET', '/v1/cluster-settings', undefined, credentials));
      expectError(await api.request('GET', '/v1/vms', undefined, credentials), 403);
    });

    it('keeps roles and token on a body that changes neither, ignoring unknown fields', async () => {
      const credentials = await createAccount(api, 'steady', ['compute:write']);
      const answer = expectOk(
        await api.request<ServiceAccount>('PUT', '/v1/service-accounts/steady', {
          name: 'renamed',
          extra: 1,
        }),
      );
      expect(answer).toMatchObject({ name: 'steady', roles: ['compute:write'] });
      expectOk(await infoAs(credentials));
      expectError(await getAccount('renamed'), 404);
    });

    it.each<[string, string, Record<string, unknown>]>([
      ['an unknown role', 'unchanged-1', { roles: ['superuser'] }],
      ['a token shorter than 16 characters', 'unchanged-2', { token: 'short' }],
      ['roles as an object', 'unchanged-3', { roles: { 'admin:read': true } }],
    ])('refuses %s with 412 and changes nothing', async (_what, name, body) => {
      const credentials = await createAccount(api, name, ['compute:read']);
      expectError(await api.request('PUT', `/v1/service-accounts/${name}`, body), 412);
      expect(expectOk(await getAccount(name)).roles).toEqual(['compute:read']);
      expectOk(await infoAs(credentials));
    });

    it('answers 404 for an account that does not exist', async () => {
      expectError(await api.request('PUT', '/v1/service-accounts/does-not-exist', { roles: [] }), 404);
    });
  });

  describe('DELETE /v1/service-accounts/{name}', () => {
    it('deletes the account, whose token then gets 401', async () => {
      const credentials = await createAccount(api, 'leaving', ['compute:read']);
      expectOk(await infoAs(credentials));
      expectOk(await api.request('DELETE', '/v1/service-accounts/leaving'));
      expectError(await getAccount('leaving'), 404);
      expectError(await infoAs(credentials), 401);
    });

    it('answers 404 for an account that does not exist', async () => {
      expectError(await api.request('DELETE', '/v1/service-accounts/does-not-exist'), 404);
    });
  });
});
