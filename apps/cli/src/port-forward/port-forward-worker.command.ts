import { SubCommand } from 'nest-commander';

import { ClientService } from '../common/client.service.js';
import { PortForwardRunner } from './port-forward-runner.js';

@SubCommand({
  name: 'worker',
  arguments: '<name> [port-spec]',
  description:
    "Forward 127.0.0.1:LOCAL to a port on a worker host's loopback: [LOCAL:]REMOTE; with --stdio, REMOTE over stdin/stdout",
})
export class PortForwardWorkerCommand extends PortForwardRunner {
  protected readonly kind = 'worker';

  constructor(clients: ClientService) {
    super(clients);
  }
}
