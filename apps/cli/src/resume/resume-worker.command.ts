import { CommandRunner, SubCommand } from 'nest-commander';

import { ClientService } from '../common/client.service.js';

@SubCommand({ name: 'worker', arguments: '<name>', description: 'Schedule VMs on a paused worker again' })
export class ResumeWorkerCommand extends CommandRunner {
  constructor(private readonly clients: ClientService) {
    super();
  }

  async run([name]: string[]): Promise<void> {
    await (await this.clients.open()).updateWorker(name, { scheduling_paused: false });
  }
}
