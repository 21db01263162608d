import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { CommandRunner, InjectCommander } from 'nest-commander';

import { CLI_VERSION } from '../cli-config.js';

/** commander's Command, named through nest-commander (which does not re-export commander). */
type Commander = Parameters<CommandRunner['setCommand']>[0];

/**
 * Settings nest-commander cannot apply to every command of the tree it builds: usage errors
 * are thrown instead of calling process.exit (so reportError decides the exit code and the
 * output is flushed), excess arguments are refused, and groups show their usage on a mistake.
 */
@Injectable()
export class CommanderSetupService implements OnApplicationBootstrap {
  constructor(@InjectCommander() private readonly root: Commander) {}

  onApplicationBootstrap(): void {
    this.root
      .name('orchard')
      .description('Orchestrate Tart virtual machines on a fleet of Macs')
      .version(CLI_VERSION, '-v, --version');
    configure(this.root);
  }
}

function configure(command: Commander): void {
  const isGroup = command.commands.length > 0;
  command.exitOverride((error) => {
    throw error;
  });
  command.allowExcessArguments(isGroup);
  if (isGroup) command.showHelpAfterError();
  for (const child of command.commands) configure(child);
}
