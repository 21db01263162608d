import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

import { cpuPressureMicros } from '../support/report.js';

/**
 * What the bench reads from /proc (Linux only: elsewhere every reader returns null and the
 * report prints `-`).
 */

/** Linux reports CPU time in USER_HZ ticks, 100 a second on every mainstream build. */
const MS_PER_TICK = 10;

export interface ProcStat {
  ppid: number;
  /** Start time in ticks since boot: with the pid, names one process even if the pid is reused. */
  start: number;
  /** utime + stime of every thread. */
  cpuMs: number;
  /** cutime + cstime: what its reaped children used. */
  reapedMs: number;
}

export function readStat(pid: number): ProcStat | null {
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
    cpuMs: (utime + stime) * MS_PER_TICK,
    reapedMs: (cutime + cstime) * MS_PER_TICK,
  };
  return Number.isFinite(stat.ppid + stat.start + stat.cpuMs + stat.reapedMs) ? stat : null;
}

/** Every live process below `root` (children, grandchildren, ...). */
export function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat) parents.set(Number(entry), stat.ppid);
  }
  const found: number[] = [];
  for (const [pid, ppid] of parents) {
    for (let parent = ppid, hops = 0; parent > 1 && hops < 10; hops++) {
      if (parent === root) {
        found.push(pid);
        break;
      }
      parent = parents.get(parent) ?? 0;
    }
  }
  return found;
}

export interface Schedule {
  /** On a CPU. */
  runMs: number;
  /** Runnable, waiting on a run queue for a CPU. */
  waitMs: number;
}

/** /proc/PID/schedstat: the main thread (a Node process: its event loop). */
export function schedule(pid: number): Schedule | null {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(' ').map(Number);
    return Number.isFinite(run + wait) ? { runMs: run / 1e6, waitMs: wait / 1e6 } : null;
  } catch {
    return null;
  }
}

export interface Memory {
  /** VmRSS: resident now. */
  rssBytes: number;
  /** VmHWM: the peak resident set since start, or since {@link resetPeakRss}. */
  peakBytes: number;
}

export function memory(pid: number): Memory | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  const result = { rssBytes: kib('VmRSS') * 1024, peakBytes: kib('VmHWM') * 1024 };
  return Number.isFinite(result.rssBytes) ? result : null;
}

/** Resets VmHWM to the current RSS (`echo 5 > /proc/PID/clear_refs`, Linux 4.0+); false if refused. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Is this process (pid and start time) still there? */
export function isAlive(pid: number, start: number): boolean {
  return readStat(pid)?.start === start;
}

export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

/**
 * A process whose cost the report shows while bytes cross it. `tree` adds its live descendants
 * and what its reaped children used (sshd: the listener forks a process per connection).
 */
export interface Probe {
  label: string;
  pid: number | 'self';
  tree?: boolean;
}

export interface ProbeSample {
  cpuMs: number;
  /** The main thread; summed over the tree with `tree`. */
  schedule: Schedule | null;
}

export function sampleProbe(probe: Probe): ProbeSample | null {
  if (probe.pid === 'self') {
    const usage = process.cpuUsage();
    return { cpuMs: (usage.user + usage.system) / 1000, schedule: schedule(process.pid) };
  }
  const own = readStat(probe.pid);
  if (!own) return null;
  let cpuMs = own.cpuMs;
  let sched = schedule(probe.pid);
  if (probe.tree) {
    cpuMs += own.reapedMs;
    for (const pid of descendants(probe.pid)) {
      const stat = readStat(pid);
      const extra = schedule(pid);
      if (stat) cpuMs += stat.cpuMs + stat.reapedMs;
      if (sched && extra) sched = { runMs: sched.runMs + extra.runMs, waitMs: sched.waitMs + extra.waitMs };
    }
  }
  return { cpuMs, schedule: sched };
}

/** What one process used between two samples. */
export interface ProbeUsage {
  label: string;
  cpuMs: number;
  runMs: number;
  waitMs: number;
}

export class ProbeSet {
  private readonly before: (ProbeSample | null)[];
  private readonly startedPressure = cpuPressureMicros();

  constructor(private readonly probes: readonly Probe[]) {
    this.before = probes.map(sampleProbe);
  }

  /** CPU used by each process since construction, and the machine's CPU pressure (ms). */
  finish(): { usage: ProbeUsage[]; pressureMs: number } {
    const usage: ProbeUsage[] = [];
    this.probes.forEach((probe, index) => {
      const before = this.before[index];
      const after = sampleProbe(probe);
      if (!before || !after) return;
      usage.push({
        label: probe.label,
        cpuMs: after.cpuMs - before.cpuMs,
        runMs: before.schedule && after.schedule ? after.schedule.runMs - before.schedule.runMs : NaN,
        waitMs: before.schedule && after.schedule ? after.schedule.waitMs - before.schedule.waitMs : NaN,
      });
    });
    return { usage, pressureMs: (cpuPressureMicros() - this.startedPressure) / 1000 };
  }
}

/**
 * TcpExt ListenOverflows from /proc/net/netstat (this network namespace): connections a
 * listener's full accept queue turned away (the client retries its SYN a second or more later).
 */
export function listenOverflows(): number {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('TcpExt:'));
    const names = lines[0]?.split(/\s+/) ?? [];
    const values = lines[1]?.split(/\s+/) ?? [];
    const index = names.indexOf('ListenOverflows');
    return index > 0 ? Number(values[index]) : NaN;
  } catch {
    return NaN;
  }
}
