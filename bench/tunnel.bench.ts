/**
 * `npm run bench:tunnel`: what a port-forward tunnel through the controller costs, against a
 * direct connection, a plain userland relay and `ssh -L`, all on 127.0.0.1.
 *
 * For each path, one connection at a time: upload (the client streams to a sink: MB/s the sink
 * received), download (a source streams to the client), echo (the client streams to an echo
 * service and reads it back: both directions at once) and ping-pong round trips of 64 bytes.
 *
 * `orchard dev --workers 1 --runtime synthetic` starts first (a child process; a VM runs on it and
 * three `orchard port-forward` CLIs stand in front of it), then paths 1 to 4 run back to back, so
 * that all four see about the same machine:
 *
 *   1. direct TCP to the bench's own sink, source and echo servers (bench/tunnel/targets.ts);
 *   2. one relay hop: the bench's relay (bench/tunnel/relay-main.ts) in a process of its own;
 *   3. ssh -L through a private sshd (127.0.0.1, throw-away keys, no system configuration), if
 *      OpenSSH's server is installed;
 *   4. the Orchard-TS tunnel through `orchard port-forward` (the CLI, its own process): the VM's
 *      echo port 7 for echo and round trips; for upload and download (the synthetic VM only
 *      echoes) `orchard port-forward worker dev-worker 0:PORT` to the same sink and source as the
 *      other paths: the same code in the controller and the worker but for the worker's last dial.
 *
 * Then 1,000 tunnels at once through path 4 (each its own TCP connection, WebSocket and gRPC
 * stream), 1 MiB each, then 64 bytes each (what opening tunnels costs), with orchard dev's peak
 * memory. Then orchard dev stops, and:
 *
 *   5. path 4 again against `orchard controller run` and `orchard worker run` in processes of
 *      their own (production's shape), on loopback; the 1 MiB round too, with the controller's
 *      peak memory, then once more from WebSocket clients that send all their bytes at once;
 *   6. the delay relay alone (+10 ms each way) in front of the bench's targets: what it adds;
 *   7. path 5 with that relay between worker and controller (the worker dials through it; the
 *      user's tunnels go straight to the controller), and its 1 MiB round.
 *
 * Flags, after `npm run bench:tunnel --` (environment variable BENCH_TUNNEL_<FLAG>, default):
 *   --mib N            (256)   MiB per upload, download and echo transfer
 *   --seconds S        (10)    time cap of each transfer and of each round-trip series
 *   --round-trips N    (2000)  ping-pong round trips per path
 *   --tunnels N        (1000)  concurrent tunnels in the many-tunnels test (0: skip it)
 *   --tunnel-kib N     (1024)  KiB each of them echoes
 *   --delay-ms N       (10)    added each way between worker and controller (0: skip 6 and 7)
 *   --forwarder M      (cli)   cli: `orchard port-forward` (the in-bench forwarder if it fails to
 *                              start); bench: the in-bench forwarder (ws + #pipe splice)
 *   --skip-ssh                 do not run path 3
 *   --cpu-prof DIR             V8 CPU profiles of orchard dev, the port-forward CLIs, and the
 *                              standalone controllers and workers, written when each exits
 *
 * Only 127.0.0.1 is ever a target. Every loop is bounded in count and time. Everything started is
 * stopped at the end, on failure and on Ctrl-C too. Exits 1 when it could not run or something
 * it started would not stop.
 */
