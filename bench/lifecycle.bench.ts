/**
 * `npm run bench:lifecycle`: how fast a VM goes from POST /v1/vms to running, and from DELETE to
 * gone, on `orchard dev` with many clients at once.
 *
 * Starts `node bin/orchard.js dev --workers 8 --runtime synthetic` as a child process (loopback,
 * free port, throw-away data directory and ORCHARD_HOME), waits for its ready line, then runs:
 * a warm-up (discarded), a baseline (1 client, cycles one after the other: the latency of an
 * idle cluster) and the load (C clients at once, K cycles each). A cycle opens a watch on a VM
 * name that does not exist yet, creates the VM, waits for status running on the watch, deletes
 * it and waits for DELETED. Then it stops `orchard dev` with one SIGINT, checks that none of its
 * processes (its PostgreSQL) outlives it, and prints Markdown tables.
 *
 * Flags, after `npm run bench:lifecycle --` (environment variable, default):
 *   --clients C        (BENCH_LIFECYCLE_CLIENTS, 100)  concurrent clients in the load phase
 *   --cycles K         (BENCH_LIFECYCLE_CYCLES, 5)     cycles per client in the load phase
 *   --workers N        (BENCH_LIFECYCLE_WORKERS, 8)    workers of `orchard dev`
 *   --warmup W         (BENCH_LIFECYCLE_WARMUP, 20)    warm-up cycles, 5 clients at once
 *   --baseline B       (BENCH_LIFECYCLE_BASELINE, 20)  baseline cycles, 1 client
 *   --profile P        (BENCH_LIFECYCLE_PROFILE, the cluster's default) scheduler profile:
 *                      optimize-utilization or distribute-load
 *   --timeout S        (BENCH_LIFECYCLE_TIMEOUT, 30)   seconds a cycle waits for running, for DELETED
 *   --max-seconds S    (BENCH_LIFECYCLE_MAX_SECONDS, 90) no load cycle starts after this
 *   --cpu-prof DIR     write a V8 CPU profile of `orchard dev` there (node --cpu-prof)
 *   --raw FILE         write every cycle's timings there (JSON), for a closer look
 *
 * Failed cycles are findings: counted and reported, and the run still exits 0. It exits 1 when
 * it cannot run (`orchard dev` does not start) or when `orchard dev` left processes behind.
 */
import { setMaxListeners } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { inspect, parseArgs } from 'node:util';

import { SCHEDULER_PROFILES, TART_VMS_RESOURCE, type SchedulerProfile } from '#api';
import { OrchardClient } from '#client';

import { errorCount, IMAGE, runPhase, type CycleTiming, type PhaseResult } from './lifecycle/cycle.js';
import { DevCluster, type CpuTimes, type StopOutcome, type ThreadSchedule } from './lifecycle/dev-cluster.js';
import {
  cpuPressureMicros,
  describeMachine,
  distribution,
  loadAverageNow,
  ms,
  table,
  type Distribution,
  type Machine,
} from './support/report.js';

const AIM_RUNNING_P99_MS = 250;
const WARMUP_CLIENTS = 5;
/** Warm-up and baseline start no cycle after this long, so that a stalled cluster cannot stretch the run. */
const SIDE_PHASE_MAX_MS = 20_000;
const READY_TIMEOUT_MS = 120_000;

interface Options {
  clients: number;
  cycles: number;
  workers: number;
  warmup: number;
  baseline: number;
  profile: SchedulerProfile | undefined;
  timeoutMs: number;
  maxDurationMs: number;
  cpuProfileDir: string | undefined;
  rawFile: string | undefined;
}

function readOptions(): Options {
  const { values } = parseArgs({
    options: {
      clients: { type: 'string' },
      cycles: { type: 'string' },
      workers: { type: 'string' },
      warmup: { type: 'string' },
      baseline: { type: 'string' },
      profile: { type: 'string' },
      timeout: { type: 'string' },
      'max-seconds': { type: 'string' },
      'cpu-prof': { type: 'string' },
      raw: { type: 'string' },
    },
  });
  const setting = (flag: keyof typeof values): string | undefined =>
    values[flag] ?? process.env[`BENCH_LIFECYCLE_${flag.toUpperCase().replace(/-/g, '_')}`];
  const integer = (flag: keyof typeof values, fallback: number, minimum: number): number => {
    const text = setting(flag);
    if (text === undefined || text === '') return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < minimum) {
      throw new Error(`--${flag} must be an integer of at least ${minimum}, not "${text}"`);
    }
    return value;
  };
  const profile = setting('profile') || undefined;
  if (profile !== undefined && !(SCHEDULER_PROFILES as readonly string[]).includes(profile)) {
    throw new Error(`--profile must be one of ${SCHEDULER_PROFILES.join(', ')}, not "${profile}"`);
  }
  const cpuProfileDir = setting('cpu-prof');
  const rawFile = setting('raw');
  return {
    clients: integer('clients', 100, 1),
    cycles: integer('cycles', 5, 1),
    workers: integer('workers', 8, 1),
    warmup: integer('warmup', 20, 0),
    baseline: integer('baseline', 20, 0),
    profile: profile as SchedulerProfile | undefined,
    timeoutMs: integer('timeout', 30, 1) * 1000,
    maxDurationMs: integer('max-seconds', 90, 1) * 1000,
    cpuProfileDir: cpuProfileDir ? resolve(cpuProfileDir) : undefined,
    rawFile: rawFile ? resolve(rawFile) : undefined,
  };
}

