import { SubCommand } from 'nest-commander';

import { ClientService } from '../common/client.service.js';
import { serviceAccountFields } from '../common/describe.js';
import { print, ReadCommand, type OutputOptions } from '../common/output.js';
import { renderTable } from '../common/table.js';

@SubCommand({ name: 'service-account', arguments: '<name>', description: 'Show a service account' })
export class GetServiceAccountCommand extends ReadCommand {
  constructor(private readonly clients: ClientService) {
    super();
  }

  async run([name]: string[], options: OutputOptions): Promise<void> {
    const account = await (await this.clients.open()).getServiceAccount(name);
    print(options.output, account, () => renderTable(serviceAccountFields(account, new Date())));
  }
}
