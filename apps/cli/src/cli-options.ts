import type { CommandFactory } from 'nest-commander';

import { reportError } from './common/errors.js';

/** nest-commander's run options (its index does not export the type). */
type RunOptions = Extract<NonNullable<Parameters<typeof CommandFactory.run>[1]>, { cliName?: string }>;

/** How the CLI talks back: errors through reportError, commander's own in the same spelling. */
export const CLI_OPTIONS: RunOptions = {
  cliName: 'orchard',
  logger: false,
  abortOnError: false,
  serviceErrorHandler: (error) => {
    process.exitCode = reportError(error, process.stderr);
  },
  outputConfiguration: {
    outputError: (text, write) => write(text.replace(/^error: /, 'Error: ')),
  },
};
