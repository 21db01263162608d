import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';

import { Logger, type LoggerService } from '@nestjs/common';

import { cancelledError, RuntimeError } from '../runtime-error.js';

/**
 * The one wrapper that runs an external command (the `tart` CLI). Behaviour modelled on
 * Orchard's worker (internal/worker/vmmanager/base/cmd.go):
 *
 * - argv is an array handed to the executable as is, never a shell string;
 * - the argv is logged at debug before running;
 * - a missing executable becomes an install hint, a non-zero exit becomes
 *   `tart command failed: "<first non-empty line of stderr, else stdout>"` with the exit code kept
 *   on the error, and such failures are logged at warn;
 * - an AbortSignal cancels: the child gets SIGINT (Tart's own Ctrl+C handling cleans up), then
 *   SIGKILL if it lingers; the promise rejects with a RuntimeError whose `cancelled` is true, and
 *   nothing is logged as a failure, since cancelling was the caller's intent.
 *
 * `start` is the long-lived variant for `tart run`: it resolves once the process exists and hands
 * back a handle whose `exited` settles when it ends.
 */
export interface CommandRunnerOptions {
  /** The program's name in messages and logs. Default 'tart'. */
  name?: string;
  /** What to execute: a name looked up in PATH or a path. Default: `name`. */
  executable?: string;
  /** Appended to "<name> not found in PATH, install it with". */
  installHint?: string;
  /** Variables added to the inherited environment (tests point the fake tart at its state). */
  env?: Readonly<Record<string, string>>;
  /** Where to log; default a Nest Logger with the program's name as context. */
  logger?: LoggerService;
  /** How long a cancelled command has between SIGINT and SIGKILL. Default 5000 ms. */
  killGraceMs?: number;
}

export interface CommandOutput {
  stdout: string;
  stderr: string;
}

export interface CommandExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** First non-empty line the process wrote to stderr ('' if none). */
  stderrFirstLine: string;
}

/** A long-lived child process (`tart run`). */
export interface RunningCommand {
  readonly pid: number;
  /** Settles (never rejects) when the process has ended. */
  readonly exited: Promise<CommandExit>;
  /** False once the process has exited. */
  readonly running: boolean;
  /** Sends a signal; false when the process is already gone. */
  kill(signal?: NodeJS.Signals): boolean;
}

type Child = ChildProcessByStdio<null, Readable, Readable>;

/** Output kept per stream; `tart pull` progress can be chatty and nothing needs more than this. */
const MAX_CAPTURE_BYTES = 4 * 1024 * 1024;
/** After a long-lived process exits, how long its stderr may take to drain. */
const DRAIN_AFTER_EXIT_MS = 1000;

export class CommandRunner {
  private readonly name: string;
  private readonly executable: string;
  private readonly installHint: string;
  private readonly env: NodeJS.ProcessEnv | undefined;
  private readonly logger: LoggerService;
  private readonly killGraceMs: number;

  constructor(options: CommandRunnerOptions = {}) {
    this.name = options.name ?? 'tart';
    this.executable = options.executable ?? this.name;
    this.installHint = options.installHint ?? 'brew install cirruslabs/cli/tart';
    // spawn inherits process.env when `env` is undefined; extra variables are layered on top.
    this.env = options.env ? { ...process.env, ...options.env } : undefined;
    this.logger = options.logger ?? new Logger(this.name);
    this.killGraceMs = options.killGraceMs ?? 5000;
  }

