import { CommandRunner } from 'nest-commander';

import { EXIT_USAGE } from './errors.js';

/**
 * A command that only groups sub-commands (`orchard list ...`). nest-commander gives every
 * command an action, so commander would hand an unknown sub-command to it as an argument:
 * say so, with the usage, instead of doing nothing.
 */
export abstract class GroupCommand extends CommandRunner {
  run(args: string[]): Promise<void> {
    if (args.length > 0) {
      this.command.error(`error: unknown command '${args[0]}'`, {
        code: 'commander.unknownCommand',
        exitCode: EXIT_USAGE,
      });
    }
    this.command.help({ error: true });
  }
}
