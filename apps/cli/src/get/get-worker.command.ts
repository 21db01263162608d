import { SubCommand } from 'nest-commander';

import { ClientService } from '../common/client.service.js';
import { workerFields } from '../common/describe.js';
import { print, ReadCommand, type OutputOptions } from '../common/output.js';
import { renderTable } from '../common/table.js';

@SubCommand({ name: 'worker', arguments: '<name>', description: 'Show a worker' })
export class GetWorkerCommand extends ReadCommand {
  constructor(private readonly clients: ClientService) {
    super();
  }

  async run([name]: string[], options: OutputOptions): Promise<void> {
    const worker = await (await this.clients.open()).getWorker(name);
    print(options.output, worker, () => renderTable(workerFields(worker, new Date())));
  }
}
