import { once } from 'node:events';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

import { Subject } from 'rxjs';

import type { VM, WatchEvent } from '#api';

import { ClusterEvents } from '../apps/controller/src/common/cluster-events.js';
import { createAccount, createVm, expectError, expectOk, stable, watchVm } from './support/api-fixtures.js';
import { startTestController, type TestController } from './support/controller-harness.js';

// No worker is registered in this file, so no VM gets placed; the scheduler may still send
// MODIFIED lines of its own (status_message of pending VMs), which the tests allow for.
describe('GET /v1/vms/{name}?watch=true', () => {
  let api: TestController;
  /** Server-side responses of watch requests, in arrival order. */
  const watchResponses: ServerResponse[] = [];

  beforeAll(async () => {
    api = await startTestController();
    const server: Server = api.controller.app.getHttpServer();
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      if (request.url?.includes('watch=')) watchResponses.push(response);
    });
  });

  afterAll(async () => {
    await api.close();
  });

  /** How many subscribers the in-process change feed has right now. */
  function feedObservers(): number {
    const subject: unknown = Reflect.get(api.controller.app.get(ClusterEvents), 'subject');
    if (!(subject instanceof Subject))
      throw new Error('ClusterEvents no longer keeps its Subject in `subject`');
    return subject.observers.length;
  }

  /**
   * Lines a watch may carry between the ones a test waits for: the scheduler's own MODIFIED
   * (it writes why a pending VM waits into status_message), always about the watched VM.
   */
  function expectOnlySchedulerNotes(skipped: readonly WatchEvent<VM>[], name: string): void {
    expect(skipped.map((line) => ({ type: line.type, name: line.object.name }))).toEqual(
      skipped.map(() => ({ type: 'MODIFIED', name })),
    );
  }

  it('streams ndjson: ADDED on create, MODIFIED on PUT and on PUT /state, DELETED on delete', async () => {
    const watch = await watchVm(api, 'lifecycle');
    try {
      expect(watch.status).toBe(200);
      expect(watch.headers['content-type']).toMatch(/^application\/x-ndjson/);

      const created = await createVm(api, 'lifecycle');
      // Nothing can precede the ADDED: the VM did not exist.
      expect(await watch.next()).toEqual({ type: 'ADDED', object: created });

      const updated = expectOk(await api.request<VM>('PUT', '/v1/vms/lifecycle', { powerState: 'stopped' }));
      const modified = await watch.until((line) => line.object.powerState === 'stopped');
      expect(modified.line.type).toBe('MODIFIED');
      expect(stable(modified.line.object)).toEqual(stable(updated));
      expectOnlySchedulerNotes(modified.skipped, 'lifecycle');

      const reported = expectOk(
        await api.request<VM>('PUT', '/v1/vms/lifecycle/state', { status: 'running', status_message: 'up' }),
      );
      const running = await watch.until((line) => line.object.status === 'running');
      expect(running.line).toEqual({ type: 'MODIFIED', object: reported });
      expectOnlySchedulerNotes(running.skipped, 'lifecycle');

      expectOk(await api.request('DELETE', '/v1/vms/lifecycle'));
      const deleted = await watch.until((line) => line.type === 'DELETED');
      expect(deleted.line.object).toMatchObject({ name: 'lifecycle', uid: created.uid });
      expectOnlySchedulerNotes(deleted.skipped, 'lifecycle');
    } finally {
      watch.close();
    }
  });

  it('starts a watch on an existing VM with ADDED carrying the current object', async () => {
    await createVm(api, 'existing');
    const current = expectOk(await api.request<VM>('PUT', '/v1/vms/existing', { suspendable: true }));
    const watch = await watchVm(api, 'existing');
    try {
      const first = await watch.next();
      expect(first.type).toBe('ADDED');
      expect(stable(first.object)).toEqual(stable(current));
      const updated = expectOk(await api.request<VM>('PUT', '/v1/vms/existing', { powerState: 'suspended' }));
      const modified = await watch.until((line) => line.object.powerState === 'suspended');
      expect(modified.line.type).toBe('MODIFIED');
      expect(stable(modified.line.object)).toEqual(stable(updated));
    } finally {
      watch.close();
    }
  });

  it('does not deliver the changes of other VMs', async () => {
    await createVm(api, 'watched');
    const watch = await watchVm(api, 'watched');
    try {
      expect((await watch.next()).type).toBe('ADDED');
      // Changes to other VMs, among them one whose name extends the watched one's...
      await createVm(api, 'watched-too');
      expectOk(await api.request('PUT', '/v1/vms/watched-too', { powerState: 'stopped' }));
      await createVm(api, 'other');
      expectOk(await api.request('DELETE', '/v1/vms/other'));
      // ...then one to the watched VM: every line up to its own is about the watched VM.
      expectOk(await api.request<VM>('PUT', '/v1/vms/watched', { powerState: 'stopped' }));
      const modified = await watch.until((line) => line.object.powerState === 'stopped');
      expect(modified.line.object.name).toBe('watched');
      expectOnlySchedulerNotes(modified.skipped, 'watched');
    } finally {
      watch.close();
    }
  });

  it('serves several watchers of one VM, each with every change', async () => {
    const first = await watchVm(api, 'shared');
    const second = await watchVm(api, 'shared');
    try {
      const created = await createVm(api, 'shared');
      expect(await first.next()).toEqual({ type: 'ADDED', object: created });
      expect(await second.next()).toEqual({ type: 'ADDED', object: created });
    } finally {
      first.close();
      second.close();
    }
  });

  it('ends the server side when the client goes away, leaving no subscriber behind', async () => {
    // Earlier tests closed their watches too; wait until the server saw every one of them go.
    await Promise.all(
      watchResponses.filter((response) => !response.closed).map((response) => once(response, 'close')),
    );
    const baseline = feedObservers();
    const seen = watchResponses.length;
    const watch = await watchVm(api, 'leak');
    const serverResponse = watchResponses[seen];
    expect(serverResponse).toBeDefined();
    expect(feedObservers()).toBe(baseline + 1);

    const closed = once(serverResponse, 'close');
    watch.close();
    await closed;
    expect(feedObservers()).toBe(baseline);

    // The feed still works for the next watcher.
    const next = await watchVm(api, 'leak');
    try {
      const created = await createVm(api, 'leak');
      expect(await next.next()).toEqual({ type: 'ADDED', object: created });
    } finally {
      next.close();
    }
  });

  it('answers 401 without credentials and 403 without compute:read, before streaming anything', async () => {
    const noCredentials = await api.request('GET', '/v1/vms/anything?watch=true', undefined, null);
    expectError(noCredentials, 401);
    const adminOnly = await createAccount(api, 'watch-admin-only', ['admin:read', 'admin:write']);
    expectError(await api.request('GET', '/v1/vms/anything?watch=true', undefined, adminOnly), 403);
  });

  it('streams to an account holding only compute:read', async () => {
    const reader = await createAccount(api, 'watch-reader', ['compute:read']);
    const watch = await watchVm(api, 'read-only-watch', reader);
    try {
      expect(watch.status).toBe(200);
      const created = await createVm(api, 'read-only-watch');
      expect(await watch.next()).toEqual({ type: 'ADDED', object: created });
    } finally {
      watch.close();
    }
  });
});
