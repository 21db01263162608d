import { CommandRunner, SubCommand } from 'nest-commander';

import { ClientService } from '../common/client.service.js';

@SubCommand({ name: 'service-account', arguments: '<name>', description: 'Delete a service account' })
export class DeleteServiceAccountCommand extends CommandRunner {
  constructor(private readonly clients: ClientService) {
    super();
  }

  async run([name]: string[]): Promise<void> {
    await (await this.clients.open()).deleteServiceAccount(name);
  }
}
