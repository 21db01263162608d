import type { VM, WatchEvent } from '#api';
import { ApiError, ClientConfigError, ConnectionError, OrchardClient } from '#client';

import { unreachableUrl } from './support/cli-harness.js';
import { startTestController, type TestController } from './support/controller-harness.js';

const IMAGE = 'ghcr.io/cirruslabs/macos-tahoe-base:latest';

describe(OrchardClient.name, () => {
  let api: TestController;
  let client: OrchardClient;

  beforeAll(async () => {
    api = await startTestController();
    client = new OrchardClient({
      url: api.url,
      serviceAccountName: api.admin.name,
      serviceAccountToken: api.admin.token,
    });
  });

  afterAll(async () => {
    await api.close();
  });

  it('authenticates with HTTP Basic and returns the resources as the controller sends them', async () => {
    const created = await client.createVm({ name: 'typed', image: IMAGE, cpu: 2, labels: { pool: 'a' } });

    // The scheduler may note why the VM is pending between the two calls: compare the rest.
    expect(await client.getVm('typed')).toEqual({ ...created, status_message: expect.any(String) });
    expect(created).toMatchObject({
      name: 'typed',
      image: IMAGE,
      cpu: 2,
      labels: { pool: 'a' },
      status: 'pending',
    });
    expect((await client.listVms()).map((vm) => vm.name)).toContain('typed');
    expect(await client.controllerInfo()).toMatchObject({ version: expect.any(String) });
  });

  it("throws ApiError with the status and the controller's message", async () => {
    const error = await client.getVm('nope').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 404, message: 'VM "nope" not found' });
  });

  it('throws ApiError 401 for a client without credentials', async () => {
    const anonymous = new OrchardClient({ url: api.url });

    await expect(anonymous.listVms()).rejects.toMatchObject({ name: 'ApiError', status: 401 });
  });

  it('throws ConnectionError naming the URL when nothing listens there', async () => {
    const url = await unreachableUrl();
    const error = await new OrchardClient({ url }).listVms().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ConnectionError);
    expect(error).toMatchObject({
      url,
      message: `cannot reach the controller at ${url}: connection refused (ECONNREFUSED)`,
    });
  });

  it('refuses a URL that is not http or https before sending anything', () => {
    expect(() => new OrchardClient({ url: 'ftp://controller' })).toThrow(ClientConfigError);
    expect(() => new OrchardClient({ url: 'controller:6120' })).toThrow(ClientConfigError);
  });

  it('reaches a controller served under an API prefix through a base URL with that path', async () => {
    const prefixed = await startTestController({ apiPrefix: '/orchard' });
    try {
      const credentials = {
        serviceAccountName: prefixed.admin.name,
        serviceAccountToken: prefixed.admin.token,
      };
      const withPrefix = new OrchardClient({ url: `${prefixed.url}/orchard/`, ...credentials });
      const withoutPrefix = new OrchardClient({ url: prefixed.url, ...credentials });

      await expect(withPrefix.listVms()).resolves.toEqual([]);
      await expect(withoutPrefix.listVms()).rejects.toMatchObject({ status: 404 });
    } finally {
      await prefixed.close();
    }
  });

  it('lists only the VMs of one worker when filtered by worker', async () => {
    await expect(client.listVms({ worker: 'no-such-worker' })).resolves.toEqual([]);
  });

  describe('watchVm', () => {
    it('yields the current VM as ADDED, then each change as MODIFIED, then DELETED', async () => {
      await client.createVm({ name: 'watched', image: IMAGE });
      const watch = client.watchVm('watched');
      const next = async () => (await watch.next()).value as WatchEvent<VM>;
      // The scheduler may change the VM too (its status_message): skip to the change we made.
      const until = async (done: (event: WatchEvent<VM>) => boolean) => {
        for (;;) {
          const event = await next();
          if (done(event)) return event;
        }
      };

      const added = await next();
      await client.updateVmState('watched', { status: 'running', status_message: 'booted' });
      const modified = await until((event) => event.object.status === 'running');
      await client.deleteVm('watched');
      const deleted = await until((event) => event.type === 'DELETED');
      await watch.return(undefined);

      expect(added).toMatchObject({ type: 'ADDED', object: { name: 'watched', status: 'pending' } });
      expect(modified).toMatchObject({ type: 'MODIFIED', object: { status_message: 'booted' } });
      expect(deleted).toMatchObject({ type: 'DELETED', object: { name: 'watched' } });
    });

    it('follows a VM that does not exist yet, from its creation', async () => {
      const watch = client.watchVm('later');
      const first = watch.next();
      await client.createVm({ name: 'later', image: IMAGE });

      expect((await first).value).toMatchObject({ type: 'ADDED', object: { name: 'later' } });
      await watch.return(undefined);
    });

    it('stops with an AbortError when its signal aborts', async () => {
      const abort = new AbortController();
      const watch = client.watchVm('quiet', abort.signal);
      const pending = watch.next();
      abort.abort();

      await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    });
  });

  describe('events', () => {
    beforeAll(async () => {
      await client.createVm({ name: 'logged', image: IMAGE });
      await client.appendEvents(
        'logged',
        [0, 1, 2, 3, 4].map((i) => ({
          kind: 'log_line',
          timestamp: 1_700_000_000 + i,
          payload: `line ${i}`,
        })),
      );
    });

    it('pages through events with the cursor of the X-Next-Cursor header', async () => {
      const first = await client.listEvents('logged', { limit: 2 });
      const second = await client.listEvents('logged', { limit: 2, cursor: first.nextCursor ?? undefined });
      const third = await client.listEvents('logged', { limit: 2, cursor: second.nextCursor ?? undefined });

      expect([first, second, third].map((page) => page.events.map((event) => event.payload))).toEqual([
        ['line 0', 'line 1'],
        ['line 2', 'line 3'],
        ['line 4'],
      ]);
      expect(first.nextCursor).toEqual(expect.any(String));
      expect(third.nextCursor).toBeNull();
    });

    it('lists newest first with order desc', async () => {
      const page = await client.listEvents('logged', { limit: 2, order: 'desc' });

      expect(page.events.map((event) => event.payload)).toEqual(['line 4', 'line 3']);
    });
  });
});