import { chmod, copyFile as cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { inspect, parseArgs } from 'node:util';

import { OrchardClient } from '#client';

import { DevCluster, type StopOutcome } from './lifecycle/dev-cluster.js';
import {
  cpuPressureMicros,
  describeMachine,
  loadAverageNow,
  ms,
  percentile,
  table,
  type Machine,
} from './support/report.js';
import { Child, type ChildStop } from './tunnel/child.js';
import { StandaloneCluster } from './tunnel/standalone-cluster.js';
import { burstEchoes } from './tunnel/burst.js';
import { startForwarder, type Forwarder, type TunnelSpec } from './tunnel/forwarder.js';
import {
  download,
  echoStream,
  manyEchoes,
  megabytesPerSecond,
  pingPong,
  upload,
  type ManyResult,
  type RoundTrips,
  type Transfer,
} from './tunnel/measure.js';
import {
  listenOverflows,
  memory,
  ProbeSet,
  resetPeakRss,
  type Probe,
  type ProbeUsage,
} from './tunnel/proc.js';
import { cpuBreakdown, cpuTotalPerMegabyte, latency, pressure, rate } from './tunnel/report.js';
import { startSshPath, type ForwardedPorts } from './tunnel/ssh.js';
import { Targets } from './tunnel/targets.js';

const RELAY_MAIN = fileURLToPath(new URL('./tunnel/relay-main.js', import.meta.url));
const LOGS = join(tmpdir(), 'orchard-bench-tunnel-logs');
const DEV_VM = 'tunnel-bench';
const DEV_WORKER = 'dev-worker';
/** The synthetic VM echoes on every port but 22. */
const ECHO_PORT = 7;
const READY_TIMEOUT_MS = 120_000;
const VM_RUNNING_TIMEOUT_MS = 60_000;
/** The many-tunnels test gives up on what is not done by then. */
const MANY_TIMEOUT_MS = 60_000;
const RSS_SAMPLE_MS = 50;
/** The second many-tunnels round: so little that it measures opening and closing tunnels. */
const MANY_SMALL_BYTES = 64;
const MIB = 2 ** 20;

const AIM_SSH_THROUGHPUT = 1.5;
const AIM_SSH_LATENCY = 2;
const AIM_MANY_MS = 5_000;
const AIM_MANY_RSS = 256 * MIB;
const AIM_DELAYED_MBPS = 30;

interface Options {
  bytes: number;
  maxMs: number;
  roundTrips: number;
  tunnels: number;
  tunnelBytes: number;
  delayMs: number;
  forwarder: 'cli' | 'bench';
  ssh: boolean;
  cpuProfileDir: string | undefined;
}

function readOptions(): Options {
  const { values } = parseArgs({
    options: {
      mib: { type: 'string' },
      seconds: { type: 'string' },
      'round-trips': { type: 'string' },
      tunnels: { type: 'string' },
      'tunnel-kib': { type: 'string' },
      'delay-ms': { type: 'string' },
      forwarder: { type: 'string' },
      'skip-ssh': { type: 'boolean' },
      'cpu-prof': { type: 'string' },
    },
  });
  const setting = (flag: string): string | undefined =>
    (values as Record<string, string | boolean | undefined>)[flag]?.toString() ??
    process.env[`BENCH_TUNNEL_${flag.toUpperCase().replace(/-/g, '_')}`];
  const integer = (flag: string, fallback: number, minimum: number, maximum: number): number => {
    const text = setting(flag);
    if (text === undefined || text === '') return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < minimum || value > maximum) {
      throw new Error(`--${flag} must be an integer from ${minimum} to ${maximum}, not "${text}"`);
    }
    return value;
  };
  const forwarder = setting('forwarder') ?? 'cli';
  if (forwarder !== 'cli' && forwarder !== 'bench') {
    throw new Error(`--forwarder must be cli or bench, not "${forwarder}"`);
  }
  const cpuProfileDir = setting('cpu-prof');
  return {
    bytes: integer('mib', 256, 1, 4096) * MIB,
    maxMs: integer('seconds', 10, 1, 120) * 1000,
    roundTrips: integer('round-trips', 2000, 1, 100_000),
    tunnels: integer('tunnels', 1000, 0, 5000),
    tunnelBytes: integer('tunnel-kib', 1024, 1, 64 * 1024) * 1024,
    delayMs: integer('delay-ms', 10, 0, 1000),
    forwarder,
    ssh: !['true', '1'].includes(setting('skip-ssh') ?? ''),
    cpuProfileDir: cpuProfileDir ? resolve(cpuProfileDir) : undefined,
  };
}

const benchStarted = performance.now();

