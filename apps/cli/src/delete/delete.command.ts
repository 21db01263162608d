import { Command } from 'nest-commander';

import { GroupCommand } from '../common/group-command.js';
import { DeleteServiceAccountCommand } from './delete-service-account.command.js';
import { DeleteVmCommand } from './delete-vm.command.js';
import { DeleteWorkerCommand } from './delete-worker.command.js';

@Command({
  name: 'delete',
  description: 'Delete a resource',
  subCommands: [DeleteServiceAccountCommand, DeleteVmCommand, DeleteWorkerCommand],
})
export class DeleteCommand extends GroupCommand {}
