import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/** The `orchard` executable of this checkout (dist/bench/lifecycle/ -> bin/). */
const ORCHARD_BIN = fileURLToPath(new URL('../../../bin/orchard.js', import.meta.url));
const HOST = '127.0.0.1';
const READY_LINE = 'orchard dev is ready';
const STOP_TIMEOUT_MS = 60_000;
/** After `orchard dev` exits, how long its PostgreSQL processes get to finish going away. */
const EXIT_GRACE_MS = 3_000;

/** The dev cluster's log outlives the run here (the run directory is removed). */
export const KEPT_LOG = join(tmpdir(), 'orchard-bench-lifecycle-dev.log');

export interface DevClusterOptions {
  workers: number;
  readyTimeoutMs: number;
  /** Write a V8 CPU profile of `orchard dev` into this directory when it exits. */
  cpuProfileDir?: string;
  /** Gives up waiting for the ready line (and stops the child) when this aborts. */
  signal?: AbortSignal;
}

export interface CpuTimes {
  /** The `orchard dev` process: controller and workers share it. */
  devMs: number;
  /** Its descendants: the embedded PostgreSQL (postmaster, backends, including exited ones). */
  postgresMs: number;
  /** Its main thread (the event loop of controller and workers): on a CPU, and runnable but waiting for one. */
  loop: ThreadSchedule | null;
}

export interface ThreadSchedule {
  runMs: number;
  waitMs: number;
}

/** /proc/PID/schedstat: nanoseconds on a CPU, nanoseconds runnable on a run queue, slices (main thread). */
export function threadSchedule(pid: number | 'self'): ThreadSchedule | null {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(' ').map(Number);
    return Number.isFinite(run + wait) ? { runMs: run / 1e6, waitMs: wait / 1e6 } : null;
  } catch {
    return null;
  }
}

interface ProcessId {
  pid: number;
  /** /proc/PID/stat starttime: with the pid, names one process even if the pid is reused. */
  start: number;
  command: string;
}

export interface StopOutcome {
  /** Exit code of `orchard dev`; null when a signal ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** It did not exit within STOP_TIMEOUT_MS of the SIGINT and was killed. */
  timedOut: boolean;
  /** Its processes (the embedded PostgreSQL) still alive after it exited; the bench ended them. */
  leftovers: string[];
  /** How many descendant processes it had just before the SIGINT (postmaster and backends). */
  descendantsBefore: number;
  logFile: string;
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

/** Linux reports CPU time in USER_HZ ticks, 100 a second on every mainstream build. */
const MS_PER_TICK = 10;

interface ProcStat {
  ppid: number;
  start: number;
  ms: number;
  reapedMs: number;
}

function readProcStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const [utime, stime, cutime, cstime] = fields.slice(11, 15).map(Number);
  const stat = {
    ppid: Number(fields[1]),
    start: Number(fields[19]),
    ms: (utime + stime) * MS_PER_TICK,
    reapedMs: (cutime + cstime) * MS_PER_TICK,
  };
  return Number.isFinite(stat.ppid + stat.start + stat.ms + stat.reapedMs) ? stat : null;
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

function allProcesses(): Map<number, ProcStat> {
  const stats = new Map<number, ProcStat>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(Number(entry));
    if (stat) stats.set(Number(entry), stat);
  }
  return stats;
}

function isAlive(target: ProcessId): boolean {
  return readProcStat(target.pid)?.start === target.start;
}

/**
 * `orchard dev` as a user runs it, in a child process: controller without auth on loopback,
 * embedded PostgreSQL and N workers on the synthetic runtime, all in a throw-away directory
 * (data directory and ORCHARD_HOME, so the user's contexts are never touched).
 */
