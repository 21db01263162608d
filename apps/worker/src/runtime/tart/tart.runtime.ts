import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';

import { Logger, type LoggerService } from '@nestjs/common';

import { assertPort, dial } from '../dial.js';
import { RuntimeError } from '../runtime-error.js';
import type { LocalVm, RunningVm, VmExit, VmHardware, VmRunOptions, VmRuntime } from '../vm-runtime.js';
import { CommandRunner, type RunningCommand } from './command.js';

export interface TartRuntimeOptions {
  /** The tart executable: a name looked up in PATH or a path. Default 'tart'. */
  binary?: string;
  /** Variables added to tart's environment (tests point the fake tart at its state directory). */
  env?: Readonly<Record<string, string>>;
  logger?: LoggerService;
  /** How long `connect` waits for the VM's IP (`tart ip --wait`). Default 60 s. */
  connectIpWaitSeconds?: number;
  /** How long `connect` waits for the TCP handshake with the VM. Default 10 s. */
  connectTimeoutMs?: number;
}

/** After `tart stop` returns, how long our `tart run` child may take to exit before SIGKILL. */
const STOP_GRACE_MS = 2000;

/**
 * The last `tart run` this runtime started for a VM. Kept after it exits (until the next run or
 * the delete), so that a connect to a VM known to be down is refused without asking tart.
 */
interface OwnRun {
  process: RunningCommand;
  options: VmRunOptions;
  /** Set by stop/suspend/delete/dispose before they end the VM, so its exit is not a failure. */
  deliberate: boolean;
  exited: Promise<VmExit>;
}

/**
 * VMs through the `tart` CLI on a Mac, with Tart's exact argument contract (the one Orchard's
 * worker uses, internal/worker/vmmanager/tart/tart.go). Every command goes through the one
 * CommandRunner; `tart run` is the long-lived child whose exit ends the VM.
 */
export class TartRuntime implements VmRuntime {
  readonly kind = 'tart';

  private readonly tart: CommandRunner;
  private readonly logger: LoggerService;
  private readonly connectIpWaitSeconds: number;
  private readonly connectTimeoutMs: number;
  private readonly runs = new Map<string, OwnRun>();

  constructor(options: TartRuntimeOptions = {}) {
    this.logger = options.logger ?? new Logger('tart');
    this.tart = new CommandRunner({
      name: 'tart',
      executable: options.binary ?? 'tart',
      env: options.env,
      logger: this.logger,
    });
    this.connectIpWaitSeconds = options.connectIpWaitSeconds ?? 60;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  }

  async pull(image: string, signal?: AbortSignal): Promise<void> {
    await this.tart.run(['pull', image], signal);
  }

  async clone(image: string, localName: string, signal?: AbortSignal): Promise<void> {
    await this.tart.run(['clone', image, localName], signal);
  }

  async fqn(image: string, signal?: AbortSignal): Promise<string> {
    const { stdout } = await this.tart.run(['fqn', image], signal);
    const fqn = stdout.trim();
    if (!fqn) throw new RuntimeError('command-failed', `tart fqn ${image} printed nothing`);
    return fqn;
  }

  /**
   * One `tart set` with every setting at once. The MAC address is always randomised, as Orchard
   * does: VMs cloned from one image share its MAC, and with a full DHCP lease file or bridged
   * networking two of them end up with the same IP (cirruslabs/orchard#181).
   */
  async configure(localName: string, hardware: VmHardware, signal?: AbortSignal): Promise<void> {
    const args = ['set'];
    if (hardware.cpu > 0) args.push('--cpu', String(hardware.cpu));
    if (hardware.memoryMib > 0) args.push('--memory', String(hardware.memoryMib));
    if (hardware.diskSizeGb > 0) args.push('--disk-size', String(hardware.diskSizeGb));
    args.push('--random-mac');
    if (hardware.randomSerial) args.push('--random-serial');
    args.push(localName);
    await this.tart.run(args, signal);
  }

  async run(localName: string, options: VmRunOptions): Promise<RunningVm> {
    if (this.runs.get(localName)?.process.running) {
      throw new RuntimeError('command-failed', `VM "${localName}" is already running`);
    }
    const child = await this.tart.start(runArgs(localName, options));
    const exited = child.exited.then((exit): VmExit => {
      if (!own.deliberate) {
        const how = exit.code === null ? `signal ${exit.signal}` : `code ${exit.code}`;
        this.logger.warn(
          `tart run ${localName} exited unexpectedly (${how})${exit.stderrFirstLine ? `: ${exit.stderrFirstLine}` : ''}`,
        );
      }
      return { ...exit, deliberate: own.deliberate };
    });
    const own: OwnRun = { process: child, options, deliberate: false, exited };
    this.runs.set(localName, own);
    return { exited: own.exited };
  }

  /**
   * `tart ip --wait N`. For bridged networking Orchard asks the guest agent first (quick), then
   * falls back to the ARP table: Tart's default DHCP-lease resolver cannot see bridged VMs.
   */
  async ip(localName: string, waitSeconds: number, signal?: AbortSignal): Promise<string> {
    const wait = String(Math.max(0, Math.ceil(waitSeconds)));
    if (this.runs.get(localName)?.options.netBridged) {
      try {
        return await this.ipWith(['ip', '--wait', '5', '--resolver', 'agent', localName], signal);
      } catch (error) {
        if (error instanceof RuntimeError && error.cancelled) throw error;
        this.logger.debug?.(`agent resolver found no IP for ${localName}, trying ARP`);
      }
      return this.ipWith(['ip', '--wait', wait, '--resolver', 'arp', localName], signal);
    }
    return this.ipWith(['ip', '--wait', wait, localName], signal);
  }

