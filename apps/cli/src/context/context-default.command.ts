import { CommandRunner, SubCommand } from 'nest-commander';

import { loadContexts, saveContexts, setDefaultContext } from '#client';

import { ClientService } from '../common/client.service.js';

@SubCommand({ name: 'default', arguments: '<name>', description: 'Make a context the default' })
export class ContextDefaultCommand extends CommandRunner {
  constructor(private readonly clients: ClientService) {
    super();
  }

  async run([name]: string[]): Promise<void> {
    const file = this.clients.config.contextsFile;
    await saveContexts(file, setDefaultContext(await loadContexts(file), name));
  }
}
