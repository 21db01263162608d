import type { ClusterSettings, ControllerInfo } from '#api';

import { createAccount, expectError, expectOk } from './support/api-fixtures.js';
import { startTestController, type TestController } from './support/controller-harness.js';

describe('cluster settings and controller info API', () => {
  let api: TestController;

  beforeAll(async () => {
    api = await startTestController();
  });

  afterAll(async () => {
    await api.close();
  });

  const getSettings = async () => expectOk(await api.request<ClusterSettings>('GET', '/v1/cluster-settings'));

  describe('GET /v1/cluster-settings', () => {
    it('answers the defaults on a new cluster', async () => {
      expect(await getSettings()).toEqual({ hostDirPolicies: [], schedulerProfile: 'optimize-utilization' });
    });
  });

  describe('PUT /v1/cluster-settings', () => {
    it('stores host-dir policies and the scheduler profile, answering and then serving the stored settings', async () => {
      const settings: ClusterSettings = {
        hostDirPolicies: [
          { pathPrefix: '/Users/ci', ro: false },
          { pathPrefix: '/data', ro: true },
        ],
        schedulerProfile: 'distribute-load',
      };
      expect(expectOk(await api.request('PUT', '/v1/cluster-settings', settings))).toEqual(settings);
      expect(await getSettings()).toEqual(settings);
    });

    it('keeps the fields a body leaves out, defaults ro to false and ignores unknown fields', async () => {
      expectOk(
        await api.request('PUT', '/v1/cluster-settings', {
          hostDirPolicies: [],
          schedulerProfile: 'optimize-utilization',
        }),
      );
      expectOk(
        await api.request('PUT', '/v1/cluster-settings', { schedulerProfile: 'distribute-load', extra: 1 }),
      );
      expectOk(
        await api.request('PUT', '/v1/cluster-settings', { hostDirPolicies: [{ pathPrefix: '/tmp/x' }] }),
      );
      expect(await getSettings()).toEqual({
        hostDirPolicies: [{ pathPrefix: '/tmp/x', ro: false }],
        schedulerProfile: 'distribute-load',
      });
    });

    it.each<[string, Record<string, unknown>]>([
      ['an unknown scheduler profile', { schedulerProfile: 'random' }],
      ['a numeric scheduler profile', { schedulerProfile: 1 }],
      ['hostDirPolicies as an object', { hostDirPolicies: { pathPrefix: '/x' } }],
      ['a policy that is not an object', { hostDirPolicies: ['/x'] }],
      ['a policy with a relative prefix', { hostDirPolicies: [{ pathPrefix: 'x' }] }],
      ['a policy without a prefix', { hostDirPolicies: [{ ro: true }] }],
      ['a policy with ro as a string', { hostDirPolicies: [{ pathPrefix: '/x', ro: 'yes' }] }],
    ])('refuses %s with 412 and changes nothing', async (_what, body) => {
      const before = await getSettings();
      expectError(await api.request('PUT', '/v1/cluster-settings', body), 412);
      expect(await getSettings()).toEqual(before);
    });

    it('refuses a JSON array body with 400 and changes nothing', async () => {
      const before = await getSettings();
      expectError(
        await api.request('PUT', '/v1/cluster-settings', [{ schedulerProfile: 'distribute-load' }]),
        400,
      );
      expect(await getSettings()).toEqual(before);
    });
  });

  describe('GET /v1/controller/info', () => {
    it('answers any valid account, even one without roles, with version, commit and capabilities', async () => {
      const nobody = await createAccount(api, 'no-roles', []);
      const info = expectOk(
        await api.request<ControllerInfo>('GET', '/v1/controller/info', undefined, nobody),
      );
      expect(info).toEqual({
        version: expect.stringMatching(/^\d+\.\d+\.\d+/),
        commit: expect.any(String),
        capabilities: expect.arrayContaining(['vm-state-endpoint']),
      });
    });

    it('answers 401 to a wrong token', async () => {
      expectError(
        await api.request('GET', '/v1/controller/info', undefined, {
          name: 'bootstrap-admin',
          token: 'wrong',
        }),
        401,
      );
    });
  });
});
