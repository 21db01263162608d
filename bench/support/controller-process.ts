import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

import { ApiClient, type ApiTarget } from './http-load.js';

/** The compiled standalone entry, next to this file in dist/. */
const CONTROLLER_MAIN = fileURLToPath(new URL('../../apps/controller/src/main.js', import.meta.url));
const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 60_000;

export interface StopOutcome {
  /** The controller's exit code (-1: killed by a signal). */
  code: number | null;
  /** It did not exit within STOP_TIMEOUT_MS of the SIGTERM and was killed. */
  timedOut: boolean;
  /** Its PostgreSQL outlived it and the bench stopped it. */
  postgresLeftRunning: boolean;
  /** Where its log was kept (the data directory is removed). */
  logFile: string;
  /** The first line of each distinct "unexpected error" (a 500) it logged, with how many times. */
  unexpectedErrors: { message: string; count: number }[];
}

/** The controller's log outlives the run here. */
export const KEPT_LOG = join(tmpdir(), 'orchard-bench-controller.log');

export interface CpuTimes {
  controllerMs: number;
  postgresMs: number;
}

export interface ControllerProcessOptions {
  /** Write a V8 CPU profile of the controller into this directory when it exits. */
  cpuProfileDir?: string;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port')),
      );
    });
  });
}

/**
 * The controller as production runs it: `node main.js` in its own process, configured by the
 * environment, with the embedded PostgreSQL in a throw-away data directory, on loopback.
 */
export class ControllerProcess {
  private exited: Promise<number | null>;
  private exitCode: number | null | undefined = undefined;

