import { SubCommand } from 'nest-commander';

import { loadContexts } from '#client';

import { ClientService } from '../common/client.service.js';
import { print, ReadCommand, type OutputOptions } from '../common/output.js';
import { orNone, renderTable } from '../common/table.js';

@SubCommand({ name: 'list', description: 'List contexts' })
export class ContextListCommand extends ReadCommand {
  constructor(private readonly clients: ClientService) {
    super();
  }

  async run(_args: string[], options: OutputOptions): Promise<void> {
    const { defaultContext, contexts } = await loadContexts(this.clients.config.contextsFile);
    // Tokens stay in the file: listing contexts is not a way to leak them.
    const list = Object.keys(contexts)
      .sort()
      .map((name) => ({
        name,
        url: contexts[name].url,
        serviceAccountName: contexts[name].serviceAccountName ?? '',
        default: name === defaultContext,
      }));
    print(options.output, list, () =>
      renderTable([
        ['Name', 'URL', 'Service account', 'Default'],
        ...list.map((c) => [c.name, c.url, orNone(c.serviceAccountName), c.default ? '*' : '']),
      ]),
    );
  }
}
