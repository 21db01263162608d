import { Command } from 'nest-commander';

import { GroupCommand } from '../common/group-command.js';
import { ResumeWorkerCommand } from './resume-worker.command.js';

@Command({ name: 'resume', description: 'Resume scheduling', subCommands: [ResumeWorkerCommand] })
export class ResumeCommand extends GroupCommand {}