  private constructor(
    private readonly child: ChildProcess,
    readonly target: ApiTarget,
    readonly dataDir: string,
    readonly logFile: string,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        resolve(this.exitCode);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get url(): string {
    return `http://${this.target.host}:${this.target.port}`;
  }

  static async start(options: ControllerProcessOptions = {}): Promise<ControllerProcess> {
    const dataDir = await mkdtemp(join(tmpdir(), 'orchard-bench-'));
    const port = await freePort();
    const token = randomBytes(32).toString('base64url');
    const logFile = join(dataDir, 'controller.log');
    const log = openSync(logFile, 'a');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ORCHARD_LISTEN: `${HOST}:${port}`,
      ORCHARD_DATA_DIR: dataDir,
      ORCHARD_BOOTSTRAP_ADMIN_TOKEN: token,
      NO_COLOR: '1',
    };
    delete env['DATABASE_URL']; // always the embedded server, in dataDir
    const nodeArgs = options.cpuProfileDir
      ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`, '--cpu-prof-name=controller.cpuprofile']
      : [];
    // Its own process group: a Ctrl-C reaches only the bench, which then stops the controller
    // with exactly one SIGTERM (a second signal makes the controller exit without stopping
    // its PostgreSQL).
    const child = spawn(process.execPath, [...nodeArgs, CONTROLLER_MAIN], {
      env,
      stdio: ['ignore', log, log],
      detached: true,
    });
    closeSync(log);
    const target: ApiTarget = {
      host: HOST,
      port,
      authorization: `Basic ${Buffer.from(`bootstrap-admin:${token}`).toString('base64')}`,
    };
    const controller = new ControllerProcess(child, target, dataDir, logFile);
    try {
      await controller.waitUntilReady();
    } catch (error) {
      await controller.stop();
      throw error;
    }
    return controller;
  }

  /** Polls GET /v1/controller/info until it answers 200. */
  private async waitUntilReady(): Promise<void> {
    const client = new ApiClient(this.target);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    try {
      while (Date.now() < deadline) {
        if (this.exitCode !== undefined) {
          throw new Error(
            `the controller exited (code ${this.exitCode}) before answering:\n${this.logTail()}`,
          );
        }
        const reply = await client.send({ method: 'GET', path: '/v1/controller/info' }).catch(() => null);
        if (reply?.status === 200) return;
        await sleep(250);
      }
      throw new Error(`the controller did not answer within ${READY_TIMEOUT_MS} ms:\n${this.logTail()}`);
    } finally {
      client.close();
    }
  }

  private unexpectedErrors(): { message: string; count: number }[] {
    let text: string;
    try {
      text = readFileSync(this.logFile, 'utf8');
    } catch {
      return [];
    }
    const counts = new Map<string, number>();
    for (const match of text.matchAll(/unexpected error [0-9a-f-]+: (.*)/g)) {
      counts.set(match[1], (counts.get(match[1]) ?? 0) + 1);
    }
    return [...counts].map(([message, count]) => ({ message, count })).sort((a, b) => b.count - a.count);
  }

  /**
   * CPU time used so far by the controller process (all its threads) and by the processes it
   * started (its PostgreSQL: postmaster and backends), from /proc; null where there is none.
   */
  cpuTimes(): CpuTimes | null {
    const pid = this.child.pid;
    if (pid === undefined || !existsSync(`/proc/${pid}/stat`)) return null;
    const stats = new Map<number, { ppid: number; ms: number; reapedMs: number }>();
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const stat = readProcStat(Number(entry));
      if (stat) stats.set(Number(entry), stat);
    }
    const controllerMs = stats.get(pid)?.ms ?? 0;
    let descendantsMs = 0;
    for (const [candidate, stat] of stats) {
      if (candidate === pid) continue;
      for (let parent = stat.ppid, hops = 0; parent > 1 && hops < 10; hops++) {
        if (parent === pid) {
          descendantsMs += stat.ms + stat.reapedMs;
          break;
        }
        parent = stats.get(parent)?.ppid ?? 0;
      }
    }
    return { controllerMs, postgresMs: descendantsMs };
  }

  logTail(lines = 30): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /**
   * One SIGTERM, then waits for the controller to exit. If it hangs, kills it. Either way, if
   * the PostgreSQL it started is still running (its postmaster.pid names a live process), stops
   * it, so nothing outlives the bench. Removes the data directory. Never rejects.
   */
  async stop(): Promise<StopOutcome> {
    let timedOut = false;
    if (this.exitCode === undefined) {
      this.child.kill('SIGTERM');
      const timeout = Symbol('timeout');
      const timer = new AbortController();
      const outcome = await Promise.race([
        this.exited,
        sleep(STOP_TIMEOUT_MS, timeout, { signal: timer.signal }).catch(() => null),
      ]);
      timer.abort(); // or the pending timer would keep the bench alive for a minute
      if (outcome === timeout) {
        timedOut = true;
        this.child.kill('SIGKILL');
      }
    }
    const code = (await this.exited) ?? null;
    const postgresLeftRunning = await this.stopOrphanedPostgres();
    const unexpectedErrors = this.unexpectedErrors();
    await copyFile(this.logFile, KEPT_LOG).catch(() => undefined);
    await rm(this.dataDir, { recursive: true, force: true }).catch(() => undefined);
    return { code, timedOut, postgresLeftRunning, logFile: KEPT_LOG, unexpectedErrors };
  }

  /** True when the controller's PostgreSQL was still running (and had to be stopped here). */
  private async stopOrphanedPostgres(): Promise<boolean> {
    const pidText = await readFile(join(this.dataDir, 'postgres', 'postmaster.pid'), 'utf8').catch(() => '');
    const pid = Number(pidText.split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 1 || !isAlive(pid)) return false;
    try {
      process.kill(pid, 'SIGINT'); // PostgreSQL's "fast" shutdown
    } catch {
      return false; // gone in the meantime
    }
    for (let i = 0; i < 100 && isAlive(pid); i++) await sleep(100);
    return true;
  }
}

/** Linux reports CPU time in USER_HZ ticks, 100 a second on every mainstream build. */
const MS_PER_TICK = 10;

/**
 * ppid, own CPU time (utime + stime, all threads) and that of its reaped children (cutime +
 * cstime: a PostgreSQL backend that exits hands its time to the postmaster), or null if gone.
 */
function readProcStat(pid: number): { ppid: number; ms: number; reapedMs: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ppid = Number(fields[1]);
  const [utime, stime, cutime, cstime] = fields.slice(11, 15).map(Number);
  const ms = (utime + stime) * MS_PER_TICK;
  const reapedMs = (cutime + cstime) * MS_PER_TICK;
  return Number.isFinite(ppid) && Number.isFinite(ms + reapedMs) ? { ppid, ms, reapedMs } : null;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
