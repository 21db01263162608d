import { Inject } from '@nestjs/common';
import { SubCommand } from 'nest-commander';

import type { Environment } from '#client';

import { PROCESS_ENV } from '../cli-config.js';
import { ClientService } from '../common/client.service.js';
import type { TunnelDialer } from '../common/tunnel.js';
import { VncRunner, type VncOptions } from './vnc-runner.js';

@SubCommand({
  name: 'worker',
  arguments: '<name>',
  description: "Open a VNC session with a worker host through the controller (the Mac's own login)",
})
export class VncWorkerCommand extends VncRunner {
  protected readonly kind = 'worker';

  constructor(clients: ClientService, @Inject(PROCESS_ENV) env: Environment) {
    super(clients, env);
  }

  /** A worker host has no credentials on the controller: only what the flags give, as Orchard. */
  protected async credentials(dialer: TunnelDialer, name: string, options: VncOptions) {
    await dialer.checkExists('worker', name);
    return { username: options.username, password: options.password };
  }
}
