import { Command } from 'nest-commander';

import { GroupCommand } from '../common/group-command.js';
import { VncVmCommand } from './vnc-vm.command.js';
import { VncWorkerCommand } from './vnc-worker.command.js';

@Command({
  name: 'vnc',
  description: 'Open a VNC session with a VM or a worker through the controller',
  subCommands: [VncVmCommand, VncWorkerCommand],
})
export class VncCommand extends GroupCommand {}
