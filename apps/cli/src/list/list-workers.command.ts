import { SubCommand } from 'nest-commander';

import { ClientService } from '../common/client.service.js';
import { workerRows } from '../common/describe.js';
import { print, ReadCommand, type OutputOptions } from '../common/output.js';
import { renderTable } from '../common/table.js';

@SubCommand({ name: 'workers', description: 'List workers' })
export class ListWorkersCommand extends ReadCommand {
  constructor(private readonly clients: ClientService) {
    super();
  }

  async run(_args: string[], options: OutputOptions): Promise<void> {
    const workers = await (await this.clients.open()).listWorkers();
    print(options.output, workers, () => renderTable(workerRows(workers, new Date())));
  }
}
