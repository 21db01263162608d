import { SubCommand } from 'nest-commander';

import { ClientService } from '../common/client.service.js';
import { PortForwardRunner } from './port-forward-runner.js';

@SubCommand({
  name: 'vm',
  arguments: '<name> [port-spec]',
  description:
    "Forward 127.0.0.1:LOCAL to a VM's port: [LOCAL:]REMOTE (LOCAL 0, or left out, picks a free port); with --stdio, REMOTE over stdin/stdout",
})
export class PortForwardVmCommand extends PortForwardRunner {
  protected readonly kind = 'vm';

  constructor(clients: ClientService) {
    super(clients);
  }
}
