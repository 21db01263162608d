import { Command } from 'nest-commander';

import { GroupCommand } from '../common/group-command.js';
import { ControllerRunCommand } from './controller-run.command.js';

@Command({
  name: 'controller',
  description: 'Run a controller on this machine',
  subCommands: [ControllerRunCommand],
})
export class ControllerCommand extends GroupCommand {}
