import { Command } from 'nest-commander';

import { GroupCommand } from '../common/group-command.js';
import { PortForwardVmCommand } from './port-forward-vm.command.js';
import { PortForwardWorkerCommand } from './port-forward-worker.command.js';

@Command({
  name: 'port-forward',
  description: 'Forward a local TCP port (or stdin/stdout) to a VM or a worker through the controller',
  subCommands: [PortForwardVmCommand, PortForwardWorkerCommand],
})
export class PortForwardCommand extends GroupCommand {}
