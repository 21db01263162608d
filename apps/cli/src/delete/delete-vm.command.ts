import { CommandRunner, SubCommand } from 'nest-commander';

import { ClientService } from '../common/client.service.js';

@SubCommand({ name: 'vm', arguments: '<name>', description: 'Delete a VM' })
export class DeleteVmCommand extends CommandRunner {
  constructor(private readonly clients: ClientService) {
    super();
  }

  async run([name]: string[]): Promise<void> {
    await (await this.clients.open()).deleteVm(name);
  }
}