function log(message: string): void {
  const elapsed = ((performance.now() - benchStarted) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench ${elapsed} s] ${message}\n`);
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

interface PathResult {
  label: string;
  skipped: string | null;
  upload: Transfer | null;
  download: Transfer | null;
  echo: Transfer | null;
  rtt: RoundTrips | null;
  /** Resident memory of the controller process after the path's tests, by process. */
  memory: string;
}

interface ManyReport {
  /** Which cluster, and the process whose memory is measured ('orchard dev', 'controller'). */
  cluster: string;
  measured: string;
  bytesEach: number;
  result: ManyResult;
  cpu: ProbeUsage[];
  rssBefore: number;
  rssAfter: number;
  /** Highest VmRSS seen by sampling every 50 ms. */
  rssPeakSampled: number;
  /** VmHWM (reset just before the test): the kernel's own peak. NaN when the reset was refused. */
  rssPeakKernel: number;
  cliPeak: number;
  /** Connections turned away by a full accept queue during the test (the whole machine). */
  listenOverflows: number;
  samples: number;
  maxGapMs: number;
}

interface Results {
  paths: PathResult[];
  /** 1,000 tunnels of 1 MiB, then of 64 bytes (what opening them costs). */
  many: ManyReport[];
  notes: string[];
  stops: string[];
  leftovers: string[];
  loadAverageAfter: string;
  pressureMs: number;
  wallMs: number;
}

interface ProbesByTarget {
  sink: Probe[];
  source: Probe[];
  echo: Probe[];
}

const SELF: Probe = { label: 'bench', pid: 'self' };

async function measurePath(
  label: string,
  ports: ForwardedPorts,
  probes: ProbesByTarget,
  options: Options,
  targets: Targets,
  signal: AbortSignal,
): Promise<PathResult> {
  const result: PathResult = {
    label,
    skipped: null,
    upload: null,
    download: null,
    echo: null,
    rtt: null,
    memory: '',
  };
  const transfer = { bytes: options.bytes, maxMs: options.maxMs };
  const say = (what: string, value: Transfer) =>
    log(
      `  ${what}: ${value.error ?? `${(value.bytes / MIB).toFixed(0)} MiB in ${ms(value.ms)} ms = ${rate(value)} MB/s`}`,
    );
  log(`${label}`);
  if (signal.aborted) return result;
  result.upload = await upload(ports.sink, targets, { ...transfer, probes: probes.sink });
  say('upload', result.upload);
  if (signal.aborted) return result;
  result.download = await download(ports.source, targets, { ...transfer, probes: probes.source });
  say('download', result.download);
  if (signal.aborted) return result;
  result.echo = await echoStream(ports.echo, { ...transfer, probes: probes.echo });
  say('echo', result.echo);
  if (signal.aborted) return result;
  result.rtt = await pingPong(ports.echo, options.roundTrips, options.maxMs);
  const rtt = latency(result.rtt);
  log(
    `  round trips: ${rtt.count}, p50 ${ms(rtt.p50)} ms, p99 ${ms(rtt.p99)} ms` +
      (result.rtt.error ? `, failed: ${result.rtt.error}` : ''),
  );
  return result;
}

const skipped = (label: string, reason: string): PathResult => ({
  label,
  skipped: reason,
  upload: null,
  download: null,
  echo: null,
  rtt: null,
  memory: '',
});

const rssText = (bytes: number) => (Number.isFinite(bytes) ? `${(bytes / MIB).toFixed(0)} MiB` : '-');
const rssOf = (pid: number | undefined) => (pid === undefined ? NaN : (memory(pid)?.rssBytes ?? NaN));

/** The relay, as a process of its own, in front of the three targets. */
/**
 * The bench's relay, as a process of its own, in front of the three targets: the plain relay
 * (path 2), or with `delayMs` the delay relay alone (what it adds by itself, before path 5).
 */
async function relayPath(
  runDir: string,
  delayMs: number,
  options: Options,
  targets: Targets,
  signal: AbortSignal,
  results: Results,
): Promise<PathResult> {
  const label = delayMs > 0 ? `delay relay alone, +${delayMs} ms each way` : 'relay (one userland hop)';
  const name = delayMs > 0 ? 'delay relay (alone)' : 'relay';
  const relay = new Child({
    name,
    command: process.execPath,
    args: [
      RELAY_MAIN,
      '--delay-ms',
      String(delayMs),
      ...[
        '--to',
        String(targets.sinkPort),
        '--to',
        String(targets.sourcePort),
        '--to',
        String(targets.echoPort),
      ],
    ],
    logFile: join(runDir, delayMs > 0 ? 'delay-relay-alone.log' : 'relay.log'),
    stopSignal: 'SIGTERM',
    stopTimeoutMs: 5_000,
    stdinPipe: true,
  });
  try {
    await relay.waitForLine(/relay ready/, 10_000, signal);
    const portFor = (target: number) =>
      Number(new RegExp(`127\\.0\\.0\\.1:(\\d+) -> 127\\.0\\.0\\.1:${target}\\b`).exec(relay.log())?.[1]);
    const ports = {
      sink: portFor(targets.sinkPort),
      source: portFor(targets.sourcePort),
      echo: portFor(targets.echoPort),
    };
    const probes = [SELF, { label: name, pid: relay.pid ?? -1 }];
    return await measurePath(
      label,
      ports,
      { sink: probes, source: probes, echo: probes },
      options,
      targets,
      signal,
    );
  } catch (error) {
    return skipped(label, `failed: ${messageOf(error)}`);
  } finally {
    noteStop(results, await relay.stop());
  }
}

function noteStop(results: Results, stop: ChildStop | null): void {
  if (!stop) return;
  const how = stop.killed
    ? 'KILLED after ignoring its stop signal'
    : stop.signal
      ? `signal ${stop.signal}`
      : `code ${stop.code}`;
  results.stops.push(`${stop.name}: exited (${how})`);
  results.leftovers.push(...stop.leftovers.map((line) => `${stop.name} left ${line}`));
}

async function sshPath(
  runDir: string,
  options: Options,
  targets: Targets,
  signal: AbortSignal,
  results: Results,
) {
  const dir = join(runDir, 'ssh');
  await mkdir(dir, { mode: 0o700 });
  const path = await startSshPath(dir, targets);
  if (typeof path === 'string') {
    log(`ssh -L: skipped: ${path}`);
    return skipped('ssh -L', path);
  }
  try {
    const probes = [SELF, ...path.probes];
    return await measurePath(
      `ssh -L (${path.version}, ${path.cipher})`,
      path.ports,
      { sink: probes, source: probes, echo: probes },
      options,
      targets,
      signal,
    );
  } finally {
    for (const stop of await path.stop()) noteStop(results, stop);
  }
}

async function waitForRunning(client: OrchardClient, name: string, signal: AbortSignal): Promise<void> {
  const deadline = performance.now() + VM_RUNNING_TIMEOUT_MS;
  for (;;) {
    const vm = await client.getVm(name);
    if (vm.status === 'running') return;
    if (vm.status === 'failed') throw new Error(`VM ${name} failed: ${vm.status_message ?? ''}`);
    if (performance.now() > deadline || signal.aborted)
      throw new Error(`VM ${name} is not running (${vm.status})`);
    await sleep(200);
  }
}

/** The three port forwards of a cluster: worker -> sink, worker -> source, VM -> echo port. */
async function openForwarders(
  base: Omit<TunnelSpec, 'kind' | 'name' | 'remotePort'>,
  worker: string,
  vm: string,
  tag: string,
  runDir: string,
  home: string,
  options: Options,
  targets: Targets,
  results: Results,
): Promise<{ sink: Forwarder; source: Forwarder; echo: Forwarder; all: Forwarder[] }> {
  const all: Forwarder[] = [];
  const open = async (spec: TunnelSpec, what: string) => {
    const forwarder = await startForwarder(
      spec,
      options.forwarder,
      { home, cpuProfileDir: options.cpuProfileDir, dir: runDir, tag: `${tag}-${what}` },
      (line) => {
        results.notes.push(line);
        log(line);
      },
    );
    all.push(forwarder);
    return forwarder;
  };
  try {
    const sink = await open({ ...base, kind: 'worker', name: worker, remotePort: targets.sinkPort }, 'sink');
    const source = await open(
      { ...base, kind: 'worker', name: worker, remotePort: targets.sourcePort },
      'source',
    );
    const echo = await open({ ...base, kind: 'vm', name: vm, remotePort: ECHO_PORT }, 'echo');
    return { sink, source, echo, all };
  } catch (error) {
    await stopForwarders(all, results);
    throw error;
  }
}

async function stopForwarders(forwarders: Forwarder[], results: Results): Promise<void> {
  for (const forwarder of forwarders) noteStop(results, await forwarder.stop());
}

const forwardedPorts = (forwarders: {
  sink: Forwarder;
  source: Forwarder;
  echo: Forwarder;
}): ForwardedPorts => ({
  sink: forwarders.sink.port,
  source: forwarders.source.port,
  echo: forwarders.echo.port,
});

function forwarderProbes(forwarders: { sink: Forwarder; source: Forwarder; echo: Forwarder }, rest: Probe[]) {
  const probes = (forwarder: Forwarder) => [SELF, ...(forwarder.probe ? [forwarder.probe] : []), ...rest];
  return { sink: probes(forwarders.sink), source: probes(forwarders.source), echo: probes(forwarders.echo) };
}

/** manyEchoes through a local forwarder's port. */
const throughPort =
  (port: number) =>
  (count: number, bytesEach: number, timeoutMs: number): Promise<ManyResult> =>
    manyEchoes(port, count, bytesEach, timeoutMs);

async function manyTunnels(
  echoes: (count: number, bytesEach: number, timeoutMs: number) => Promise<ManyResult>,
  measured: { cluster: string; label: string; pid: number },
  cliPid: number | 'self' | undefined,
  probes: Probe[],
  count: number,
  bytesEach: number,
): Promise<ManyReport> {
  const devPid = measured.pid;
  log(
    `${count} tunnels of ${bytesEach >= 1024 ? `${bytesEach / 1024} KiB` : `${bytesEach} bytes`} each, all at once (${measured.cluster})`,
  );
  const rssBefore = rssOf(devPid);
  const kernelPeak = resetPeakRss(devPid);
  let rssPeakSampled = rssBefore;
  let cliPeak = typeof cliPid === 'number' ? rssOf(cliPid) : NaN;
  let samples = 0;
  let maxGapMs = 0;
  let lastSample = performance.now();
  const sampler = setInterval(() => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - lastSample);
    lastSample = now;
    samples++;
    rssPeakSampled = Math.max(rssPeakSampled, rssOf(devPid));
    if (typeof cliPid === 'number') cliPeak = Math.max(cliPeak, rssOf(cliPid));
  }, RSS_SAMPLE_MS);
  const usage = new ProbeSet(probes);
  const overflowsBefore = listenOverflows();
  let result: ManyResult;
  try {
    result = await echoes(count, bytesEach, MANY_TIMEOUT_MS);
  } finally {
    clearInterval(sampler);
  }
  const overflows = listenOverflows() - overflowsBefore;
  const rssPeakKernel = kernelPeak ? (memory(devPid)?.peakBytes ?? NaN) : NaN;
  const cpu = usage.finish().usage;
  await sleep(2_000); // the tunnels close asynchronously after their connections
  const rssAfter = rssOf(devPid);
  const errors = [...result.errors].map(([message, count]) => `${count} x ${message}`).join('; ');
  log(
    `  ${result.ok}/${result.count} ok in ${ms(result.wallMs)} ms` +
      (errors ? `, errors: ${errors}` : '') +
      `; ${measured.label} RSS ${rssText(rssBefore)} -> peak ${rssText(Math.max(rssPeakSampled, rssPeakKernel || 0))}`,
  );
  return {
    cluster: measured.cluster,
    measured: measured.label,
    bytesEach,
    result,
    cpu,
    rssBefore,
    rssAfter,
    rssPeakSampled,
    rssPeakKernel,
    cliPeak,
    listenOverflows: overflows,
    samples,
    maxGapMs,
  };
}

async function tunnelPath(
  runDir: string,
  home: string,
  options: Options,
  targets: Targets,
  signal: AbortSignal,
  results: Results,
  baselines: () => Promise<void>,
): Promise<void> {
  const label = 'Orchard-TS tunnel (orchard dev)';
  log('starting orchard dev --workers 1 --runtime synthetic');
  let cluster: DevCluster;
  try {
    cluster = await DevCluster.start({
      workers: 1,
      readyTimeoutMs: READY_TIMEOUT_MS,
      cpuProfileDir: options.cpuProfileDir,
      signal,
    });
  } catch (error) {
    results.paths.push(skipped(label, `orchard dev did not start: ${messageOf(error).split('\n')[0]}`));
    throw error;
  }
  let forwarders: Awaited<ReturnType<typeof openForwarders>> | null = null;
  try {
    const devPid = cluster.pid ?? -1;
    log(`orchard dev ready (pid ${devPid}), RSS ${rssText(rssOf(devPid))}`);
    const client = new OrchardClient({ url: cluster.url });
    await client.createVm({ name: DEV_VM, image: 'x' });
    await waitForRunning(client, DEV_VM, signal);
    const rssIdle = rssOf(devPid);
    forwarders = await openForwarders(
      { url: cluster.url },
      DEV_WORKER,
      DEV_VM,
      'dev',
      runDir,
      home,
      options,
      targets,
      results,
    );
    // The other paths run now, back to back with this one, so that all four see about the same
    // machine (a shared one: its load moves within a minute); the idle cluster waits meanwhile.
    await baselines();
    if (signal.aborted) return;
    const via = forwarders.echo.via === 'cli' ? 'orchard port-forward' : 'in-bench forwarder';
    const path = await measurePath(
      `${label}, ${via}`,
      forwardedPorts(forwarders),
      forwarderProbes(forwarders, [{ label: 'orchard dev', pid: devPid }]),
      options,
      targets,
      signal,
    );
    path.memory = `orchard dev ${rssText(rssIdle)} idle, ${rssText(rssOf(devPid))} after`;
    results.paths.push(path);
    if (options.tunnels > 0 && !signal.aborted) {
      const probes = [
        SELF,
        ...(forwarders.echo.probe ? [forwarders.echo.probe] : []),
        { label: 'orchard dev', pid: devPid },
      ];
      for (const bytesEach of [options.tunnelBytes, MANY_SMALL_BYTES]) {
        if (signal.aborted) break;
        results.many.push(
          await manyTunnels(
            throughPort(forwarders.echo.port),
            { cluster: 'orchard dev', label: 'orchard dev', pid: devPid },
            forwarders.echo.probe?.pid,
            probes,
            options.tunnels,
            bytesEach,
          ),
        );
      }
    }
  } finally {
    if (forwarders) await stopForwarders(forwarders.all, results);
    log('stopping orchard dev (SIGINT)');
    const stop: StopOutcome = await cluster.stop();
    results.stops.push(
      `orchard dev: exited (${stop.signal ? `signal ${stop.signal}` : `code ${stop.code}`}${stop.timedOut ? ', KILLED after 60 s' : ''}), ` +
        `${stop.descendantsBefore} PostgreSQL processes before, ${stop.leftovers.length} left after`,
    );
    results.leftovers.push(...stop.leftovers.map((line) => `orchard dev left ${line}`));
    await cp(stop.logFile, join(LOGS, 'orchard-dev.log')).catch(() => undefined);
  }
}

/**
 * Path 4 against `orchard controller run` and `orchard worker run` in processes of their own, as
 * in production: on loopback (`delayMs` 0), or with the delay relay between worker and controller.
 */
async function standalonePath(
  runDir: string,
  home: string,
  delayMs: number,
  options: Options,
  targets: Targets,
  signal: AbortSignal,
  results: Results,
): Promise<void> {
  const tag = delayMs > 0 ? 'delayed' : 'standalone';
  const where = delayMs > 0 ? `+${delayMs} ms each way` : 'loopback';
  const label =
    delayMs > 0
      ? `Orchard-TS tunnel, +${delayMs} ms each way worker <-> controller`
      : 'Orchard-TS tunnel (controller, worker: own processes)';
  const clusterName = `controller + worker, ${where}`;
  const dir = join(runDir, tag);
  await mkdir(dir, { mode: 0o755 });
  let cluster: StandaloneCluster | null = null;
  let forwarders: Awaited<ReturnType<typeof openForwarders>> | null = null;
  try {
    cluster = await StandaloneCluster.start({
      dir,
      tag,
      delayMs,
      cpuProfileDir: options.cpuProfileDir,
      signal,
      log,
    });
    log(
      `${tag} cluster ready in ${ms(cluster.startMs)} ms; VM ${cluster.vm} running on worker "${cluster.worker}"`,
    );
    forwarders = await openForwarders(
      { url: cluster.url, account: cluster.account },
      cluster.worker,
      cluster.vm,
      tag,
      runDir,
      home,
      options,
      targets,
      results,
    );
    const controllerPid = cluster.controllerPid ?? -1;
    const path = await measurePath(
      label,
      forwardedPorts(forwarders),
      forwarderProbes(forwarders, [
        { label: 'controller', pid: controllerPid },
        { label: 'worker', pid: cluster.workerPid ?? -1 },
        ...(delayMs > 0 ? [{ label: 'delay relay', pid: cluster.relayPid ?? -1 }] : []),
      ]),
      options,
      targets,
      signal,
    );
    path.memory = `controller ${rssText(rssOf(controllerPid))}, worker ${rssText(rssOf(cluster.workerPid))}`;
    results.paths.push(path);
    // The memory aim is the controller's: here it runs as in production, in a process of its own.
    if (options.tunnels > 0 && !signal.aborted) {
      results.many.push(
        await manyTunnels(
          throughPort(forwarders.echo.port),
          { cluster: clusterName, label: 'controller', pid: controllerPid },
          forwarders.echo.probe?.pid,
          [
            SELF,
            ...(forwarders.echo.probe ? [forwarders.echo.probe] : []),
            { label: 'controller', pid: controllerPid },
            { label: 'worker', pid: cluster.workerPid ?? -1 },
          ],
          options.tunnels,
          options.tunnelBytes,
        ),
      );
    }
    // The same round straight from WebSocket clients that send all their bytes the moment they
    // are open (no forwarder to pace them): the harshest load on the controller's memory. (The
    // same load, on a worker connection fresh enough that its TCP buffers were still small, is
    // what deadlocked in Node's HTTP/2 before the controller's AlwaysReadingSocket; the rounds
    // before this one have grown them, so this round does not reproduce that by itself:
    // connection-multiplexer.spec.ts does.)
    if (delayMs === 0 && options.tunnels > 0 && !signal.aborted) {
      const url = `${cluster.url.replace(/^http/, 'ws')}/v1/vms/${encodeURIComponent(cluster.vm)}/port-forward?port=${ECHO_PORT}&wait=60`;
      const headers = {
        authorization:
          'Basic ' + Buffer.from(`${cluster.account.name}:${cluster.account.token}`).toString('base64'),
      };
      results.many.push(
        await manyTunnels(
          (count, bytesEach, timeoutMs) => burstEchoes(url, headers, count, bytesEach, timeoutMs),
          { cluster: `${clusterName}, WebSocket burst`, label: 'controller', pid: controllerPid },
          undefined,
          [
            SELF,
            { label: 'controller', pid: controllerPid },
            { label: 'worker', pid: cluster.workerPid ?? -1 },
          ],
          options.tunnels,
          options.tunnelBytes,
        ),
      );
    }
  } catch (error) {
    results.paths.push(skipped(label, `failed: ${messageOf(error).split('\n')[0]}`));
    if (cluster) log(`${tag} cluster logs (tail):\n${cluster.logTails()}`);
  } finally {
    if (forwarders) await stopForwarders(forwarders.all, results);
    if (cluster) {
      log(`stopping the ${tag} cluster`);
      const { outcomes, postgresLeftRunning } = await cluster.stop();
      for (const outcome of outcomes) noteStop(results, outcome);
      if (postgresLeftRunning) results.leftovers.push(`the ${tag} controller left its PostgreSQL running`);
    }
    for (const name of [`controller-${tag}.log`, `worker-${tag}.log`, 'delay-relay.log']) {
      await cp(join(dir, name), join(LOGS, name)).catch(() => undefined);
    }
  }
}

function printReport(options: Options, machine: Machine, results: Results): void {
  const out: string[] = [''];
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
        [
          'CPU pressure (PSI some) over the run',
          Number.isFinite(results.pressureMs)
            ? `${((results.pressureMs / results.wallMs) * 100).toFixed(0)}% of the time`
            : '-',
        ],
        ['Run time', `${(results.wallMs / 1000).toFixed(0)} s`],
      ],
    ),
  );
  out.push('');
  out.push(
    `## One connection at a time (${options.bytes / MIB} MiB per transfer, ${options.maxMs / 1000} s cap)`,
  );
  out.push('');
  out.push(
    table(
      [
        'Path',
        'Upload MB/s',
        'Download MB/s',
        'Echo MB/s',
        'RTT p50 ms',
        'RTT p99 ms',
        'RTT max ms',
        'Round trips',
        'Controller RSS',
      ],
      results.paths.map((path) => {
        if (path.skipped) return [path.label, `skipped: ${path.skipped}`, '', '', '', '', '', '', ''];
        const rtt = latency(path.rtt);
        return [
          path.label,
          rate(path.upload),
          rate(path.download),
          rate(path.echo),
          ms(rtt.p50),
          ms(rtt.p99),
          ms(rtt.max),
          String(rtt.count),
          path.memory || '-',
        ];
      }),
    ),
  );
  out.push('');
  out.push(
    '- MB/s = 10^6 bytes a second. Upload: what the sink received, from the first byte sent to the last received. ' +
      "Download: from the source's first byte to the client's last. Echo: the client streams to an echo service " +
      'and reads it back at once; the rate is what came back (each direction carried that much). `*`: the time cap ended it first.',
  );
  out.push(
    `- Round trips: ${options.roundTrips} ping-pongs of 64 bytes (after 20 unmeasured), at most ${options.maxMs / 1000} s.`,
  );
  out.push(
    '- orchard dev runs the controller and its worker in one process (one event loop): its RSS is both. ' +
      "The tunnel rows reach the VM echo port 7 for echo and round trips, and the worker's loopback (port-forward worker) for upload and download.",
  );
  const failures = results.paths.flatMap((path) =>
    [
      ['upload', path.upload?.error],
      ['download', path.download?.error],
      ['echo', path.echo?.error],
      ['round trips', path.rtt?.error],
    ].flatMap(([what, error]) => (error ? [`- ${path.label}, ${what} FAILED: ${error}`] : [])),
  );
  out.push(...failures);
  out.push('');
  out.push('## CPU per MB moved, by process');
  out.push('');
  out.push(
    table(
      [
        'Path',
        'Transfer',
        'MB/s',
        'CPU ms/MB, all',
        'Machine CPU pressure',
        'by process: ms/MB (main thread on a CPU / waiting for one, share of the time)',
      ],
      results.paths.flatMap((path) =>
        path.skipped
          ? []
          : (
              [
                ['upload', path.upload],
                ['download', path.download],
                ['echo', path.echo],
              ] as const
            ).map(([what, transfer]) => [
              path.label,
              what,
              rate(transfer),
              cpuTotalPerMegabyte(transfer),
              pressure(transfer),
              cpuBreakdown(transfer),
            ]),
      ),
    ),
  );
  out.push('');
  out.push(
    '- From /proc: CPU of every thread of each process during the transfer, per MB that crossed; for echo, per MB ' +
      'each way. A main thread on a CPU close to 100% of the time is the bottleneck of its path; one that waits ' +
      'for a CPU most of the time is starved by the rest of the machine. Machine CPU pressure: the share of the ' +
      'transfer during which some task waited for a CPU (PSI "some").',
  );
  if (results.many.length > 0) {
    const rounds = results.many;
    const size = (bytes: number) => (bytes >= 1024 ? `${bytes / 1024} KiB` : `${bytes} B`);
    out.push('');
    out.push(`## ${rounds[0].result.count} tunnels at once through orchard port-forward`);
    out.push('');
    const row = (label: string, cell: (many: ManyReport) => string) => [label, ...rounds.map(cell)];
    const sorted = (many: ManyReport) => [...many.result.durations].sort((a, b) => a - b);
    const cpuLabels = [...new Set(rounds.flatMap((many) => many.cpu.map((usage) => usage.label)))];
    out.push(
      table(
        ['', ...rounds.map((many) => `${size(many.bytesEach)} each, ${many.cluster}`)],
        [
          row('Tunnels done / started', (many) => `${many.result.ok} / ${many.result.count}`),
          row(
            'Errors',
            (many) =>
              [...many.result.errors].map(([message, count]) => `${count} x ${message}`).join('; ') || 'none',
          ),
          row('Total time', (many) => `${ms(many.result.wallMs)} ms`),
          row('Tunnels a second', (many) => ((many.result.ok / many.result.wallMs) * 1000).toFixed(0)),
          row('Echoed, each way', (many) =>
            many.bytesEach < 1024
              ? '-'
              : `${((many.result.ok * many.bytesEach) / 1e6 / (many.result.wallMs / 1000)).toFixed(1)} MB/s`,
          ),
          row('Per tunnel, connect -> last byte back: p50 / p99 / max (ms)', (many) => {
            const times = sorted(many);
            return `${ms(percentile(times, 0.5))} / ${ms(percentile(times, 0.99))} / ${ms(times[times.length - 1] ?? NaN)}`;
          }),
          row('Process measured', (many) => many.measured),
          row(
            'Its RSS before / 2 s after',
            (many) => `${rssText(many.rssBefore)} / ${rssText(many.rssAfter)}`,
          ),
          row(
            'Its RSS peak: VmHWM / sampled every 50 ms',
            (many) => `${rssText(many.rssPeakKernel)} / ${rssText(many.rssPeakSampled)}`,
          ),
          row('RSS samples, longest gap between two', (many) => `${many.samples}, ${ms(many.maxGapMs)} ms`),
          row('port-forward CLI RSS peak (sampled)', (many) => rssText(many.cliPeak)),
          row('Accept-queue overflows (TcpExt ListenOverflows, whole machine)', (many) =>
            Number.isFinite(many.listenOverflows) ? String(many.listenOverflows) : '-',
          ),
          ...cpuLabels.map((label) =>
            row(`CPU ${label}: all threads / main thread on a CPU / waiting (ms)`, (many) => {
              const usage = many.cpu.find((candidate) => candidate.label === label);
              return usage ? `${ms(usage.cpuMs)} / ${ms(usage.runMs)} / ${ms(usage.waitMs)}` : '-';
            }),
          ),
        ],
      ),
    );
    out.push('');
    out.push(
      '- Each tunnel: its own TCP connection to the CLI, so its own WebSocket to the controller, gRPC stream to the ' +
        'worker and connection to the VM echo port; it writes its bytes, reads them back (checked byte for byte), closes.',
    );
  }
  out.push('');
  out.push('## Against the aims');
  out.push('');
  out.push(...aims(options, results));
  out.push('');
  out.push('## Notes and shutdown');
  out.push('');
  for (const note of results.notes) out.push(`- ${note}`);
  for (const stop of results.stops) out.push(`- ${stop}`);
  out.push(
    results.leftovers.length === 0
      ? '- No process outlived the bench.'
      : `- LEFT BEHIND (ended by the bench): ${results.leftovers.join('; ')}`,
  );
  out.push(`- Logs: ${LOGS}`);
  process.stdout.write(out.join('\n') + '\n');
}

