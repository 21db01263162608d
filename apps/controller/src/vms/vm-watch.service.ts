import { Injectable } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { filter } from 'rxjs';

import type { VM, WatchEvent } from '#api';

import { ClusterEvents } from '../common/cluster-events.js';
import { VmsService } from './vms.service.js';

/**
 * GET /v1/vms/{name}?watch=true: newline-delimited JSON, one WatchEvent per line. The current
 * object (if any) comes first as ADDED, then every committed change to a VM of that name, for
 * as long as the client stays connected. Works for a VM that does not exist yet.
 */
@Injectable()
export class VmWatchService {
  constructor(
    private readonly vms: VmsService,
    private readonly events: ClusterEvents,
  ) {}

  async stream(name: string, reply: FastifyReply): Promise<void> {
    // Subscribe before reading, buffering, so no change between the read and the
    // subscription is lost; a change seen twice is harmless, a change missed is not.
    const buffered: WatchEvent<VM>[] = [];
    let live = false;
    const raw = reply.raw;
    const write = (event: WatchEvent<VM>) => raw.write(JSON.stringify(event) + '\n');
    const subscription = this.events.events
      .pipe(filter((event) => event.kind === 'vm' && event.change.vm.name === name))
      .subscribe((event) => {
        if (event.kind !== 'vm') return;
        const line = { type: event.change.type, object: event.change.vm };
        if (live) write(line);
        else buffered.push(line);
      });
    raw.on('close', () => subscription.unsubscribe());
    // A client that went away while the guard was still checking its credentials closed the
    // response before the listener above existed: it will never fire, so end here.
    if (raw.closed) {
      subscription.unsubscribe();
      reply.hijack();
      return;
    }

    let current: VM | null;
    try {
      current = await this.vms.findByName(name);
    } catch (error) {
      subscription.unsubscribe();
      throw error;
    }
    reply.hijack();
    raw.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    // Node holds the headers back until the first write, and a VM that does not exist yet has
    // nothing to write: send them now so the client knows the watch is established.
    raw.flushHeaders();
    if (current) write({ type: 'ADDED', object: current });
    for (const line of buffered) write(line);
    live = true;
  }
}
