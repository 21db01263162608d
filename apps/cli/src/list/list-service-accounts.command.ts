import { SubCommand } from 'nest-commander';

import { ClientService } from '../common/client.service.js';
import { serviceAccountRows } from '../common/describe.js';
import { print, ReadCommand, type OutputOptions } from '../common/output.js';
import { renderTable } from '../common/table.js';

@SubCommand({ name: 'service-accounts', description: 'List service accounts' })
export class ListServiceAccountsCommand extends ReadCommand {
  constructor(private readonly clients: ClientService) {
    super();
  }

  async run(_args: string[], options: OutputOptions): Promise<void> {
    const accounts = await (await this.clients.open()).listServiceAccounts();
    print(options.output, accounts, () => renderTable(serviceAccountRows(accounts)));
  }
}
