import type { Worker } from '#api';

import { RFC3339, expectError, expectOk } from './support/api-fixtures.js';
import { startTestController, type TestController } from './support/controller-harness.js';

// No VM is created in this file, so the workers registered here never get any work.
describe('workers API', () => {
  let api: TestController;

  beforeAll(async () => {
    api = await startTestController();
  });

  afterAll(async () => {
    await api.close();
  });

  const register = (body: Record<string, unknown>) => api.request<Worker>('POST', '/v1/workers', body);
  const getWorker = (name: string) => api.request<Worker>('GET', `/v1/workers/${encodeURIComponent(name)}`);

  describe('POST /v1/workers', () => {
    it('answers 200 with the stored worker, which GET then returns unchanged', async () => {
      const before = Date.now();
      const worker = expectOk(
        await register({
          name: 'mini-1',
          machine_id: 'machine-1',
          resources: { 'org.cirruslabs.tart-vms': 2, 'org.cirruslabs.logical-cores': 8 },
          labels: { rack: 'a' },
          defaultCPU: 4,
          defaultMemory: 8192,
        }),
      );
      expect(worker).toEqual({
        name: 'mini-1',
        machine_id: 'machine-1',
        last_seen: expect.stringMatching(RFC3339),
        scheduling_paused: false,
        resources: { 'org.cirruslabs.tart-vms': 2, 'org.cirruslabs.logical-cores': 8 },
        labels: { rack: 'a' },
        defaultCPU: 4,
        defaultMemory: 8192,
        arch: 'arm64',
        runtime: 'tart',
        createdAt: expect.stringMatching(RFC3339),
      });
      expect(Date.parse(worker.last_seen)).toBeGreaterThanOrEqual(before - 5_000);
      expect(expectOk(await getWorker('mini-1'))).toEqual(worker);
    });

    it('ignores unknown fields', async () => {
      const worker = expectOk(await register({ name: 'tolerant', machine_id: 'm-t', futureField: [1] }));
      expect(worker).not.toHaveProperty('futureField');
    });

    it('lets the same machine register again, keeping scheduling_paused', async () => {
      expectOk(await register({ name: 'returning', machine_id: 'machine-r', labels: { v: '1' } }));
      expectOk(await api.request('PUT', '/v1/workers/returning', { scheduling_paused: true }));

      const again = expectOk(
        await register({
          name: 'returning',
          machine_id: 'machine-r',
          labels: { v: '2' },
          scheduling_paused: false,
        }),
      );
      expect(again).toMatchObject({ scheduling_paused: true, labels: { v: '2' } });
      expect(expectOk(await getWorker('returning')).scheduling_paused).toBe(true);
    });

    it('refuses the name from another machine with 409 and keeps the first registration', async () => {
      const first = expectOk(
        await register({ name: 'contested', machine_id: 'machine-a', labels: { owner: 'a' } }),
      );
      expectError(
        await register({ name: 'contested', machine_id: 'machine-b', labels: { owner: 'b' } }),
        409,
      );
      expect(expectOk(await getWorker('contested'))).toEqual(first);
    });

    it.each<[string, Record<string, unknown>]>([
      ['an invalid name', { name: 'no spaces', machine_id: 'm' }],
      ['no name', { machine_id: 'm' }],
      ['no machine_id', { name: 'wrong-types' }],
      ['a numeric machine_id', { name: 'wrong-types', machine_id: 1 }],
      ['resources as a list', { name: 'wrong-types', machine_id: 'm', resources: ['a'] }],
      ['a string resource count', { name: 'wrong-types', machine_id: 'm', resources: { a: 'two' } }],
      ['labels as a list', { name: 'wrong-types', machine_id: 'm', labels: [1] }],
      ['defaultCPU as a word', { name: 'wrong-types', machine_id: 'm', defaultCPU: 'four' }],
      ['an unknown arch', { name: 'wrong-types', machine_id: 'm', arch: 'ppc' }],
      ['scheduling_paused as a string', { name: 'wrong-types', machine_id: 'm', scheduling_paused: 'yes' }],
    ])('refuses %s with 412 and stores nothing', async (_what, body) => {
      expectError(await register(body), 412);
      expectError(await getWorker('wrong-types'), 404);
    });
  });

  describe('GET /v1/workers', () => {
    it('lists every worker', async () => {
      expectOk(await register({ name: 'listed-a', machine_id: 'm-la' }));
      expectOk(await register({ name: 'listed-b', machine_id: 'm-lb' }));
      const names = expectOk(await api.request<Worker[]>('GET', '/v1/workers')).map((worker) => worker.name);
      expect(names).toEqual(expect.arrayContaining(['listed-a', 'listed-b', 'mini-1']));
    });
  });

  describe('GET /v1/workers/{name}', () => {
    it('answers 404 for a worker that does not exist', async () => {
      expectError(await getWorker('does-not-exist'), 404);
    });
  });

  describe('PUT /v1/workers/{name}', () => {
    it('pauses and resumes scheduling', async () => {
      expectOk(await register({ name: 'pausable', machine_id: 'm-p' }));
      const paused = expectOk(
        await api.request<Worker>('PUT', '/v1/workers/pausable', { scheduling_paused: true }),
      );
      expect(paused.scheduling_paused).toBe(true);
      expect(expectOk(await getWorker('pausable')).scheduling_paused).toBe(true);
      const resumed = expectOk(
        await api.request<Worker>('PUT', '/v1/workers/pausable', { scheduling_paused: false }),
      );
      expect(resumed.scheduling_paused).toBe(false);
    });

    it("takes a heartbeat's last_seen as now, by the controller's clock", async () => {
      const registered = expectOk(await register({ name: 'beating', machine_id: 'm-b' }));
      const beat = expectOk(
        await api.request<Worker>('PUT', '/v1/workers/beating', { last_seen: '2001-01-01T00:00:00Z' }),
      );
      expect(beat.last_seen).toMatch(RFC3339);
      expect(Date.parse(beat.last_seen)).toBeGreaterThanOrEqual(Date.parse(registered.last_seen));
    });

    it('updates resources and labels, leaving what the body leaves out', async () => {
      expectOk(await register({ name: 'growing', machine_id: 'm-g', labels: { a: '1' }, defaultCPU: 2 }));
      const updated = expectOk(
        await api.request<Worker>('PUT', '/v1/workers/growing', {
          resources: { 'org.cirruslabs.tart-vms': 2 },
        }),
      );
      expect(updated).toMatchObject({
        resources: { 'org.cirruslabs.tart-vms': 2 },
        labels: { a: '1' },
        defaultCPU: 2,
      });
    });

    it('refuses a machine_id that is not the registered one with 409 and changes nothing', async () => {
      const worker = expectOk(await register({ name: 'guarded', machine_id: 'm-right' }));
      expectError(
        await api.request('PUT', '/v1/workers/guarded', { machine_id: 'm-wrong', scheduling_paused: true }),
        409,
      );
      expect(expectOk(await getWorker('guarded')).scheduling_paused).toBe(worker.scheduling_paused);
    });

    it('refuses wrongly typed fields with 412', async () => {
      expectOk(await register({ name: 'typed', machine_id: 'm-ty' }));
      expectError(await api.request('PUT', '/v1/workers/typed', { scheduling_paused: 'true' }), 412);
      expectError(await api.request('PUT', '/v1/workers/typed', { labels: ['x'] }), 412);
      expect(expectOk(await getWorker('typed'))).toMatchObject({ scheduling_paused: false, labels: {} });
    });

    it('answers 404 for a worker that does not exist', async () => {
      expectError(await api.request('PUT', '/v1/workers/does-not-exist', { scheduling_paused: true }), 404);
    });
  });

  describe('DELETE /v1/workers/{name}', () => {
    it('deletes the worker, after which the name can be registered from another machine', async () => {
      expectOk(await register({ name: 'retired', machine_id: 'm-old' }));
      expectOk(await api.request('DELETE', '/v1/workers/retired'));
      expectError(await getWorker('retired'), 404);
      const names = expectOk(await api.request<Worker[]>('GET', '/v1/workers')).map((worker) => worker.name);
      expect(names).not.toContain('retired');
      expect(expectOk(await register({ name: 'retired', machine_id: 'm-new' })).machine_id).toBe('m-new');
    });

    it('answers 404 for a worker that does not exist', async () => {
      expectError(await api.request('DELETE', '/v1/workers/does-not-exist'), 404);
    });
  });
});
