import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { OrchardClient } from '#client';

import { ADMIN_NAME, ADMIN_TOKEN, type Credentials } from './controller-harness.js';
import { createTestDatabase } from './test-database.js';

/** The compiled CLI, exactly as `npm ci` installs it (the test script builds first). */
const ORCHARD_BIN = fileURLToPath(new URL('../../bin/orchard.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A CLI process still running: its output so far, and a way to wait for a line of it. */
export interface RunningCli {
  process: ChildProcess;
  /** Resolves with the match of the first line (past or future) of `stream` matching `pattern`. */
  waitForLine(stream: 'stdout' | 'stderr', pattern: RegExp): Promise<RegExpMatchArray>;
  /** Settles when the process has exited. */
  exited: Promise<CliResult>;
  /** SIGTERM, then SIGKILL if it has not exited after 15 s; resolves once it has exited. */
  stop(): Promise<CliResult>;
}

/**
 * Runs `orchard` as a child process with a private ORCHARD_HOME (one per test file) and an
 * environment cleaned of the developer's ORCHARD_* and DATABASE_URL settings.
 */
export class Cli {
  private readonly running = new Set<RunningCli>();

  private constructor(
    readonly home: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  static async create(): Promise<Cli> {
    const home = await mkdtemp(join(tmpdir(), 'orchard-cli-home-'));
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const key of Object.keys(env)) {
      if (key.startsWith('ORCHARD_') || key === 'DATABASE_URL') delete env[key];
    }
    return new Cli(home, { ...env, ORCHARD_HOME: home, NO_COLOR: '1' });
  }

  get contextsFile(): string {
    return join(this.home, 'orchard.yml');
  }

  /** Runs to completion. */
  run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
    return this.start(args, env).exited;
  }

  start(args: string[], env: NodeJS.ProcessEnv = {}): RunningCli {
    const child = spawn(process.execPath, [ORCHARD_BIN, ...args], {
      env: { ...this.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = { stdout: '', stderr: '' };
    const waiters: {
      stream: 'stdout' | 'stderr';
      pattern: RegExp;
      resolve(match: RegExpMatchArray): void;
    }[] = [];
    const check = () => {
      for (const waiter of [...waiters]) {
        const match = output[waiter.stream]
          .split('\n')
          .slice(0, -1) // whole lines only
          .map((line) => waiter.pattern.exec(line))
          .find((m) => m !== null);
        if (match) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(match);
        }
      }
    };
    for (const stream of ['stdout', 'stderr'] as const) {
      child[stream].setEncoding('utf8');
      child[stream].on('data', (chunk: string) => {
        output[stream] += chunk;
        check();
      });
    }
    // Never rejects: a process that could not even start is a result too (code null).
    const exited = new Promise<CliResult>((resolve) => {
      child.on('error', (error) =>
        resolve({ code: null, signal: null, ...output, stderr: output.stderr + error.message }),
      );
      child.on('close', (code, signal) => resolve({ code, signal, ...output }));
    });
    const running: RunningCli = {
      process: child,
      exited,
      waitForLine: (stream, pattern) =>
        new Promise((resolve, reject) => {
          waiters.push({ stream, pattern, resolve });
          check();
          void exited.then((result) =>
            reject(
              new Error(
                `orchard ${args.join(' ')} exited (${result.code ?? result.signal}) before printing ${pattern} on ${stream}:\n${result.stderr}`,
              ),
            ),
          );
        }),
      stop: async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
          await exited.finally(() => clearTimeout(timer));
        }
        return exited;
      },
    };
    this.running.add(running);
    void exited.finally(() => this.running.delete(running));
    return running;
  }

  /** Stops whatever is still running (for afterAll, so no process outlives its test file). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.running].map((running) => running.stop()));
  }
}

export interface CliController {
  url: string;
  admin: Credentials;
  /** A client of this controller, as the bootstrap admin. */
  client: OrchardClient;
  process: RunningCli;
}

/**
 * `orchard controller run` as a real process on 127.0.0.1:0 with a fresh database; resolves
 * once it prints its readiness line, with the URL read from that line.
 */
export async function startCliController(cli: Cli): Promise<CliController> {
  const databaseUrl = await createTestDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'orchard-cli-controller-'));
  const controller = cli.start(
    ['controller', 'run', '--listen', '127.0.0.1:0', '--database-url', databaseUrl, '--data-dir', dataDir],
    { ORCHARD_BOOTSTRAP_ADMIN_TOKEN: ADMIN_TOKEN },
  );
  const [, url] = await controller.waitForLine('stdout', /^orchard controller listening on (http:\/\/\S+)$/);
  const admin = { name: ADMIN_NAME, token: ADMIN_TOKEN };
  return {
    url,
    admin,
    client: new OrchardClient({ url, serviceAccountName: admin.name, serviceAccountToken: admin.token }),
    process: controller,
  };
}

/** The lines of some output, without the empty one after the last newline. */
export const linesOf = (text: string): string[] => text.split('\n').filter((line) => line !== '');

/** The URL of a port nothing listens on (bound, then released), for "unreachable controller" cases. */
export async function unreachableUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}