export class DevCluster {
  private readonly exited: Promise<void>;
  private exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    private readonly runDir: string,
    readonly dataDir: string,
    readonly logFile: string,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  static async start(options: DevClusterOptions): Promise<DevCluster> {
    const runDir = await mkdtemp(join(tmpdir(), 'orchard-lifecycle-'));
    // As root, the embedded PostgreSQL runs as the `postgres` user, which must reach the data
    // directory inside this one (mkdtemp makes it 0700).
    await chmod(runDir, 0o755);
    const dataDir = join(runDir, 'data');
    const home = join(runDir, 'home');
    await mkdir(home, { mode: 0o700 });
    const port = await freePort();
    const logFile = join(runDir, 'dev.log');
    const log = openSync(logFile, 'a');
    const env: NodeJS.ProcessEnv = { ...process.env, ORCHARD_HOME: home, NO_COLOR: '1' };
    // Node 20 refuses --cpu-prof in NODE_OPTIONS: it goes on the command line.
    const profile = options.cpuProfileDir
      ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`, '--cpu-prof-name=orchard-dev.cpuprofile']
      : [];
    const args = [
      ...profile,
      ORCHARD_BIN,
      'dev',
      '--workers',
      String(options.workers),
      '--listen',
      `${HOST}:${port}`,
      '--data-dir',
      dataDir,
      '--runtime',
      'synthetic',
    ];
    // Its own process group: a Ctrl-C reaches only the bench, which then stops `orchard dev`
    // with exactly one SIGINT (a second signal makes it exit without stopping its PostgreSQL).
    // stdout goes to a file, not a pipe: a pipe the bench drains late would block its writes.
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', log, log], detached: true });
    closeSync(log);
    const cluster = new DevCluster(child, `http://${HOST}:${port}`, runDir, dataDir, logFile);
    try {
      await cluster.waitForReadyLine(options.readyTimeoutMs, options.signal);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** Polls its stdout (the log file) for the ready line, up to timeoutMs. */
  private async waitForReadyLine(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (signal?.aborted) throw new Error('interrupted while orchard dev was starting');
      if (this.exit) {
        throw new Error(
          `orchard dev exited (code ${this.exit.code}, signal ${this.exit.signal}) before it was ready:\n${this.logTail()}`,
        );
      }
      const text = await readFile(this.logFile, 'utf8').catch(() => '');
      if (text.includes(READY_LINE)) return;
      await sleep(100);
    }
    throw new Error(`orchard dev did not print "${READY_LINE}" within ${timeoutMs} ms:\n${this.logTail()}`);
  }

  readyLine(): string {
    const text = readFileSync(this.logFile, 'utf8');
    return text.split('\n').find((line) => line.includes(READY_LINE)) ?? '';
  }

  logTail(lines = 30): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** Lines of its log that match, for the report (warnings, errors). */
  logLines(pattern: RegExp): string[] {
    try {
      return readFileSync(this.logFile, 'utf8')
        .split('\n')
        .filter((line) => pattern.test(line));
    } catch {
      return [];
    }
  }

  /** The processes it started, directly or not (its PostgreSQL), as they are now. */
  private descendants(): ProcessId[] {
    const root = this.child.pid;
    if (root === undefined) return [];
    const stats = allProcesses();
    const found: ProcessId[] = [];
    for (const [pid, stat] of stats) {
      for (let parent = stat.ppid, hops = 0; parent > 1 && hops < 10; hops++) {
        if (parent === root) {
          found.push({ pid, start: stat.start, command: commandLine(pid) });
          break;
        }
        parent = stats.get(parent)?.ppid ?? 0;
      }
    }
    return found;
  }

  /** CPU used so far by `orchard dev` and by its PostgreSQL, from /proc; null once it is gone. */
  cpuTimes(): CpuTimes | null {
    const root = this.child.pid;
    const own = root === undefined ? null : readProcStat(root);
    if (root === undefined || !own) return null;
    let postgresMs = 0;
    for (const descendant of this.descendants()) {
      const stat = readProcStat(descendant.pid);
      if (stat) postgresMs += stat.ms + stat.reapedMs;
    }
    return { devMs: own.ms, postgresMs, loop: threadSchedule(root) };
  }

  /** The postmaster, from the cluster's postmaster.pid, if that names a live process. */
  private async postmaster(): Promise<ProcessId | null> {
    const text = await readFile(join(this.dataDir, 'postgres', 'postmaster.pid'), 'utf8').catch(() => '');
    const pid = Number(text.split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 1) return null;
    const stat = readProcStat(pid);
    return stat ? { pid, start: stat.start, command: commandLine(pid) } : null;
  }

  /**
   * One SIGINT (Ctrl-C), then waits for `orchard dev` to exit; kills it if it hangs. Then
   * checks that every process it had started is gone (its PostgreSQL above all), ends any
   * that is not (by pid, checked against its start time), keeps the log and removes the run
   * directory. Never rejects.
   */
  async stop(): Promise<StopOutcome> {
    const watched = this.descendants();
    const postmaster = await this.postmaster();
    if (postmaster && !watched.some((target) => target.pid === postmaster.pid)) watched.push(postmaster);
    let timedOut = false;
    if (!this.exit) {
      this.child.kill('SIGINT');
      const timer = new AbortController();
      const outcome = await Promise.race([
        this.exited.then(() => 'exited' as const),
        sleep(STOP_TIMEOUT_MS, 'timeout' as const, { signal: timer.signal }).catch(() => 'exited' as const),
      ]);
      timer.abort(); // or the pending timer would keep the bench alive
      if (outcome === 'timeout') {
        timedOut = true;
        this.child.kill('SIGKILL');
      }
    }
    await this.exited;
    for (let waited = 0; waited < EXIT_GRACE_MS && watched.some(isAlive); waited += 100) await sleep(100);
    const leftovers = watched.filter(isAlive);
    if (leftovers.length > 0) await this.end(leftovers);
    await copyFile(this.logFile, KEPT_LOG).catch(() => undefined);
    await rm(this.runDir, { recursive: true, force: true }).catch(() => undefined);
    return {
      code: this.exit?.code ?? null,
      signal: this.exit?.signal ?? null,
      timedOut,
      leftovers: leftovers.map((target) => `${target.pid} ${target.command}`),
      descendantsBefore: watched.length,
      logFile: KEPT_LOG,
    };
  }

  /** PostgreSQL's fast shutdown (SIGINT) first, then SIGKILL for whatever is still there. */
  private async end(targets: ProcessId[]): Promise<void> {
    const signal = (target: ProcessId, name: NodeJS.Signals) => {
      if (!isAlive(target)) return;
      try {
        process.kill(target.pid, name);
      } catch {
        // gone meanwhile
      }
    };
    for (const target of targets) signal(target, 'SIGINT');
    for (let waited = 0; waited < 10_000 && targets.some(isAlive); waited += 100) await sleep(100);
    for (const target of targets) signal(target, 'SIGKILL');
  }
}