const benchStarted = performance.now();

function log(message: string): void {
  const elapsed = ((performance.now() - benchStarted) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench ${elapsed} s] ${message}\n`);
}

function summary(result: PhaseResult): string {
  const running = distribution(result.cycles.map((cycle) => cycle.running));
  const errors = errorCount(result);
  return (
    `${result.cycles.length}/${result.attempted} cycles in ${ms(result.wallMs)} ms, ` +
    `create->running p50 ${ms(running.p50)} ms, p99 ${ms(running.p99)} ms, max ${ms(running.max)} ms` +
    (errors > 0 ? `, ${errors} errors` : '')
  );
}

interface Results {
  profile: SchedulerProfile | null;
  readyMs: number;
  phases: PhaseResult[];
  load: PhaseResult | null;
  /** CPU used during each phase, by its label. */
  cpu: Map<string, PhaseCpu>;
  loadAverageAfter: string;
  stop: StopOutcome | null;
  warnings: string[];
}

/** Milliseconds used during one phase. */
interface PhaseCpu {
  dev: number;
  postgres: number;
  bench: number;
  /** The main thread (event loop) of `orchard dev`: on a CPU, and runnable but waiting for one. */
  devLoop: ThreadSchedule | null;
  /** How long at least one task of the machine waited for a CPU (Linux PSI "some"). */
  pressure: number;
}

interface CpuSample {
  dev: CpuTimes | null;
  bench: NodeJS.CpuUsage;
  pressure: number;
}

function sampleCpu(cluster: DevCluster): CpuSample {
  return { dev: cluster.cpuTimes(), bench: process.cpuUsage(), pressure: cpuPressureMicros() };
}

function phaseCpu(before: CpuSample, after: CpuSample): PhaseCpu | null {
  if (!before.dev || !after.dev) return null;
  const loopBefore = before.dev.loop;
  const loopAfter = after.dev.loop;
  const benchMicros = (usage: NodeJS.CpuUsage) => usage.user + usage.system;
  return {
    dev: after.dev.devMs - before.dev.devMs,
    postgres: after.dev.postgresMs - before.dev.postgresMs,
    bench: (benchMicros(after.bench) - benchMicros(before.bench)) / 1000,
    devLoop:
      loopBefore && loopAfter
        ? { runMs: loopAfter.runMs - loopBefore.runMs, waitMs: loopAfter.waitMs - loopBefore.waitMs }
        : null,
    pressure: (after.pressure - before.pressure) / 1000,
  };
}

interface Metric {
  label: string;
  pick: (cycle: CycleTiming) => number;
}

const LATENCIES: Metric[] = [
  { label: 'create -> running', pick: (cycle) => cycle.running },
  { label: 'delete -> DELETED', pick: (cycle) => cycle.deleted },
  { label: 'create -> DELETED (whole cycle)', pick: (cycle) => cycle.total },
  { label: 'POST /v1/vms answered', pick: (cycle) => cycle.createAnswered },
  { label: 'DELETE /v1/vms/{name} answered', pick: (cycle) => cycle.deleteAnswered },
];

/** create -> running, cut where the watch shows each hand-over. */
const STAGES: Metric[] = [
  { label: '1. POST sent -> placed (scheduler pass committed)', pick: (cycle) => cycle.scheduled },
  {
    label: '2. placed -> first worker report (SyncVMs, worker lists, PUT state)',
    pick: (cycle) => cycle.reported - cycle.scheduled,
  },
  {
    label: '3. first worker report -> running (runtime, next sync pass, PUT state)',
    pick: (cycle) => cycle.running - cycle.reported,
  },
];

function distributionRows(phase: PhaseResult, metrics: Metric[], withPhase: boolean): string[][] {
  return metrics.map(({ label, pick }) => {
    const d: Distribution = distribution(phase.cycles.map(pick).filter(Number.isFinite));
    return [
      ...(withPhase ? [phase.label] : []),
      label,
      String(d.count),
      ms(d.p50),
      ms(d.p90),
      ms(d.p99),
      ms(d.max),
    ];
  });
}

function printReport(options: Options, machine: Machine, results: Results): void {
  const out: string[] = [];
  const load = results.load;
  out.push('');
  out.push('## Machine');
  out.push('');
  out.push(
    table(
      ['', ''],
      [
        ['CPU', `${machine.cores} x ${machine.model}`],
        ['Memory', `${machine.memoryGiB.toFixed(1)} GiB`],
        ['Node.js', machine.node],
        ['OS', machine.os],
        ['Load average (1/5/15 min) before / after', `${machine.loadAverage} / ${results.loadAverageAfter}`],
      ],
    ),
  );
  out.push('');
  out.push('## Setup');
  out.push('');
  out.push(
    `- \`orchard dev --workers ${options.workers} --runtime synthetic\` in a child process, ready ` +
      `${ms(results.readyMs)} ms after spawn; clients in this process, over 127.0.0.1.`,
  );
  out.push(
    `- VMs: image \`${IMAGE}\`, os darwin, \`resources: {"${TART_VMS_RESOURCE}": 0}\`: they take ` +
      `none of a worker's 2 tart-vms slots, so all ${options.clients} clients' VMs can run at once ` +
      `(with a slot each, ${options.workers} workers would run at most ${options.workers * 2}).`,
  );
  out.push(
    `- Scheduler profile: ${results.profile ?? 'unknown'}` +
      (options.profile ? ' (set by --profile)' : " (the cluster's default)") +
      '.',
  );
  out.push(
    `- Load: ${options.clients} clients x ${options.cycles} cycles; a cycle = open a watch on a new ` +
      'name, POST /v1/vms, wait for status running on the watch, DELETE, wait for DELETED. ' +
      `Before it: ${options.warmup} warm-up cycles (${WARMUP_CLIENTS} clients, discarded) and ` +
      `${options.baseline} baseline cycles (1 client).`,
  );
  out.push('');
  out.push('## Latency (ms)');
  out.push('');
  const measured = results.phases.filter((phase) => !phase.label.startsWith('warm-up'));
  out.push(
    table(
      ['Phase', 'Measure', 'n', 'p50', 'p90', 'p99', 'max'],
      measured.flatMap((phase) => distributionRows(phase, LATENCIES, true)),
    ),
  );
  out.push('');
  out.push('## Throughput and errors');
  out.push('');
  out.push(
    table(
      ['Phase', 'Cycles done / started', 'Wall s', 'Cycles/s', 'Errors'],
      results.phases.map((phase) => [
        phase.label,
        `${phase.cycles.length} / ${phase.attempted}`,
        (phase.wallMs / 1000).toFixed(1),
        ((phase.cycles.length / phase.wallMs) * 1000).toFixed(1),
        String(errorCount(phase)),
      ]),
    ),
  );
  for (const phase of results.phases) {
    for (const [step, { count, first }] of phase.errors) {
      out.push(`- ${phase.label}: ${count} failed at "${step}", first: ${first}`);
    }
    if (phase.cutShort) out.push(`- ${phase.label}: ran out of time and stopped starting cycles`);
  }
  if (load) {
    out.push('');
    out.push('## Where create -> running goes (ms)');
    out.push('');
    out.push(
      table(
        ['Phase', 'Stage', 'n', 'p50', 'p90', 'p99', 'max'],
        measured.flatMap((phase) => distributionRows(phase, STAGES, true)),
      ),
    );
    const perWorker = new Map<string, number>();
    for (const cycle of load.cycles) perWorker.set(cycle.worker, (perWorker.get(cycle.worker) ?? 0) + 1);
    out.push('');
    out.push(
      `- VMs per worker in the load: ${
        [...perWorker]
          .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
          .map(([worker, count]) => `${worker} ${count}`)
          .join(', ') || 'none'
      }.`,
    );
  }
  const costs = measured.flatMap((phase) => {
    const cpu = results.cpu.get(phase.label);
    return cpu ? [{ phase, cpu }] : [];
  });
  if (costs.length > 0) {
    out.push('');
    out.push('## CPU');
    out.push('');
    const perCycle = (phase: PhaseResult, used: number) => ms(used / Math.max(1, phase.cycles.length));
    const share = (phase: PhaseResult, used: number) => `${((used / phase.wallMs) * 100).toFixed(0)}%`;
    out.push(
      table(
        [
          'Phase',
          'orchard dev, ms/cycle',
          'its PostgreSQL, ms/cycle',
          'this bench, ms/cycle',
          'orchard dev main thread on a CPU',
          'orchard dev main thread waiting for a CPU',
          'machine: some task waiting for a CPU (PSI)',
        ],
        costs.map(({ phase, cpu }) => [
          phase.label,
          perCycle(phase, cpu.dev),
          perCycle(phase, cpu.postgres),
          perCycle(phase, cpu.bench),
          cpu.devLoop ? share(phase, cpu.devLoop.runMs) : '-',
          cpu.devLoop ? share(phase, cpu.devLoop.waitMs) : '-',
          Number.isFinite(cpu.pressure) ? share(phase, cpu.pressure) : '-',
        ]),
      ),
    );
    out.push('');
    out.push(
      `- orchard dev runs the controller and all ${options.workers} workers on one event loop (its main ` +
        `thread); ${machine.cores} cores are shared by it, its PostgreSQL, this bench and anything else on the machine.`,
    );
  }
  out.push('');
  out.push('## Aim');
  out.push('');
  if (load && load.cycles.length > 0) {
    const p99 = distribution(load.cycles.map((cycle) => cycle.running)).p99;
    out.push(
      `- create -> running p99 under ${AIM_RUNNING_P99_MS} ms with ${options.clients} concurrent clients: ` +
        `${ms(p99)} ms, ` +
        (p99 < AIM_RUNNING_P99_MS
          ? `met (${ms(AIM_RUNNING_P99_MS - p99)} ms to spare).`
          : `MISSED by ${ms(p99 - AIM_RUNNING_P99_MS)} ms (${(p99 / AIM_RUNNING_P99_MS).toFixed(1)}x).`),
    );
    // Little's law: C clients running cycles back to back complete C / (mean cycle time) a second.
    const needed = options.clients / (AIM_RUNNING_P99_MS / 1000);
    const done = (load.cycles.length / load.wallMs) * 1000;
    const cpu = results.cpu.get(load.label);
    const cpuPerCycle = cpu ? (cpu.dev + cpu.postgres + cpu.bench) / Math.max(1, load.cycles.length) : NaN;
    out.push(
      `- A cycle lasts at least its create -> running, so ${options.clients} clients cycling back to back ` +
        `under the aim complete over ${Math.round(needed)} cycles/s (Little's law). This run: ` +
        `${done.toFixed(1)} cycles/s` +
        (Number.isFinite(cpuPerCycle)
          ? `, using ${ms(cpuPerCycle)} ms of CPU per cycle (orchard dev + PostgreSQL + bench), ` +
            `so ${machine.cores} cores could complete at most ${Math.round((machine.cores * 1000) / cpuPerCycle)} cycles/s.`
          : '.'),
    );
  } else {
    out.push(`- create -> running p99 under ${AIM_RUNNING_P99_MS} ms: not measured.`);
  }
  out.push('');
  out.push('## Shutdown');
  out.push('');
  const stop = results.stop;
  if (stop) {
    out.push(
      `- One SIGINT: orchard dev exited with ${stop.signal ? `signal ${stop.signal}` : `code ${stop.code}`}` +
        `${stop.timedOut ? ' after being KILLED (no exit within 60 s)' : ''}; ` +
        (stop.leftovers.length === 0
          ? `none of its ${stop.descendantsBefore} processes (PostgreSQL postmaster and backends) outlived it.`
          : `LEFT ${stop.leftovers.length} PROCESSES RUNNING (ended by the bench): ${stop.leftovers.join('; ')}`),
    );
    out.push(`- Its log: ${stop.logFile}`);
  }
  for (const warning of results.warnings) out.push(`- ${warning}`);
  process.stdout.write(out.join('\n') + '\n');
}

