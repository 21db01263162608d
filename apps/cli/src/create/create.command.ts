import { Command } from 'nest-commander';

import { GroupCommand } from '../common/group-command.js';
import { CreateServiceAccountCommand } from './create-service-account.command.js';
import { CreateVmCommand } from './create-vm.command.js';

@Command({
  name: 'create',
  description: 'Create a resource',
  subCommands: [CreateServiceAccountCommand, CreateVmCommand],
})
export class CreateCommand extends GroupCommand {}
