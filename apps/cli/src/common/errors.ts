/** Exit codes: 1 when the command could not do its job, 2 when it was called wrong. */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** The command line itself is wrong: a bad flag value, a missing argument, an unknown command. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The command ran but did not get what was asked, e.g. the VM it waited for failed. */
export class CommandFailedError extends Error {
  override name = 'CommandFailedError';
}

interface CommanderErrorShape {
  code: string;
  exitCode: number;
}

/** commander's own errors (help shown, unknown option...) arrive here already printed. */
function isCommanderError(error: unknown): error is CommanderErrorShape {
  const candidate = error as Partial<CommanderErrorShape> | null;
  return (
    typeof candidate?.code === 'string' &&
    candidate.code.startsWith('commander.') &&
    typeof candidate.exitCode === 'number'
  );
}

/**
 * The one place a failed command becomes output: one line on stderr, never a stack trace,
 * and the exit code to leave with. API, connection and contexts-file errors carry messages
 * written for the user; anything else is shown the same way rather than as a stack.
 */
export function reportError(error: unknown, stderr: { write(text: string): unknown }): number {
  if (isCommanderError(error)) return error.exitCode === 0 ? 0 : EXIT_USAGE;
  const message = error instanceof Error ? error.message : String(error);
  stderr.write(`Error: ${message.trim().replace(/\s*\n\s*/g, ' ')}\n`);
  return error instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
}
