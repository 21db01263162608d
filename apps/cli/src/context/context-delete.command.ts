import { CommandRunner, SubCommand } from 'nest-commander';

import { deleteContext, loadContexts, saveContexts } from '#client';

import { ClientService } from '../common/client.service.js';

@SubCommand({ name: 'delete', arguments: '<name>', description: 'Delete a context' })
export class ContextDeleteCommand extends CommandRunner {
  constructor(private readonly clients: ClientService) {
    super();
  }

  async run([name]: string[]): Promise<void> {
    const file = this.clients.config.contextsFile;
    await saveContexts(file, deleteContext(await loadContexts(file), name));
  }
}
