import { Command } from 'nest-commander';

import { GroupCommand } from '../common/group-command.js';
import { WorkerRunCommand } from './worker-run.command.js';

@Command({
  name: 'worker',
  description: 'Run a worker on this machine',
  subCommands: [WorkerRunCommand],
})
export class WorkerCommand extends GroupCommand {}
