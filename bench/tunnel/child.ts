import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

import { commandLine, descendants, isAlive, readStat } from './proc.js';

export interface ChildOptions {
  /** For messages: "sshd", "orchard controller run", ... */
  name: string;
  command: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** stdout and stderr go here (a file, never a pipe the bench might drain late). */
  logFile: string;
  /** The one signal that asks it to stop (a second one makes Orchard's commands skip their cleanup). */
  stopSignal: NodeJS.Signals;
  /** After the stop signal, how long before SIGKILL. */
  stopTimeoutMs: number;
  /** Keep a pipe on its stdin: the bench's own relay exits when it closes (the bench died). */
  stdinPipe?: boolean;
}

export interface ChildStop {
  name: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** It ignored the stop signal for stopTimeoutMs and was killed. */
  killed: boolean;
  /** Its processes still alive 3 s after it exited (ended by the bench): "pid command". */
  leftovers: string[];
}

const EXIT_GRACE_MS = 3_000;

/**
 * A process the bench started: in its own process group (a Ctrl-C reaches only the bench, which
 * then stops it with exactly one signal), output to a log file, stopped by {@link stop}, which
 * also ends any process it started that outlives it.
 */
export class Child {
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private stopping: Promise<ChildStop> | null = null;
  private spawnError: Error | null = null;

  constructor(readonly options: ChildOptions) {
    const log = openSync(options.logFile, 'a');
    try {
      this.child = spawn(options.command, [...options.args], {
        env: options.env ?? process.env,
        stdio: [options.stdinPipe ? 'pipe' : 'ignore', log, log],
        detached: true,
      });
    } finally {
      closeSync(log);
    }
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve();
      });
      this.child.once('error', (error) => {
        this.exit = { code: null, signal: null };
        this.spawnError = error;
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get name(): string {
    return this.options.name;
  }

  get hasExited(): boolean {
    return this.exit !== null;
  }

  log(): string {
    try {
      return readFileSync(this.options.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  logTail(lines = 20): string {
    return this.log().trimEnd().split('\n').slice(-lines).join('\n');
  }

  /** Polls its log for a line matching `pattern`; rejects if it exits or the time runs out. */
  async waitForLine(pattern: RegExp, timeoutMs: number, signal?: AbortSignal): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (signal?.aborted) throw new Error(`interrupted while ${this.name} was starting`);
      const match = pattern.exec(this.log());
      if (match) return match;
      if (this.exit) {
        const why = this.spawnError
          ? this.spawnError.message
          : `code ${this.exit.code}, signal ${this.exit.signal}`;
        throw new Error(`${this.name} exited (${why}) before it was ready:\n${this.logTail()}`);
      }
      await sleep(50);
    }
    throw new Error(
      `${this.name} did not print ${String(pattern)} within ${timeoutMs} ms:\n${this.logTail()}`,
    );
  }

  /** One stop signal, then SIGKILL after the timeout; ends what it left behind. Never rejects. */
  stop(): Promise<ChildStop> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  /** Keeps its log after the run directory is gone. */
  async keepLog(path: string): Promise<void> {
    await copyFile(this.options.logFile, path).catch(() => undefined);
  }

  private async doStop(): Promise<ChildStop> {
    const pid = this.child.pid;
    const watched =
      pid === undefined
        ? []
        : descendants(pid).flatMap((child) => {
            const stat = readStat(child);
            return stat ? [{ pid: child, start: stat.start, command: commandLine(child) }] : [];
          });
    let killed = false;
    if (!this.exit && pid !== undefined) {
      this.child.kill(this.options.stopSignal);
      const timer = new AbortController();
      const outcome = await Promise.race([
        this.exited.then(() => 'exited' as const),
        sleep(this.options.stopTimeoutMs, 'timeout' as const, { signal: timer.signal }).catch(
          () => 'exited' as const,
        ),
      ]);
      timer.abort();
      if (outcome === 'timeout') {
        killed = true;
        this.child.kill('SIGKILL');
      }
    }
    await this.exited;
    const alive = () => watched.filter((target) => isAlive(target.pid, target.start));
    for (let waited = 0; waited < EXIT_GRACE_MS && alive().length > 0; waited += 100) await sleep(100);
    const leftovers = alive();
    await endProcesses(leftovers);
    return {
      name: this.name,
      code: this.exit?.code ?? null,
      signal: this.exit?.signal ?? null,
      killed,
      leftovers: leftovers.map((target) => `${target.pid} ${target.command}`),
    };
  }
}

/** SIGINT (PostgreSQL's fast shutdown), then SIGKILL for whatever is still there after 10 s. */
export async function endProcesses(targets: readonly { pid: number; start: number }[]): Promise<void> {
  const signal = (target: { pid: number; start: number }, name: NodeJS.Signals) => {
    if (!isAlive(target.pid, target.start)) return;
    try {
      process.kill(target.pid, name);
    } catch {
      // gone meanwhile
    }
  };
  if (targets.length === 0) return;
  for (const target of targets) signal(target, 'SIGINT');
  for (let waited = 0; waited < 10_000 && targets.some((t) => isAlive(t.pid, t.start)); waited += 100) {
    await sleep(100);
  }
  for (const target of targets) signal(target, 'SIGKILL');
}
