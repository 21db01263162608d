import { SubCommand } from 'nest-commander';

import { ClientService } from '../common/client.service.js';
import { vmFields } from '../common/describe.js';
import { print, ReadCommand, type OutputOptions } from '../common/output.js';
import { renderTable } from '../common/table.js';

@SubCommand({ name: 'vm', arguments: '<name>', description: 'Show a VM' })
export class GetVmCommand extends ReadCommand {
  constructor(private readonly clients: ClientService) {
    super();
  }

  async run([name]: string[], options: OutputOptions): Promise<void> {
    const vm = await (await this.clients.open()).getVm(name);
    print(options.output, vm, () => renderTable(vmFields(vm, new Date())));
  }
}
