import { Command } from 'nest-commander';

import { GroupCommand } from '../common/group-command.js';
import { PauseWorkerCommand } from './pause-worker.command.js';

@Command({ name: 'pause', description: 'Pause scheduling', subCommands: [PauseWorkerCommand] })
export class PauseCommand extends GroupCommand {}
