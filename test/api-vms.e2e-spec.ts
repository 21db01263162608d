import { DataSource } from 'typeorm';

import type { ClusterSettings, VM } from '#api';

import {
  IMAGE,
  RFC3339,
  UUID,
  ZERO_TIME,
  createVm,
  expectError,
  expectOk,
  stable,
  vmBody,
} from './support/api-fixtures.js';
import { startTestController, type TestController } from './support/controller-harness.js';

// No worker is registered here but a paused one, so no VM gets placed behind our back. The
// scheduler still writes why a pending VM waits into status_message at any moment: comparisons
// of whole pending VMs leave that field out (stable()).
describe('VMs API', () => {
  let api: TestController;

  beforeAll(async () => {
    api = await startTestController();
  });

  afterAll(async () => {
    await api.close();
  });

  const getVm = (name: string) => api.request<VM>('GET', `/v1/vms/${encodeURIComponent(name)}`);
  const setHostDirPolicies = async (hostDirPolicies: ClusterSettings['hostDirPolicies']) =>
    expectOk(await api.request('PUT', '/v1/cluster-settings', { hostDirPolicies }));

  describe('POST /v1/vms', () => {
    it('answers 200 with the stored object, which GET then returns unchanged', async () => {
      const created = await createVm(api, 'stored', { cpu: 4, memory: 8192, labels: { team: 'ci' } });
      expect(created).toMatchObject({
        name: 'stored',
        image: IMAGE,
        cpu: 4,
        memory: 8192,
        labels: { team: 'ci' },
      });
      expect(stable(expectOk(await getVm('stored')))).toEqual(stable(created));
    });

    it("gives a new VM a uuid, status pending, its local name and Orchard's defaults", async () => {
      const vm = await createVm(api, 'defaults');
      expect(vm.uid).toMatch(UUID);
      expect(vm).toMatchObject({
        status: 'pending',
        status_message: '',
        worker: '',
        os: 'darwin',
        arch: 'arm64',
        runtime: 'tart',
        imagePullPolicy: 'IfNotPresent',
        restart_policy: 'Never',
        restart_count: 0,
        powerState: 'running',
        netSoftnet: false,
        suspendable: false,
        labels: {},
        hostDirs: [],
        conditions: [],
      });
      expect(vm.localName).toBe(`orchard-defaults-${vm.uid}-0`);
    });

    it('gives a darwin VM on tart one org.cirruslabs.tart-vms resource', async () => {
      const vm = await createVm(api, 'darwin-default', { resources: { 'org.cirruslabs.logical-cores': 4 } });
      expect(vm.resources).toEqual({ 'org.cirruslabs.tart-vms': 1, 'org.cirruslabs.logical-cores': 4 });
    });

    it('keeps the org.cirruslabs.tart-vms count a darwin VM names itself', async () => {
      const two = await createVm(api, 'darwin-two', { resources: { 'org.cirruslabs.tart-vms': 2 } });
      expect(two.resources).toEqual({ 'org.cirruslabs.tart-vms': 2 });
      const none = await createVm(api, 'darwin-zero', { resources: { 'org.cirruslabs.tart-vms': 0 } });
      expect(none.resources).toEqual({ 'org.cirruslabs.tart-vms': 0 });
    });

    it('gives a linux VM no org.cirruslabs.tart-vms resource', async () => {
      const vm = await createVm(api, 'linux', { os: 'linux' });
      expect(vm.os).toBe('linux');
      expect(vm.resources).toEqual({});
    });

    it('writes set times as RFC 3339 and unset ones as Go zero time', async () => {
      const before = Date.now();
      const vm = await createVm(api, 'times');
      expect(vm.createdAt).toMatch(RFC3339);
      expect(Date.parse(vm.createdAt)).toBeGreaterThanOrEqual(before - 5_000);
      expect(vm.scheduled_at).toBe(ZERO_TIME);
      expect(vm.started_at).toBe(ZERO_TIME);
      expect(vm.restarted_at).toBe(ZERO_TIME);
    });

    it('ignores unknown fields', async () => {
      const vm = await createVm(api, 'unknown-fields', { someFutureField: { nested: [1, 2] }, another: 'x' });
      expect(vm.name).toBe('unknown-fields');
      expect(vm).not.toHaveProperty('someFutureField');
    });

    it.each([
      ['a space', 'has space'],
      ['a slash', 'a/b'],
      ['a non-ASCII letter', 'vm-ä'],
      ['too many characters', 'x'.repeat(254)],
      ['the empty string', ''],
    ])('refuses a name with %s with 412', async (_what, name) => {
      expectError(await api.request('POST', '/v1/vms', vmBody(name)), 412);
      expect(expectOk(await api.request<VM[]>('GET', '/v1/vms')).map((vm) => vm.name)).not.toContain(name);
    });

    it('accepts a name made of letters, digits and : _ . -', async () => {
      const vm = await createVm(api, 'Ab9:_.-z');
      expect(stable(expectOk(await getVm('Ab9:_.-z')))).toEqual(stable(vm));
    });

    it('refuses a body without a name or without an image with 412', async () => {
      expectError(await api.request('POST', '/v1/vms', { image: IMAGE }), 412);
      expectError(await api.request('POST', '/v1/vms', { name: 'no-image' }), 412);
      expectError(await getVm('no-image'), 404);
    });

    it.each<[string, Record<string, unknown>]>([
      ['a non-string name', { name: 5 }],
      ['a non-string image', { image: 7 }],
      ['cpu as a word', { cpu: 'four' }],
      ['a fractional cpu', { cpu: 1.5 }],
      ['a negative memory', { memory: -1 }],
      ['a huge diskSize', { diskSize: 2 ** 60 }],
      ['labels as an array', { labels: [1] }],
      ['a numeric label value', { labels: { team: 1 } }],
      ['resources as an array', { resources: [] }],
      ['a string resource count', { resources: { 'org.cirruslabs.tart-vms': '1' } }],
      ['an unknown os', { os: 'windows' }],
      ['an unknown arch', { arch: 'x86' }],
      ['an unknown runtime', { runtime: 'docker' }],
      ['an unknown imagePullPolicy', { imagePullPolicy: 'Never' }],
      ['an unknown restart_policy', { restart_policy: 'Always' }],
      ['an unknown powerState', { powerState: 'paused' }],
      ['headless as a string', { headless: 'yes' }],
      ['netSoftnetAllow as a string', { netSoftnetAllow: '10.0.0.0/8' }],
      ['netSoftnetAllow with a non-address', { netSoftnetAllow: ['example.com'] }],
      ['hostDirs as an object', { hostDirs: { name: 'src', path: '/src' } }],
      ['a host dir that is not an object', { hostDirs: [1] }],
      ['a host dir without a name', { hostDirs: [{ path: '/src' }] }],
      ['a relative host dir path', { hostDirs: [{ name: 'src', path: 'src' }] }],
      ['startup_script as a string', { startup_script: 'echo hi' }],
      ['a startup_script env that is not a map', { startup_script: { script_content: 'x', env: ['A=1'] } }],
    ])('refuses %s with 412 and stores nothing', async (_what, fields) => {
      const response = await api.request('POST', '/v1/vms', { ...vmBody('wrong-types'), ...fields });
      expectError(response, 412);
      expectError(await getVm('wrong-types'), 404);
    });

    it('refuses a taken name with 409 and keeps the first VM as it was', async () => {
      const first = await createVm(api, 'taken', { cpu: 2 });
      expectError(await api.request('POST', '/v1/vms', vmBody('taken', { cpu: 8 })), 409);
      expect(stable(expectOk(await getVm('taken')))).toEqual(stable(first));
    });
  });

  describe('host directories', () => {
    const hostDir = (path: string, ro = false) => ({ hostDirs: [{ name: 'dir', path, ro }] });

    it('refuses a host directory with 412 when no cluster policy allows it, storing nothing', async () => {
      await setHostDirPolicies([]);
      expectError(
        await api.request('POST', '/v1/vms', vmBody('hostdir-none', hostDir('/Users/ci/src'))),
        412,
      );
      expectError(await getVm('hostdir-none'), 404);
    });

    it('accepts a host directory inside a policy prefix and stores it', async () => {
      await setHostDirPolicies([{ pathPrefix: '/Users/ci', ro: false }]);
      const vm = await createVm(api, 'hostdir-ok', hostDir('/Users/ci/src'));
      expect(vm.hostDirs).toEqual([{ name: 'dir', path: '/Users/ci/src', ro: false }]);
      await createVm(api, 'hostdir-exact', hostDir('/Users/ci', true));
    });

    it('refuses a read-write mount under a read-only policy and accepts a read-only one', async () => {
      await setHostDirPolicies([{ pathPrefix: '/data', ro: true }]);
      expectError(await api.request('POST', '/v1/vms', vmBody('hostdir-rw', hostDir('/data/cache'))), 412);
      expectError(await getVm('hostdir-rw'), 404);
      const vm = await createVm(api, 'hostdir-ro', hostDir('/data/cache', true));
      expect(vm.hostDirs).toEqual([{ name: 'dir', path: '/data/cache', ro: true }]);
    });

    it.each([
      ['climbs out with ..', '/Users/ci/../admin'],
      ['climbs out deeper down', '/Users/ci/src/../../admin/.ssh'],
      ['climbs above the root', '/Users/ci/../../../../etc'],
      ['shares only a string prefix', '/Users/ci-other'],
    ])('refuses a path that %s', async (_what, path) => {
      await setHostDirPolicies([{ pathPrefix: '/Users/ci', ro: false }]);
      expectError(await api.request('POST', '/v1/vms', vmBody('hostdir-escape', hostDir(path))), 412);
      expectError(await getVm('hostdir-escape'), 404);
    });

    it('refuses the whole VM when one of several host directories is not allowed', async () => {
      await setHostDirPolicies([{ pathPrefix: '/Users/ci', ro: false }]);
      const body = vmBody('hostdir-mixed', {
        hostDirs: [
          { name: 'ok', path: '/Users/ci/ok' },
          { name: 'bad', path: '/etc' },
        ],
      });
      expectError(await api.request('POST', '/v1/vms', body), 412);
      expectError(await getVm('hostdir-mixed'), 404);
    });
  });

  describe('GET /v1/vms', () => {
    it('lists every VM', async () => {
      await createVm(api, 'list-a');
      await createVm(api, 'list-b');
      const names = expectOk(await api.request<VM[]>('GET', '/v1/vms')).map((vm) => vm.name);
      expect(names).toEqual(expect.arrayContaining(['list-a', 'list-b', 'stored', 'defaults']));
    });

    it('filters by worker with ?filter=worker=NAME', async () => {
      // A paused worker takes no VMs from the scheduler; the placement is written the way the
      // scheduler writes it, straight into the vms table.
      expectOk(
        await api.request('POST', '/v1/workers', {
          name: 'filter-worker',
          machine_id: 'm-filter',
          scheduling_paused: true,
        }),
      );
      const placed = await createVm(api, 'placed');
      await createVm(api, 'not-placed');
      await api.controller.app
        .get(DataSource)
        .query('UPDATE vms SET worker = $1 WHERE name = $2', ['filter-worker', 'placed']);

      const onWorker = expectOk(await api.request<VM[]>('GET', '/v1/vms?filter=worker=filter-worker'));
      expect(onWorker.map(stable)).toEqual([stable({ ...placed, worker: 'filter-worker' })]);
      expect(expectOk(await api.request<VM[]>('GET', '/v1/vms?filter=worker=nobody'))).toEqual([]);
    });

    it.each(['name=x', 'worker', 'status=pending'])('refuses the filter %s with 412', async (filter) => {
      expectError(await api.request('GET', `/v1/vms?filter=${encodeURIComponent(filter)}`), 412);
    });
  });

  describe('GET /v1/vms/{name}', () => {
    it('answers 404 for a VM that does not exist', async () => {
      expectError(await getVm('does-not-exist'), 404);
    });
  });

  describe('PUT /v1/vms/{name}', () => {
    it('changes powerState and bumps generation by one', async () => {
      const vm = await createVm(api, 'power');
      const updated = expectOk(await api.request<VM>('PUT', '/v1/vms/power', { powerState: 'stopped' }));
      expect(updated).toMatchObject({ powerState: 'stopped', generation: vm.generation + 1 });
      expect(stable(expectOk(await getVm('power')))).toEqual(stable(updated));
    });

    it('keeps generation on a PUT that changes nothing', async () => {
      const vm = await createVm(api, 'noop', { powerState: 'running', suspendable: true });
      const same = expectOk(
        await api.request<VM>('PUT', '/v1/vms/noop', { powerState: 'running', suspendable: true }),
      );
      expect(same.generation).toBe(vm.generation);
      const empty = expectOk(await api.request<VM>('PUT', '/v1/vms/noop', {}));
      expect(stable(empty)).toEqual(stable(vm));
    });

    it('ignores an attempt to change the image or any other fixed field', async () => {
      const vm = await createVm(api, 'fixed', { cpu: 2, memory: 4096 });
      const answer = expectOk(
        await api.request<VM>('PUT', '/v1/vms/fixed', {
          image: 'ghcr.io/cirruslabs/other:latest',
          cpu: 16,
          memory: 65536,
          os: 'linux',
          labels: { changed: 'yes' },
          status: 'running',
          worker: 'some-worker',
          generation: 99,
          uid: '00000000-0000-0000-0000-000000000000',
        }),
      );
      expect(stable(answer)).toEqual(stable(vm));
      expect(stable(expectOk(await getVm('fixed')))).toEqual(stable(vm));
    });

    it('changes netSoftnet, netSoftnetAllow, netSoftnetBlock and suspendable, one generation each', async () => {
      const vm = await createVm(api, 'softnet');
      const steps: [Record<string, unknown>, Partial<VM>][] = [
        [{ netSoftnet: true }, { netSoftnet: true }],
        [{ netSoftnetAllow: ['10.0.0.0/8'] }, { netSoftnetAllow: ['10.0.0.0/8'] }],
        [{ netSoftnetBlock: ['192.168.1.1'] }, { netSoftnetBlock: ['192.168.1.1'] }],
        [{ suspendable: true }, { suspendable: true }],
      ];
      let generation = vm.generation;
      for (const [body, expected] of steps) {
        const updated = expectOk(await api.request<VM>('PUT', '/v1/vms/softnet', body));
        generation += 1;
        expect(updated).toMatchObject({ ...expected, generation });
      }
      // The same values again change nothing.
      const again = expectOk(
        await api.request<VM>('PUT', '/v1/vms/softnet', {
          netSoftnet: true,
          netSoftnetAllow: ['10.0.0.0/8'],
          netSoftnetBlock: ['192.168.1.1'],
          suspendable: true,
        }),
      );
      expect(again.generation).toBe(generation);
    });

    it.each<[string, Record<string, unknown>]>([
      ['an unknown powerState', { powerState: 'paused' }],
      ['suspendable as a string', { suspendable: 'true' }],
      ['netSoftnetAllow with a non-address', { netSoftnetAllow: ['example.com'] }],
    ])('refuses %s with 412 and changes nothing', async (_what, body) => {
      const before = expectOk(await getVm('stored'));
      expectError(await api.request('PUT', '/v1/vms/stored', body), 412);
      expect(stable(expectOk(await getVm('stored')))).toEqual(stable(before));
    });

    it('answers 404 for a VM that does not exist', async () => {
      expectError(await api.request('PUT', '/v1/vms/does-not-exist', { powerState: 'stopped' }), 404);
    });
  });

  describe('PUT /v1/vms/{name}/state', () => {
    it('records status, status_message, image_fqn, observedGeneration and conditions', async () => {
      const vm = await createVm(api, 'reported');
      const report = {
        status: 'failed',
        status_message: 'tart exited with 1',
        image_fqn: 'ghcr.io/cirruslabs/macos-sonoma-base@sha256:abc',
        observedGeneration: 3,
        conditions: [{ type: 'ready', state: 'false' }],
      };
      const updated = expectOk(await api.request<VM>('PUT', '/v1/vms/reported/state', report));
      expect(updated).toMatchObject(report);
      expect(updated.generation).toBe(vm.generation);
      expect(expectOk(await getVm('reported'))).toEqual(updated);
    });

    it('sets started_at when the VM becomes running and keeps it while it stays running', async () => {
      await createVm(api, 'starting');
      const before = Date.now();
      const running = expectOk(await api.request<VM>('PUT', '/v1/vms/starting/state', { status: 'running' }));
      expect(running.status).toBe('running');
      expect(running.started_at).toMatch(RFC3339);
      expect(running.started_at).not.toBe(ZERO_TIME);
      expect(Date.parse(running.started_at)).toBeGreaterThanOrEqual(before - 5_000);

      const still = expectOk(
        await api.request<VM>('PUT', '/v1/vms/starting/state', {
          status: 'running',
          status_message: 'ok',
          futureField: {},
        }),
      );
      expect(still.started_at).toBe(running.started_at);
    });

    it('leaves fields the report does not mention as they were', async () => {
      // Running, not pending: the scheduler writes its own status_message on pending VMs.
      await createVm(api, 'partial');
      const report = { status: 'running', status_message: 'booting', image_fqn: 'a@b' };
      expectOk(await api.request('PUT', '/v1/vms/partial/state', report));
      const updated = expectOk(
        await api.request<VM>('PUT', '/v1/vms/partial/state', { observedGeneration: 1 }),
      );
      expect(updated).toMatchObject({ ...report, observedGeneration: 1 });
    });

    it.each<[string, Record<string, unknown>]>([
      ['an unknown status', { status: 'exploded' }],
      ['a negative observedGeneration', { observedGeneration: -1 }],
      ['conditions as an object', { conditions: { type: 'ready' } }],
      ['a condition without a type', { conditions: [{ state: 'true' }] }],
      ['a condition with a bad state', { conditions: [{ type: 'ready', state: 'yes' }] }],
    ])('refuses %s with 412 and changes nothing', async (_what, body) => {
      const before = expectOk(await getVm('stored'));
      expectError(await api.request('PUT', '/v1/vms/stored/state', body), 412);
      expect(stable(expectOk(await getVm('stored')))).toEqual(stable(before));
    });

    it('accepts a report that names the VM as it is: its uid, restart_count and worker', async () => {
      const vm = await createVm(api, 'identified');
      const updated = expectOk(
        await api.request<VM>('PUT', '/v1/vms/identified/state', {
          status: 'running',
          uid: vm.uid,
          restart_count: vm.restart_count,
          worker: vm.worker,
        }),
      );
      expect(updated.status).toBe('running');
    });

    it.each<[string, string, (vm: VM) => Record<string, unknown>, RegExp]>([
      [
        'another VM of the same name',
        'recreated',
        () => ({ uid: '00000000-0000-4000-8000-000000000000' }),
        /is not the VM this report is about/,
      ],
      [
        'an earlier restart',
        'restarted',
        (vm) => ({ uid: vm.uid, restart_count: vm.restart_count + 1 }),
        /is at restart 0; this report is about restart 1/,
      ],
      [
        'a worker the VM is not assigned to',
        'reassigned',
        () => ({ worker: 'elsewhere' }),
        /is assigned to no worker, not to "elsewhere"/,
      ],
    ])('refuses a report about %s with 409 and changes nothing', async (_what, name, identity, message) => {
      const vm = await createVm(api, name);
      const response = await api.request('PUT', `/v1/vms/${name}/state`, {
        status: 'failed',
        status_message: 'a stale worker says so',
        ...identity(vm),
      });
      expectError(response, 409);
      expect((response.body as { message: string }).message).toMatch(message);
      expect(stable(expectOk(await getVm(name)))).toEqual(stable(vm));
    });

    it('answers 404 for a VM that does not exist', async () => {
      expectError(await api.request('PUT', '/v1/vms/does-not-exist/state', { status: 'running' }), 404);
    });
  });

  describe('DELETE /v1/vms/{name}', () => {
    it('deletes the VM: GET answers 404 and the list no longer shows it', async () => {
      await createVm(api, 'doomed');
      expect((await api.request('DELETE', '/v1/vms/doomed')).status).toBe(200);
      expectError(await getVm('doomed'), 404);
      expect(expectOk(await api.request<VM[]>('GET', '/v1/vms')).map((vm) => vm.name)).not.toContain(
        'doomed',
      );
    });

    it('frees the name: a VM created again under it is a new VM with a new uid', async () => {
      const first = await createVm(api, 'reborn');
      expectOk(await api.request('DELETE', '/v1/vms/reborn'));
      const second = await createVm(api, 'reborn');
      expect(second.uid).not.toBe(first.uid);
      expect(second.localName).toBe(`orchard-reborn-${second.uid}-0`);
    });

    it('answers 404 for a VM that does not exist', async () => {
      expectError(await api.request('DELETE', '/v1/vms/does-not-exist'), 404);
    });
  });
});