  /**
   * `tart stop --timeout N`: SIGINT, then SIGKILL after N seconds. When the VM's `tart run` is our
   * child, it is also killed if it outlives the stop, and this resolves once it has exited.
   */
  async stop(localName: string, timeoutSeconds: number): Promise<void> {
    const own = this.runs.get(localName);
    if (own) own.deliberate = true;
    try {
      await this.tart.run(['stop', '--timeout', String(Math.max(0, Math.ceil(timeoutSeconds))), localName]);
    } catch (error) {
      if (!own?.process.running) throw error;
      this.logger.warn(`tart stop ${localName} failed, killing its tart run: ${(error as Error).message}`);
    }
    if (!own) return;
    // Tart's stop returns once the VM's lock is released, i.e. as our child exits; give that exit
    // a moment to be observed before deciding the child outlived the stop.
    await settledWithin(own.exited, STOP_GRACE_MS);
    own.process.kill('SIGKILL');
    await own.exited;
  }

  /**
   * `tart suspend` only signals the `tart run` process, which snapshots the VM and exits. When that
   * process is our child, this resolves once it has, and rejects if it could not suspend.
   */
  async suspend(localName: string): Promise<void> {
    const own = this.runs.get(localName);
    if (own) own.deliberate = true;
    try {
      await this.tart.run(['suspend', localName]);
    } catch (error) {
      if (own) own.deliberate = false;
      throw error;
    }
    if (!own) return;
    const exit = await own.exited;
    if (exit.code !== 0) {
      const line = exit.stderrFirstLine;
      throw new RuntimeError(
        'command-failed',
        line
          ? `tart command failed: ${JSON.stringify(line)}`
          : `tart run ${localName} did not suspend cleanly`,
        { exitCode: exit.code, signal: exit.signal, firstLine: line },
      );
    }
  }

  /** Ends our `tart run` of the VM, if any (as Orchard cancels it), then `tart delete`. */
  async delete(localName: string): Promise<void> {
    await this.kill(localName);
    this.runs.delete(localName);
    await this.tart.run(['delete', localName]);
  }

  async list(): Promise<LocalVm[]> {
    return this.tart.json(['list', '--format', 'json'], parseTartList);
  }

  /**
   * A TCP connection to the VM's own IP (as `tart ip` reports it) and port; never another host.
   * Half-open is allowed so that the tunnel can pass a half-close through.
   */
  async connect(localName: string, port: number, signal?: AbortSignal): Promise<Duplex> {
    assertPort(port);
    const own = this.runs.get(localName);
    if (own && !own.process.running) {
      throw new RuntimeError('vm-not-running', `VM "${localName}" is not running`);
    }
    const ip = await this.ip(localName, this.connectIpWaitSeconds, signal);
    return dial(ip, port, this.connectTimeoutMs, signal, `port ${port} of VM "${localName}" (${ip})`);
  }

  /** Ends every `tart run` this runtime started (deliberately) and waits for them to exit. */
  async dispose(): Promise<void> {
    await Promise.all([...this.runs.keys()].map((localName) => this.kill(localName)));
  }

  private async kill(localName: string): Promise<void> {
    const own = this.runs.get(localName);
    if (!own) return;
    own.deliberate = true;
    own.process.kill('SIGKILL');
    await own.exited;
  }

  private async ipWith(args: string[], signal?: AbortSignal): Promise<string> {
    const { stdout } = await this.tart.run(args, signal);
    const ip = stdout.trim();
    if (isIP(ip) === 0) {
      throw new RuntimeError('command-failed', `tart ip printed ${JSON.stringify(ip)}, not an IP address`);
    }
    return ip;
  }
}

/** `tart run` argv, flags in Orchard's order, the VM's name last. */
export function runArgs(localName: string, options: VmRunOptions): string[] {
  const args = ['run'];
  if (options.netSoftnet) args.push('--net-softnet');
  if (options.netSoftnetAllow.length > 0) args.push('--net-softnet-allow', options.netSoftnetAllow.join(','));
  if (options.netSoftnetBlock.length > 0) args.push('--net-softnet-block', options.netSoftnetBlock.join(','));
  if (options.netBridged) args.push(`--net-bridged=${options.netBridged}`);
  if (options.headless) args.push('--no-graphics');
  if (options.nested) args.push('--nested');
  if (options.suspendable) args.push('--suspendable');
  for (const dir of options.hostDirs) args.push(`--dir=${dir.name}:${dir.path}${dir.ro ? ':ro' : ''}`);
  args.push(localName);
  return args;
}

/**
 * `tart list --format json`, read defensively: older Tart versions print neither State nor
 * Running, OCI entries say "OCI", and entries without a name are skipped.
 */
export function parseTartList(value: unknown): LocalVm[] {
  if (!Array.isArray(value)) {
    throw new RuntimeError('command-failed', 'tart list --format json did not print a JSON array');
  }
  const vms: LocalVm[] = [];
  for (const entry of value as unknown[]) {
    if (typeof entry !== 'object' || entry === null) continue;
    const { Name, Source, State, Running } = entry as Record<string, unknown>;
    if (typeof Name !== 'string' || Name === '') continue;
    const source = typeof Source === 'string' && Source.toLowerCase() === 'oci' ? 'oci' : 'local';
    const running = typeof Running === 'boolean' ? Running : typeof State === 'string' && State === 'running';
    const state =
      typeof State === 'string' && State !== '' ? State.toLowerCase() : running ? 'running' : 'stopped';
    vms.push({ name: Name, source, state, running });
  }
  return vms;
}

/** Waits for `promise` (which never rejects) or `ms`, whichever comes first. */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