function aims(options: Options, results: Results): string[] {
  const lines: string[] = [];
  const verdict = (met: boolean) => (met ? 'met' : 'MISSED');
  const find = (prefix: string) =>
    results.paths.find((path) => path.label.startsWith(prefix) && !path.skipped);
  const ssh = find('ssh -L');
  const delayed = find('Orchard-TS tunnel, +');
  const mbps = (transfer: Transfer | null | undefined) =>
    transfer && transfer.error === null ? megabytesPerSecond(transfer) : NaN;
  const loopbackTunnels = [
    ['orchard dev', find('Orchard-TS tunnel (orchard dev)')],
    ['controller and worker in their own processes', find('Orchard-TS tunnel (controller, worker')],
  ] as const;
  for (const [name, tunnel] of loopbackTunnels) {
    if (!ssh || !tunnel) {
      lines.push(`- Against ssh -L (${name}): not measured (a path was skipped).`);
      continue;
    }
    for (const [what, pick] of [
      ['upload', (path: PathResult) => path.upload],
      ['download', (path: PathResult) => path.download],
    ] as const) {
      const ratio = mbps(pick(tunnel)) / mbps(pick(ssh));
      lines.push(
        `- Loopback ${what} at least ${AIM_SSH_THROUGHPUT}x ssh -L (${name}): ${rate(pick(tunnel))} vs ${rate(pick(ssh))} MB/s = ` +
          `${ratio.toFixed(2)}x, ${verdict(ratio >= AIM_SSH_THROUGHPUT)}.`,
      );
    }
    const t = latency(tunnel.rtt);
    const s = latency(ssh.rtt);
    for (const [what, mine, theirs] of [
      ['p50', t.p50, s.p50],
      ['p99', t.p99, s.p99],
    ] as const) {
      lines.push(
        `- Echo ${what} within ${AIM_SSH_LATENCY}x of ssh -L (${name}): ${ms(mine)} vs ${ms(theirs)} ms = ${(mine / theirs).toFixed(2)}x, ` +
          `${verdict(mine <= AIM_SSH_LATENCY * theirs)}.`,
      );
    }
  }
  const peakOf = (round: ManyReport) =>
    Math.max(
      Number.isFinite(round.rssPeakSampled) ? round.rssPeakSampled : 0,
      Number.isFinite(round.rssPeakKernel) ? round.rssPeakKernel : 0,
    );
  const many = results.many.find(
    (round) => round.bytesEach === options.tunnelBytes && round.cluster === 'orchard dev',
  );
  if (many) {
    const peak = peakOf(many);
    const allOk = many.result.ok === many.result.count;
    lines.push(
      `- ${many.result.count} tunnels x ${options.tunnelBytes / 1024} KiB in under ${AIM_MANY_MS / 1000} s: ${ms(many.result.wallMs)} ms` +
        `${allOk ? '' : ` with ${many.result.count - many.result.ok} failures`}, ${verdict(allOk && many.result.wallMs < AIM_MANY_MS)}; ` +
        `RSS under ${AIM_MANY_RSS / MIB} MiB: orchard dev (controller, worker and VMs in one process) peak ${rssText(peak)}, ${verdict(peak < AIM_MANY_RSS)}.`,
    );
  }
  for (const standalone of results.many.filter((round) => round.measured === 'controller')) {
    const peak = peakOf(standalone);
    const allOk = standalone.result.ok === standalone.result.count;
    lines.push(
      `- The same against a controller in its own process (${standalone.cluster}): ${ms(standalone.result.wallMs)} ms` +
        `${allOk ? '' : ` with ${standalone.result.count - standalone.result.ok} failures`}; ` +
        `controller RSS under ${AIM_MANY_RSS / MIB} MiB: peak ${rssText(peak)}, ${verdict(allOk && peak < AIM_MANY_RSS)}.`,
    );
  }
  if (delayed) {
    const up = mbps(delayed.upload);
    const down = mbps(delayed.download);
    lines.push(
      `- With ${2 * options.delayMs} ms between worker and controller, at least ${AIM_DELAYED_MBPS} MB/s both ways: upload ${rate(delayed.upload)}, ` +
        `download ${rate(delayed.download)} MB/s, ${verdict(up >= AIM_DELAYED_MBPS && down >= AIM_DELAYED_MBPS)}.`,
    );
  }
  return lines;
}

