import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

import { EVENTS_DEFAULT_LIMIT, EVENTS_MAX_LIMIT, invalid, notFound, type VmEvent } from '#api';

import { EventEntity } from '../database/event.entity.js';
import { VmEntity } from '../database/vm.entity.js';

export interface EventsPageQuery {
  limit?: string;
  order?: string;
  cursor?: string;
}

export interface EventsPage {
  events: VmEvent[];
  nextCursor: string | null;
}

interface Cursor {
  t: number;
  i: string;
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function decodeCursor(text: string): Cursor {
  try {
    const cursor = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Cursor;
    if (Number.isSafeInteger(cursor.t) && typeof cursor.i === 'string' && /^\d+$/.test(cursor.i))
      return cursor;
  } catch {
    // fall through
  }
  throw invalid('cursor is not one this controller issued');
}

@Injectable()
export class EventsService {
  constructor(private readonly dataSource: DataSource) {}

  async append(vmName: string, events: VmEvent[]): Promise<void> {
    const vm = await this.findVm(vmName);
    if (events.length === 0) return;
    await this.dataSource.getRepository(EventEntity).insert(
      events.map((event) => ({
        vmUid: vm.uid,
        kind: event.kind,
        timestamp: event.timestamp,
        payload: event.payload,
      })),
    );
  }

  /** One page in (timestamp, insertion) order; nextCursor is set when more events remain. */
  async page(vmName: string, query: EventsPageQuery): Promise<EventsPage> {
    const limit =
      query.limit === undefined || query.limit === '' ? EVENTS_DEFAULT_LIMIT : Number(query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > EVENTS_MAX_LIMIT) {
      throw invalid(`limit must be an integer from 1 to ${EVENTS_MAX_LIMIT}`);
    }
    const order = query.order === undefined || query.order === '' ? 'asc' : query.order;
    if (order !== 'asc' && order !== 'desc') throw invalid('order must be asc or desc');
    const cursor = query.cursor ? decodeCursor(query.cursor) : null;
    const vm = await this.findVm(vmName);

    const builder = this.dataSource
      .getRepository(EventEntity)
      .createQueryBuilder('e')
      .where('e.vm_uid = :uid', { uid: vm.uid });
    if (cursor) {
      builder.andWhere(`(e.timestamp, e.id) ${order === 'asc' ? '>' : '<'} (:t, :i)`, {
        t: cursor.t,
        i: cursor.i,
      });
    }
    const direction = order === 'asc' ? 'ASC' : 'DESC';
    const rows = await builder
      .orderBy('e.timestamp', direction)
      .addOrderBy('e.id', direction)
      .limit(limit + 1)
      .getMany();
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    const last = page[page.length - 1];
    return {
      events: page.map((row) => ({ kind: row.kind, timestamp: row.timestamp, payload: row.payload })),
      nextCursor: more && last ? encodeCursor({ t: last.timestamp, i: last.id }) : null,
    };
  }

  private async findVm(name: string): Promise<VmEntity> {
    const vm = await this.dataSource
      .getRepository(VmEntity)
      .findOne({ where: { name }, select: { uid: true } });
    if (!vm) throw notFound(`VM "${name}" not found`);
    return vm;
  }
}
