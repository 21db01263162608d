import { CommandRunner, SubCommand } from 'nest-commander';

import { ClientService } from '../common/client.service.js';

@SubCommand({ name: 'worker', arguments: '<name>', description: 'Delete a worker' })
export class DeleteWorkerCommand extends CommandRunner {
  constructor(private readonly clients: ClientService) {
    super();
  }

  async run([name]: string[]): Promise<void> {
    await (await this.clients.open()).deleteWorker(name);
  }
}