async function measure(cluster: DevCluster, options: Options, results: Results, signal: AbortSignal) {
  const admin = new OrchardClient({ url: cluster.url });
  if (options.profile) await admin.setClusterSettings({ schedulerProfile: options.profile });
  results.profile = (await admin.getClusterSettings()).schedulerProfile;

  const phase = async (
    label: string,
    clients: number,
    cyclesPerClient: number,
    namePrefix: string,
    maxDurationMs: number,
  ) => {
    const total = clients * cyclesPerClient;
    log(`${label}: ${clients} client(s) x ${cyclesPerClient} cycle(s)`);
    const step = Math.max(1, Math.floor(total / 5));
    const before = sampleCpu(cluster);
    const result = await runPhase({
      label,
      url: cluster.url,
      clients,
      cyclesPerClient,
      namePrefix,
      timeoutMs: options.timeoutMs,
      maxDurationMs,
      signal,
      onCycle: (done) => {
        if (done % step === 0 && done < total) log(`  ${done}/${total} cycles done`);
      },
    });
    const cpu = phaseCpu(before, sampleCpu(cluster));
    if (cpu) results.cpu.set(label, cpu);
    results.phases.push(result);
    log(`${label}: ${summary(result)}`);
    return result;
  };

  if (options.warmup > 0) {
    const clients = Math.min(WARMUP_CLIENTS, options.warmup);
    await phase('warm-up', clients, Math.ceil(options.warmup / clients), 'warm', SIDE_PHASE_MAX_MS);
  }
  if (signal.aborted) return;
  if (options.baseline > 0) {
    await phase('baseline, 1 client', 1, options.baseline, 'base', SIDE_PHASE_MAX_MS);
  }
  if (signal.aborted) return;
  const label = `load, ${options.clients} client${options.clients === 1 ? '' : 's'}`;
  results.load = await phase(label, options.clients, options.cycles, 'load', options.maxDurationMs);
}

