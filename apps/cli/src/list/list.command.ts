import { Command } from 'nest-commander';

import { GroupCommand } from '../common/group-command.js';
import { ListServiceAccountsCommand } from './list-service-accounts.command.js';
import { ListVmsCommand } from './list-vms.command.js';
import { ListWorkersCommand } from './list-workers.command.js';

@Command({
  name: 'list',
  description: 'List resources',
  subCommands: [ListServiceAccountsCommand, ListVmsCommand, ListWorkersCommand],
})
export class ListCommand extends GroupCommand {}
