import { Inject } from '@nestjs/common';
import { SubCommand } from 'nest-commander';

import type { Environment } from '#client';

import { PROCESS_ENV } from '../cli-config.js';
import { ClientService } from '../common/client.service.js';
import type { TunnelDialer } from '../common/tunnel.js';
import { vmCredentials } from '../ssh/credentials.js';
import { VncRunner, type VncOptions } from './vnc-runner.js';

@SubCommand({
  name: 'vm',
  arguments: '<name>',
  description: "Open a VNC session with a VM through the controller (the VM's credentials, else admin/admin)",
})
export class VncVmCommand extends VncRunner {
  protected readonly kind = 'vm';

  constructor(clients: ClientService, @Inject(PROCESS_ENV) env: Environment) {
    super(clients, env);
  }

  protected credentials(dialer: TunnelDialer, name: string, options: VncOptions) {
    return vmCredentials(dialer.client, name, options);
  }
}