/** Per phase, every cycle, times in ms from the phase's start (sentAt) or as in CycleTiming. */
function rawCycles(results: Results) {
  return results.phases.map((phase) => ({
    label: phase.label,
    clients: phase.clients,
    wallMs: phase.wallMs,
    cycles: phase.cycles.map((cycle) => ({ ...cycle, sentAt: cycle.sentAt - phase.startedAt })),
  }));
}

async function main(): Promise<number> {
  const options = readOptions();
  const machine = describeMachine();
  const results: Results = {
    profile: null,
    readyMs: NaN,
    phases: [],
    load: null,
    cpu: new Map(),
    loadAverageAfter: '',
    stop: null,
    warnings: [],
  };

  // From the start: a Ctrl-C must never leave `orchard dev` (its own process group) running.
  const abort = new AbortController();
  setMaxListeners(0, abort.signal); // every watch of every client listens to it
  const onSignal = (signal: NodeJS.Signals) => {
    if (abort.signal.aborted) return;
    log(`${signal}: stopping`);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  log(`starting orchard dev: ${options.workers} workers on the synthetic runtime`);
  const spawned = performance.now();
  let cluster: DevCluster;
  try {
    cluster = await DevCluster.start({
      workers: options.workers,
      readyTimeoutMs: READY_TIMEOUT_MS,
      cpuProfileDir: options.cpuProfileDir,
      signal: abort.signal,
    });
  } catch (error) {
    if (abort.signal.aborted) return 130; // stopped by start() already
    throw error;
  }
  results.readyMs = performance.now() - spawned;
  log(`ready in ${ms(results.readyMs)} ms (pid ${cluster.pid}): ${cluster.readyLine()}`);

  let failure: unknown = null;
  try {
    await measure(cluster, options, results, abort.signal);
  } catch (error) {
    failure = error;
  } finally {
    results.loadAverageAfter = loadAverageNow();
    const problems = cluster.logLines(/\b(WARN|ERROR)\b/);
    if (problems.length > 0) {
      results.warnings.push(
        `orchard dev logged ${problems.length} warnings or errors, the first: ${problems[0].replace(/\s+/g, ' ').trim()}`,
      );
    }
    log('stopping orchard dev (SIGINT)');
    if (failure !== null) log(`orchard dev log (tail):\n${cluster.logTail()}`);
    const stopping = performance.now();
    results.stop = await cluster.stop();
    log(
      `orchard dev stopped in ${ms(performance.now() - stopping)} ms; ` +
        `processes left behind: ${results.stop.leftovers.length}`,
    );
  }
  if (abort.signal.aborted) return 130;
  printReport(options, machine, results);
  if (options.rawFile) {
    await writeFile(options.rawFile, JSON.stringify(rawCycles(results), null, 1) + '\n');
    log(`every cycle's timings in ${options.rawFile}`);
  }
  if (options.cpuProfileDir) log(`CPU profile of orchard dev in ${options.cpuProfileDir}`);
  if (failure !== null) {
    log(`FAILED: ${failure instanceof Error ? (failure.stack ?? failure.message) : inspect(failure)}`);
    return 1;
  }
  return results.stop.leftovers.length > 0 || results.stop.timedOut ? 1 : 0;
}

process.exitCode = await main().catch((error: unknown) => {
  log(`FAILED: ${error instanceof Error ? error.message : inspect(error)}`);
  return 1;
});
