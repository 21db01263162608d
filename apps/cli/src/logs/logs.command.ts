import { Command } from 'nest-commander';

import { GroupCommand } from '../common/group-command.js';
import { LogsVmCommand } from './logs-vm.command.js';

@Command({ name: 'logs', description: 'Show logs', subCommands: [LogsVmCommand] })
export class LogsCommand extends GroupCommand {}