async function main(): Promise<number> {
  const options = readOptions();
  const machine = describeMachine();
  const abort = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (abort.signal.aborted) return;
    log(`${signal}: stopping`);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const results: Results = {
    paths: [],
    many: [],
    notes: [],
    stops: [],
    leftovers: [],
    loadAverageAfter: '',
    pressureMs: NaN,
    wallMs: NaN,
  };
  const pressureBefore = cpuPressureMicros();
  await rm(LOGS, { recursive: true, force: true });
  await mkdir(LOGS, { recursive: true });
  const runDir = await mkdtemp(join(tmpdir(), 'orchard-bench-tunnel-'));
  // As root, embedded PostgreSQL runs as `postgres` and must reach its data directory inside.
  await chmod(runDir, 0o755);
  const home = join(runDir, 'home');
  await mkdir(home, { mode: 0o700 });
  if (options.cpuProfileDir) await mkdir(options.cpuProfileDir, { recursive: true });
  const targets = new Targets();
  let failure: unknown = null;
  try {
    await targets.start();
    log(
      `targets on 127.0.0.1: sink ${targets.sinkPort}, source ${targets.sourcePort}, echo ${targets.echoPort}`,
    );
    const baselines = async () => {
      const direct = { sink: targets.sinkPort, source: targets.sourcePort, echo: targets.echoPort };
      const self = { sink: [SELF], source: [SELF], echo: [SELF] };
      results.paths.push(await measurePath('direct TCP', direct, self, options, targets, abort.signal));
      if (abort.signal.aborted) return;
      results.paths.push(await relayPath(runDir, 0, options, targets, abort.signal, results));
      if (abort.signal.aborted) return;
      results.paths.push(
        options.ssh
          ? await sshPath(runDir, options, targets, abort.signal, results)
          : skipped('ssh -L', '--skip-ssh'),
      );
    };
    await tunnelPath(runDir, home, options, targets, abort.signal, results, baselines);
    if (!abort.signal.aborted) {
      await standalonePath(runDir, home, 0, options, targets, abort.signal, results);
    }
    if (!abort.signal.aborted && options.delayMs > 0) {
      results.paths.push(await relayPath(runDir, options.delayMs, options, targets, abort.signal, results));
    }
    if (!abort.signal.aborted && options.delayMs > 0) {
      await standalonePath(runDir, home, options.delayMs, options, targets, abort.signal, results);
    }
  } catch (error) {
    failure = error;
  } finally {
    await targets.close();
    for (const name of ['relay.log', 'delay-relay-alone.log', 'ssh/sshd.log', 'ssh/ssh.log']) {
      await cp(join(runDir, name), join(LOGS, name.replace('/', '-'))).catch(() => undefined);
    }
    for (const tag of [
      'dev-sink',
      'dev-source',
      'dev-echo',
      'standalone-sink',
      'standalone-source',
      'standalone-echo',
      'delayed-sink',
      'delayed-source',
      'delayed-echo',
    ]) {
      const name = `port-forward-${tag}.log`;
      await cp(join(runDir, name), join(LOGS, name)).catch(() => undefined);
    }
    await rm(runDir, { recursive: true, force: true }).catch(() => undefined);
  }
  results.loadAverageAfter = loadAverageNow();
  results.pressureMs = (cpuPressureMicros() - pressureBefore) / 1000;
  results.wallMs = performance.now() - benchStarted;
  if (abort.signal.aborted) return 130;
  printReport(options, machine, results);
  if (options.cpuProfileDir) log(`CPU profiles in ${options.cpuProfileDir}`);
  if (failure !== null) {
    log(`FAILED: ${failure instanceof Error ? (failure.stack ?? failure.message) : inspect(failure)}`);
    return 1;
  }
  return results.leftovers.length > 0 ? 1 : 0;
}

process.exitCode = await main().catch((error: unknown) => {
  log(`FAILED: ${error instanceof Error ? error.message : inspect(error)}`);
  return 1;
});
