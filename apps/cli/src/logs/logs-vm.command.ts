import { Option, SubCommand } from 'nest-commander';

import { EVENTS_MAX_LIMIT, type VmEvent } from '#api';
import type { OrchardClient } from '#client';

import { ClientService } from '../common/client.service.js';
import { UsageError } from '../common/errors.js';
import { parseCount } from '../common/flags.js';
import { print, ReadCommand, type OutputOptions } from '../common/output.js';

interface LogsVmOptions extends OutputOptions {
  tail?: number;
}

@SubCommand({ name: 'vm', arguments: '<name>', description: "Show a VM's logs, oldest first" })
export class LogsVmCommand extends ReadCommand {
  constructor(private readonly clients: ClientService) {
    super();
  }

  @Option({ flags: '--tail <count>', description: 'show only the last <count> lines' })
  parseTail(text: string): number {
    const count = parseCount('--tail', text);
    if (count === 0) throw new UsageError('--tail must be at least 1');
    return count;
  }

  async run([name]: string[], options: LogsVmOptions): Promise<void> {
    const client = await this.clients.open();
    const events = options.tail
      ? await lastEvents(client, name, options.tail)
      : await allEvents(client, name);
    print(options.output, events, () => events.map((event) => `${event.payload}\n`).join(''));
  }
}

async function allEvents(client: OrchardClient, name: string): Promise<VmEvent[]> {
  const events: VmEvent[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listEvents(name, { limit: EVENTS_MAX_LIMIT, order: 'asc', cursor });
    events.push(...page.events);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return events;
}

/** The newest `count`, read newest first (so only what is shown is fetched), shown oldest first. */
async function lastEvents(client: OrchardClient, name: string, count: number): Promise<VmEvent[]> {
  const events: VmEvent[] = [];
  let cursor: string | undefined;
  do {
    const limit = Math.min(EVENTS_MAX_LIMIT, count - events.length);
    const page = await client.listEvents(name, { limit, order: 'desc', cursor });
    events.push(...page.events);
    cursor = page.nextCursor ?? undefined;
  } while (cursor && events.length < count);
  return events.reverse();
}
