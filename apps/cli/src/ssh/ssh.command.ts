import { Command } from 'nest-commander';

import { GroupCommand } from '../common/group-command.js';
import { SshVmCommand } from './ssh-vm.command.js';

@Command({ name: 'ssh', description: 'SSH into a VM through the controller', subCommands: [SshVmCommand] })
export class SshCommand extends GroupCommand {}
