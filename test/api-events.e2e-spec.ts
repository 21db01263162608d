import { DataSource } from 'typeorm';

import type { VmEvent } from '#api';

import { createVm, expectError, expectOk } from './support/api-fixtures.js';
import { startTestController, type TestController } from './support/controller-harness.js';

describe('VM events API', () => {
  let api: TestController;

  beforeAll(async () => {
    api = await startTestController();
  });

  afterAll(async () => {
    await api.close();
  });

  /** Follows X-Next-Cursor from the first page until it is absent; returns every page. */
  async function allPages(vm: string, limit: number, order?: 'asc' | 'desc'): Promise<VmEvent[][]> {
    const pages: VmEvent[][] = [];
    let cursor: string | null = null;
    do {
      const query = new URLSearchParams({ limit: String(limit) });
      if (order) query.set('order', order);
      if (cursor) query.set('cursor', cursor);
      const response = await api.request<VmEvent[]>('GET', `/v1/vms/${vm}/events?${query.toString()}`);
      pages.push(expectOk(response));
      cursor = response.headers.get('x-next-cursor');
      // A bound, so a cursor that never runs out fails the test instead of hanging it.
      expect(pages.length).toBeLessThanOrEqual(100);
    } while (cursor);
    return pages;
  }

  /**
   * 23 events, posted in three batches out of timestamp order, with runs of equal timestamps:
   * the expected order is by timestamp, then by insertion.
   */
  const batches: VmEvent[][] = [
    [
      { kind: 'log_line', timestamp: 1_700_000_005, payload: 'b0' },
      { kind: 'log_line', timestamp: 1_700_000_001, payload: 'b1' },
      { kind: 'log_line', timestamp: 1_700_000_005, payload: 'b2' },
      { kind: 'log_line', timestamp: 1_700_000_003, payload: 'b3' },
      { kind: 'log_line', timestamp: 1_700_000_005, payload: 'b4' },
      { kind: 'log_line', timestamp: 1_700_000_009, payload: 'b5' },
      { kind: 'log_line', timestamp: 1_700_000_001, payload: 'b6' },
      { kind: 'log_line', timestamp: 1_700_000_005, payload: 'b7' },
    ],
    Array.from({ length: 10 }, (_, i) => ({ kind: 'log_line', timestamp: 1_700_000_005, payload: `c${i}` })),
    [
      { kind: 'status', timestamp: 1_700_000_000, payload: 'd0' },
      { kind: 'log_line', timestamp: 1_700_000_009, payload: 'd1' },
      { kind: 'log_line', timestamp: 1_700_000_004, payload: 'd2' },
      { kind: 'log_line', timestamp: 1_700_000_005, payload: 'd3' },
      { kind: 'log_line', timestamp: 1_700_000_002, payload: 'd4' },
    ],
  ];
  const posted = batches.flat();
  // Array.prototype.sort is stable, so equal timestamps keep insertion order.
  const ascending = [...posted].sort((a, b) => a.timestamp - b.timestamp);
  const descending = [...ascending].reverse();

  describe('paging', () => {
    beforeAll(async () => {
      await createVm(api, 'paged');
      for (const batch of batches) {
        expectOk(await api.request('POST', '/v1/vms/paged/events', batch));
      }
    });

    it.each([1, 2, 3, 5, 7, 22, 23, 24, 1000])(
      'returns every event exactly once, oldest first, with limit=%i',
      async (limit) => {
        const pages = await allPages('paged', limit);
        expect(pages.flat()).toEqual(ascending);
        expect(pages.slice(0, -1).every((page) => page.length === limit)).toBe(true);
        expect(pages[pages.length - 1].length).toBeGreaterThan(0);
      },
    );

    it.each([1, 4, 23, 50])(
      'returns every event exactly once, newest first, with order=desc and limit=%i',
      async (limit) => {
        const pages = await allPages('paged', limit, 'desc');
        expect(pages.flat()).toEqual(descending);
      },
    );

    it('pages in ascending order when order=asc is given', async () => {
      expect((await allPages('paged', 6, 'asc')).flat()).toEqual(ascending);
    });

    it('answers the first 100 events in ascending order without a limit', async () => {
      const response = await api.request<VmEvent[]>('GET', '/v1/vms/paged/events');
      expect(expectOk(response)).toEqual(ascending);
      expect(response.headers.get('x-next-cursor')).toBeNull();
    });

    it('sets no X-Next-Cursor on a page that ends exactly at the last event', async () => {
      const response = await api.request<VmEvent[]>('GET', `/v1/vms/paged/events?limit=${posted.length}`);
      expect(expectOk(response)).toHaveLength(posted.length);
      expect(response.headers.get('x-next-cursor')).toBeNull();
    });

    it('shows events appended after a cursor was issued on the later pages', async () => {
      await createVm(api, 'growing');
      expectOk(
        await api.request('POST', '/v1/vms/growing/events', [
          { kind: 'log_line', timestamp: 10, payload: 'first' },
          { kind: 'log_line', timestamp: 20, payload: 'second' },
        ]),
      );
      const firstPage = await api.request<VmEvent[]>('GET', '/v1/vms/growing/events?limit=1');
      expect(expectOk(firstPage).map((event) => event.payload)).toEqual(['first']);
      expectOk(
        await api.request('POST', '/v1/vms/growing/events', [
          { kind: 'log_line', timestamp: 30, payload: 'third' },
        ]),
      );
      const cursor = firstPage.headers.get('x-next-cursor');
      expect(cursor).not.toBeNull();
      const rest = await api.request<VmEvent[]>('GET', `/v1/vms/growing/events?limit=10&cursor=${cursor}`);
      expect(expectOk(rest).map((event) => event.payload)).toEqual(['second', 'third']);
    });
  });

  describe('POST /v1/vms/{name}/events', () => {
    beforeAll(async () => {
      await createVm(api, 'refusing');
    });

    it('stores kind, timestamp and payload, defaulting kind, and ignores unknown fields', async () => {
      await createVm(api, 'posting');
      expectOk(
        await api.request('POST', '/v1/vms/posting/events', [
          { timestamp: 1, payload: 'no kind', extra: true },
          { kind: 'custom', timestamp: 2, payload: 'with kind' },
        ]),
      );
      expect(expectOk(await api.request('GET', '/v1/vms/posting/events'))).toEqual([
        { kind: 'log_line', timestamp: 1, payload: 'no kind' },
        { kind: 'custom', timestamp: 2, payload: 'with kind' },
      ]);
    });

    it('accepts an empty batch', async () => {
      await createVm(api, 'empty-batch');
      expectOk(await api.request('POST', '/v1/vms/empty-batch/events', []));
      expect(expectOk(await api.request('GET', '/v1/vms/empty-batch/events'))).toEqual([]);
    });

    it.each<[string, unknown, number[]]>([
      ['an object instead of an array', { kind: 'log_line', timestamp: 1, payload: 'x' }, [400, 412]],
      ['an event that is not an object', [1], [400, 412]],
      ['a timestamp as a string', [{ kind: 'log_line', timestamp: '1', payload: 'x' }], [412]],
      ['a fractional timestamp', [{ kind: 'log_line', timestamp: 1.5, payload: 'x' }], [412]],
      ['a missing timestamp', [{ kind: 'log_line', payload: 'x' }], [412]],
      ['a payload that is not a string', [{ kind: 'log_line', timestamp: 1, payload: 7 }], [412]],
    ])('refuses %s and stores none of the batch', async (_what, body, statuses) => {
      const valid = { kind: 'log_line', timestamp: 1, payload: 'valid' };
      const batch = Array.isArray(body) ? [valid, ...(body as unknown[])] : body;
      const response = await api.request('POST', '/v1/vms/refusing/events', batch);
      expect(statuses).toContain(response.status);
      expectError(response, response.status);
      expect(expectOk(await api.request('GET', '/v1/vms/refusing/events'))).toEqual([]);
    });

    it('answers 404 for a VM that does not exist', async () => {
      const batch = [{ kind: 'log_line', timestamp: 1, payload: 'x' }];
      expectError(await api.request('POST', '/v1/vms/does-not-exist/events', batch), 404);
    });
  });

  describe('GET /v1/vms/{name}/events', () => {
    beforeAll(async () => {
      await createVm(api, 'bad-queries');
    });

    it.each(['0', '-1', '1.5', 'ten', '1001'])('refuses limit=%s with 412', async (limit) => {
      expectError(await api.request('GET', `/v1/vms/bad-queries/events?limit=${limit}`), 412);
    });

    it.each(['up', 'ASCENDING', 'random'])('refuses order=%s with 412', async (order) => {
      expectError(await api.request('GET', `/v1/vms/bad-queries/events?order=${order}`), 412);
    });

    it.each([
      ['garbage', 'not-a-cursor!'],
      ['valid base64 of no JSON', Buffer.from('hello').toString('base64url')],
      ['JSON of the wrong shape', Buffer.from('{"t":1}').toString('base64url')],
      ['a non-numeric id', Buffer.from('{"t":1,"i":"1; DROP TABLE vms"}').toString('base64url')],
    ])('refuses a cursor that is %s with 412', async (_what, cursor) => {
      expectError(
        await api.request('GET', `/v1/vms/bad-queries/events?cursor=${encodeURIComponent(cursor)}`),
        412,
      );
    });

    it('answers 404 for a VM that does not exist', async () => {
      expectError(await api.request('GET', '/v1/vms/does-not-exist/events'), 404);
    });
  });

  describe('deleting a VM', () => {
    it('deletes its events: a VM created again under the name starts with none', async () => {
      const vm = await createVm(api, 'ephemeral');
      expectOk(
        await api.request('POST', '/v1/vms/ephemeral/events', [
          { kind: 'log_line', timestamp: 1, payload: 'gone soon' },
          { kind: 'log_line', timestamp: 2, payload: 'gone too' },
        ]),
      );
      const dataSource = api.controller.app.get(DataSource);
      const count = async () => {
        const rows = await dataSource.query<{ n: string }[]>(
          'SELECT count(*) AS n FROM vm_events WHERE vm_uid = $1',
          [vm.uid],
        );
        return Number(rows[0].n);
      };
      expect(await count()).toBe(2);

      expectOk(await api.request('DELETE', '/v1/vms/ephemeral'));
      expectError(await api.request('GET', '/v1/vms/ephemeral/events'), 404);
      expect(await count()).toBe(0);

      await createVm(api, 'ephemeral');
      expect(expectOk(await api.request('GET', '/v1/vms/ephemeral/events'))).toEqual([]);
    });
  });
});
