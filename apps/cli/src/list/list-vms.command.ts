import { SubCommand } from 'nest-commander';

import { ClientService } from '../common/client.service.js';
import { vmRows } from '../common/describe.js';
import { print, ReadCommand, type OutputOptions } from '../common/output.js';
import { renderTable } from '../common/table.js';

@SubCommand({ name: 'vms', description: 'List VMs' })
export class ListVmsCommand extends ReadCommand {
  constructor(private readonly clients: ClientService) {
    super();
  }

  async run(_args: string[], options: OutputOptions): Promise<void> {
    const vms = await (await this.clients.open()).listVms();
    print(options.output, vms, () => renderTable(vmRows(vms, new Date())));
  }
}
