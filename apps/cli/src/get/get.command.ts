import { Command } from 'nest-commander';

import { GroupCommand } from '../common/group-command.js';
import { GetBootstrapTokenCommand } from './get-bootstrap-token.command.js';
import { GetClusterSettingsCommand } from './get-cluster-settings.command.js';
import { GetServiceAccountCommand } from './get-service-account.command.js';
import { GetVmCommand } from './get-vm.command.js';
import { GetWorkerCommand } from './get-worker.command.js';

@Command({
  name: 'get',
  description: 'Show one resource',
  subCommands: [
    GetBootstrapTokenCommand,
    GetClusterSettingsCommand,
    GetServiceAccountCommand,
    GetVmCommand,
    GetWorkerCommand,
  ],
})
export class GetCommand extends GroupCommand {}
