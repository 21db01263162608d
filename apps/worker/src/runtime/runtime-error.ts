/**
 * Why a runtime operation failed. The sync loop turns these into a VM's status message; the
 * tunnel turns 'vm-not-running' and 'unreachable' into an immediate "dial refused".
 */
export type RuntimeErrorReason =
  | 'not-installed' // the runtime's executable (tart) is not on this host
  | 'command-failed' // the executable ran and exited non-zero, or printed something unusable
  | 'cancelled' // an AbortSignal cancelled the operation: the caller's intent, not a failure
  | 'vm-not-found' // no VM of that local name on this host
  | 'vm-not-running' // the VM exists but is not running
  | 'unreachable'; // the VM runs but its port could not be connected to

export interface RuntimeErrorDetails {
  /** Exit code of the failed command; null when it was ended by a signal. */
  exitCode?: number | null;
  /** The signal that ended the failed command, if any. */
  signal?: string | null;
  /** First non-empty line of the command's output (stderr first, then stdout). */
  firstLine?: string;
  cause?: unknown;
}

export class RuntimeError extends Error {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly firstLine: string;

  constructor(
    readonly reason: RuntimeErrorReason,
    message: string,
    details: RuntimeErrorDetails = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'RuntimeError';
    this.exitCode = details.exitCode ?? null;
    this.signal = details.signal ?? null;
    this.firstLine = details.firstLine ?? '';
  }

  /** True when the operation was cancelled on purpose: callers do not report it as a failure. */
  get cancelled(): boolean {
    return this.reason === 'cancelled';
  }
}

/** True for a deliberate cancellation, whether ours (RuntimeError) or a bare AbortSignal's. */
export function isCancellation(error: unknown): boolean {
  if (error instanceof RuntimeError) return error.cancelled;
  return error instanceof Error && error.name === 'AbortError';
}

export function cancelledError(what: string): RuntimeError {
  return new RuntimeError('cancelled', `${what} was cancelled`);
}
