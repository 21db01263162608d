import { SubCommand } from 'nest-commander';

import { ClientService } from '../common/client.service.js';
import { clusterSettingsFields } from '../common/describe.js';
import { print, ReadCommand, type OutputOptions } from '../common/output.js';
import { renderTable } from '../common/table.js';

@SubCommand({ name: 'cluster-settings', description: 'Show the cluster settings' })
export class GetClusterSettingsCommand extends ReadCommand {
  constructor(private readonly clients: ClientService) {
    super();
  }

  async run(_args: string[], options: OutputOptions): Promise<void> {
    const settings = await (await this.clients.open()).getClusterSettings();
    print(options.output, settings, () => renderTable(clusterSettingsFields(settings)));
  }
}
