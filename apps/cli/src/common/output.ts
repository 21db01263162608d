import { CommandRunner, Option } from 'nest-commander';

import { parseOutput, type OutputFormat } from './flags.js';

export interface OutputOptions {
  output: OutputFormat;
}

/** A command that shows something: `-o json` for scripts, text (tables) for people. */
export abstract class ReadCommand extends CommandRunner {
  @Option({
    flags: '-o, --output <format>',
    description: 'output format: text or json',
    defaultValue: 'text',
  })
  parseOutput(text: string): OutputFormat {
    return parseOutput(text);
  }
}

export function print(format: OutputFormat, value: unknown, text: () => string): void {
  process.stdout.write(format === 'json' ? JSON.stringify(value, null, 2) + '\n' : text());
}
