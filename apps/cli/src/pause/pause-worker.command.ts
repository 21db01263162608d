import { setTimeout as delay } from 'node:timers/promises';

import { CommandRunner, Option, SubCommand } from 'nest-commander';

import type { OrchardClient } from '#client';

import { ClientService } from '../common/client.service.js';
import { CommandFailedError } from '../common/errors.js';
import { parseCount } from '../common/flags.js';

interface PauseWorkerOptions {
  wait?: number;
}

/** Orchard polls once a second too; there is no watch of a worker's VMs to follow. */
const POLL_INTERVAL_MS = 1000;

@SubCommand({
  name: 'worker',
  arguments: '<name>',
  description: 'Stop scheduling new VMs on a worker (its running VMs keep running)',
})
export class PauseWorkerCommand extends CommandRunner {
  constructor(private readonly clients: ClientService) {
    super();
  }

  @Option({
    flags: '--wait <seconds>',
    description: 'then wait up to this many seconds until none of its VMs is pending or running',
  })
  parseWait(text: string): number {
    return parseCount('--wait', text);
  }

  async run([name]: string[], options: PauseWorkerOptions): Promise<void> {
    const client = await this.clients.open();
    await client.updateWorker(name, { scheduling_paused: true });
    if (options.wait) await waitUntilIdle(client, name, options.wait * 1000);
  }
}

async function waitUntilIdle(client: OrchardClient, worker: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const busy = (await client.listVms({ worker })).filter(
      (vm) => vm.status === 'pending' || vm.status === 'running',
    );
    if (busy.length === 0) return;
    if (Date.now() >= deadline) {
      throw new CommandFailedError(
        `worker "${worker}" still has ${busy.length} pending or running VM(s) after ${timeoutMs / 1000}s: ` +
          busy.map((vm) => vm.name).join(', '),
      );
    }
    await delay(Math.min(POLL_INTERVAL_MS, Math.max(0, deadline - Date.now())));
  }
}