  /** Runs to completion and returns the captured output; rejects with RuntimeError. */
  async run(args: readonly string[], signal?: AbortSignal): Promise<CommandOutput> {
    const display = this.display(args);
    if (signal?.aborted) throw cancelledError(display);
    this.logger.debug?.(`running ${display}`);

    const child = this.spawn(args);
    const stdout = new Capture();
    const stderr = new Capture();
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));

    let cancelled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      cancelled = true;
      child.kill('SIGINT');
      killTimer = setTimeout(() => child.kill('SIGKILL'), this.killGraceMs);
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    let code: number | null;
    let exitSignal: NodeJS.Signals | null;
    try {
      [code, exitSignal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
        child.once('error', reject);
        child.once('close', (exitCode, closeSignal) => resolve([exitCode, closeSignal]));
      });
    } catch (error) {
      throw this.spawnError(error, display);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      clearTimeout(killTimer);
    }

    if (cancelled) {
      this.logger.debug?.(`${display} was cancelled`);
      throw cancelledError(display);
    }
    const output = { stdout: stdout.text(), stderr: stderr.text() };
    if (code === 0) return output;

    const firstLine = firstNonEmptyLine(output.stderr, output.stdout);
    const how = code === null ? `was killed by ${exitSignal ?? 'a signal'}` : `failed with exit code ${code}`;
    this.logger.warn(`${display} ${how}${firstLine ? `: ${firstLine}` : ''}`);
    const message = firstLine
      ? `${this.name} command failed: ${JSON.stringify(firstLine)}`
      : `${this.name} command ${how}`;
    throw new RuntimeError('command-failed', message, { exitCode: code, signal: exitSignal, firstLine });
  }

  /** Runs, parses stdout as JSON and hands it to `parse`, which turns it into a typed value. */
  async json<T>(args: readonly string[], parse: (value: unknown) => T, signal?: AbortSignal): Promise<T> {
    const { stdout } = await this.run(args, signal);
    let value: unknown;
    try {
      value = JSON.parse(stdout);
    } catch (error) {
      throw new RuntimeError(
        'command-failed',
        `${this.display(args)} printed invalid JSON: ${(error as Error).message}`,
        { cause: error },
      );
    }
    return parse(value);
  }

  /** Starts a long-lived process; resolves once it runs, rejects when it cannot be started. */
  async start(args: readonly string[]): Promise<RunningCommand> {
    const display = this.display(args);
    this.logger.debug?.(`starting ${display}`);
    const child = this.spawn(args);
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => {
        child.off('spawn', onSpawn);
        reject(this.spawnError(error, display));
      };
      const onSpawn = (): void => {
        child.off('error', onError);
        resolve();
      };
      child.once('error', onError).once('spawn', onSpawn);
    });
    return new ChildHandle(child, display, this.logger);
  }

  private spawn(args: readonly string[]): Child {
    return spawn(this.executable, args, { stdio: ['ignore', 'pipe', 'pipe'], env: this.env });
  }

  private spawnError(error: unknown, display: string): RuntimeError {
    const code = (error as NodeJS.ErrnoException).code;
    const where = this.executable.includes('/') ? `at ${this.executable}` : 'in PATH';
    if (code === 'ENOENT') {
      return new RuntimeError(
        'not-installed',
        `${this.name} not found ${where}, install it with ${this.installHint}`,
        {
          cause: error,
        },
      );
    }
    if (code === 'EACCES') {
      return new RuntimeError('not-installed', `${this.name} ${where} is not executable`, { cause: error });
    }
    return new RuntimeError('command-failed', `cannot run ${display}: ${(error as Error).message}`, {
      cause: error,
    });
  }

  /** argv for logs and messages: shell-like, quoting only what needs it. It is never executed. */
  private display(args: readonly string[]): string {
    return [this.name, ...args]
      .map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : JSON.stringify(arg)))
      .join(' ');
  }
}

class ChildHandle implements RunningCommand {
  readonly pid: number;
  readonly exited: Promise<CommandExit>;

  constructor(
    private readonly child: Child,
    display: string,
    logger: LoggerService,
  ) {
    this.pid = child.pid ?? -1;
    let stderrFirstLine = '';
    const stdoutLines = new LineSplitter((line) => {
      logger.debug?.(`${display}: ${line}`);
    });
    const stderrLines = new LineSplitter((line) => {
      if (!stderrFirstLine && line.trim()) stderrFirstLine = line.trim();
      logger.debug?.(`${display} (stderr): ${line}`);
    });
    child.stdout.on('data', (chunk: Buffer) => stdoutLines.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderrLines.push(chunk));
    // Errors after a successful spawn (a failed kill) must not crash the worker.
    child.on('error', (error) => {
      logger.warn(`${display}: ${error.message}`);
    });

    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        // Read stderr to its end for the first line, but a grandchild that inherited the pipe
        // must not hold the exit back forever.
        let finished = false;
        const finish = (): void => {
          if (finished) return;
          finished = true;
          clearTimeout(timer);
          stdoutLines.flush();
          stderrLines.flush();
          logger.debug?.(`${display} exited (${code === null ? `signal ${signal}` : `code ${code}`})`);
          resolve({ code, signal, stderrFirstLine });
        };
        const timer = setTimeout(finish, DRAIN_AFTER_EXIT_MS);
        child.once('close', finish);
      });
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    return this.running && this.child.kill(signal);
  }
}

class Capture {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  push(chunk: Buffer): void {
    if (this.size >= MAX_CAPTURE_BYTES) return;
    const kept = chunk.subarray(0, MAX_CAPTURE_BYTES - this.size);
    this.chunks.push(kept);
    this.size += kept.length;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

class LineSplitter {
  private pending = '';

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: Buffer): void {
    const lines = (this.pending + chunk.toString('utf8')).split('\n');
    this.pending = lines.pop() ?? '';
    // A process that never prints a newline must not grow this without bound.
    if (this.pending.length > 64 * 1024) {
      lines.push(this.pending);
      this.pending = '';
    }
    for (const line of lines) this.onLine(line.replace(/\r$/, ''));
  }

  flush(): void {
    if (this.pending) this.onLine(this.pending);
    this.pending = '';
  }
}

/** The first line with something on it, looking through each output in turn. */
export function firstNonEmptyLine(...outputs: string[]): string {
  for (const output of outputs) {
    for (const line of output.split('\n')) {
      if (line.trim()) return line.trim();
    }
  }
  return '';
}
