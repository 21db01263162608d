import { readFile } from 'node:fs/promises';

import { Option, SubCommand } from 'nest-commander';

import {
  ARCHITECTURES,
  IMAGE_PULL_POLICIES,
  RESTART_POLICIES,
  RUNTIMES,
  VM_OS,
  type Architecture,
  type HostDir,
  type ImagePullPolicy,
  type RestartPolicy,
  type Runtime,
  type VmOs,
  type VmScript,
} from '#api';
import type { VmCreate } from '#client';

import { ClientService } from '../common/client.service.js';
import { UsageError } from '../common/errors.js';
import {
  appendList,
  parseChoice,
  parseCount,
  parseDurationFlag,
  parseHostDir,
  parseKeyValues,
  parseResources,
} from '../common/flags.js';
import { print, ReadCommand, type OutputOptions } from '../common/output.js';
import { progressOn } from '../common/progress.js';
import { waitForVm } from './wait-for-vm.js';

/** Orchard's default image (internal/imageconstant). */
export const DEFAULT_IMAGE = 'ghcr.io/cirruslabs/macos-tahoe-base:latest';

interface CreateVmOptions extends OutputOptions {
  image: string;
  cpu: number;
  memory: number;
  diskSize: number;
  os?: VmOs;
  arch?: Architecture;
  runtime?: Runtime;
  headless: boolean;
  nested?: boolean;
  netSoftnet?: boolean;
  netSoftnetAllow?: string[];
  netSoftnetBlock?: string[];
  netBridged?: string;
  suspendable?: boolean;
  username: string;
  password: string;
  resources?: Record<string, number>;
  labels?: Record<string, string>;
  randomSerial?: boolean;
  restartPolicy: RestartPolicy;
  startupScript?: string;
  hostDirs?: HostDir[];
  imagePullPolicy: ImagePullPolicy;
  wait?: boolean;
  waitTimeout?: number;
}

@SubCommand({ name: 'vm', arguments: '<name>', description: 'Create a VM' })
export class CreateVmCommand extends ReadCommand {
  constructor(private readonly clients: ClientService) {
    super();
  }

  @Option({ flags: '--image <image>', description: 'image to use', defaultValue: DEFAULT_IMAGE })
  parseImage(text: string): string {
    return text;
  }

  @Option({ flags: '--cpu <count>', description: 'number of CPUs to use', defaultValue: 4 })
  parseCpu(text: string): number {
    return parseCount('--cpu', text);
  }

  @Option({ flags: '--memory <mib>', description: 'megabytes of memory to use', defaultValue: 8192 })
  parseMemory(text: string): number {
    return parseCount('--memory', text);
  }

  @Option({
    flags: '--disk-size <gb>',
    description: "resize the VM's disk to this many GB (0: keep the image's size)",
    defaultValue: 0,
  })
  parseDiskSize(text: string): number {
    return parseCount('--disk-size', text);
  }

  @Option({
    flags: '--os <os>',
    description: `guest operating system: ${VM_OS.join(' or ')} (default: darwin)`,
  })
  parseOs(text: string): VmOs {
    return parseChoice('--os', text, VM_OS);
  }

  @Option({
    flags: '--arch <arch>',
    description: `architecture: ${ARCHITECTURES.join(' or ')} (default: arm64)`,
  })
  parseArch(text: string): Architecture {
    return parseChoice('--arch', text, ARCHITECTURES);
  }

  @Option({ flags: '--runtime <runtime>', description: `runtime: ${RUNTIMES.join(' or ')} (default: tart)` })
  parseRuntime(text: string): Runtime {
    return parseChoice('--runtime', text, RUNTIMES);
  }

  @Option({ flags: '--headless', description: 'run without graphics', defaultValue: true })
  parseHeadless(): boolean {
    return true;
  }

  @Option({ flags: '--no-headless', description: 'run with graphics' })
  parseNoHeadless(): boolean {
    return false;
  }

  @Option({ flags: '--nested', description: 'enable nested virtualization' })
  parseNested(): boolean {
    return true;
  }

  @Option({ flags: '--net-softnet', description: 'isolate the VM with Softnet' })
  parseNetSoftnet(): boolean {
    return true;
  }

  @Option({
    flags: '--net-softnet-allow <cidrs>',
    description:
      'CIDRs the VM may reach under Softnet, repeatable or comma-separated (implies --net-softnet)',
  })
  parseNetSoftnetAllow(text: string, previous?: string[]): string[] {
    return appendList(text, previous);
  }

  @Option({
    flags: '--net-softnet-block <cidrs>',
    description:
      'CIDRs the VM may not reach under Softnet, repeatable or comma-separated (implies --net-softnet)',
  })
  parseNetSoftnetBlock(text: string, previous?: string[]): string[] {
    return appendList(text, previous);
  }

  @Option({
    flags: '--net-bridged <interface>',
    description: 'use bridged networking on this host interface',
  })
  parseNetBridged(text: string): string {
    return text;
  }

  @Option({
    flags: '--suspendable',
    description: 'suspend rather than stop the VM when its specification changes',
  })
  parseSuspendable(): boolean {
    return true;
  }

  @Option({
    flags: '--username <name>',
    description: 'SSH user for the startup script',
    defaultValue: 'admin',
  })
  parseUsername(text: string): string {
    return text;
  }

  @Option({
    flags: '--password <password>',
    description: 'SSH password for the startup script',
    defaultValue: 'admin',
  })
  parsePassword(text: string): string {
    return text;
  }

  @Option({
    flags: '--resources <key=value>',
    description: 'resources to request, repeatable or comma-separated',
  })
  parseResources(text: string, previous?: Record<string, number>): Record<string, number> {
    return parseResources('--resources', text, previous);
  }

  @Option({
    flags: '--labels <key=value>',
    description: 'labels a worker must have, repeatable or comma-separated',
  })
  parseLabels(text: string, previous?: Record<string, string>): Record<string, string> {
    return parseKeyValues('--labels', text, previous);
  }

  @Option({ flags: '--random-serial', description: 'give a macOS VM a new random serial number' })
  parseRandomSerial(): boolean {
    return true;
  }

  @Option({
    flags: '--restart-policy <policy>',
    description: `${RESTART_POLICIES.join(' or ')}: whether to restart the VM when it fails`,
    defaultValue: 'Never',
  })
  parseRestartPolicy(text: string): RestartPolicy {
    return parseChoice('--restart-policy', text, RESTART_POLICIES);
  }

  @Option({
    flags: '--startup-script <script>',
    description: 'script to run in the VM once it boots, or @FILE to read it from a file',
  })
  parseStartupScript(text: string): string {
    return text;
  }

  @Option({
    flags: '--host-dirs <name:path[:ro]>',
    description:
      "worker host directories to mount in the VM, repeatable or comma-separated (as tart run's --dir)",
  })
  parseHostDirs(text: string, previous: HostDir[] = []): HostDir[] {
    return [...previous, ...appendList(text).map(parseHostDir)];
  }

  @Option({
    flags: '--image-pull-policy <policy>',
    description: `${IMAGE_PULL_POLICIES.join(' or ')}: pull only a missing image, or every time`,
    defaultValue: 'IfNotPresent',
  })
  parseImagePullPolicy(text: string): ImagePullPolicy {
    return parseChoice('--image-pull-policy', text, IMAGE_PULL_POLICIES);
  }

  @Option({ flags: '--wait', description: 'wait until the VM runs (exit 1 if it fails)' })
  parseWait(): boolean {
    return true;
  }

  @Option({
    flags: '--wait-timeout <duration>',
    description: 'give up waiting after this long (implies --wait)',
  })
  parseWaitTimeout(text: string): number {
    return parseDurationFlag('--wait-timeout', text);
  }

  async run([name]: string[], options: CreateVmOptions): Promise<void> {
    const body = await vmCreate(name, options);
    const client = await this.clients.open();
    let vm = await client.createVm(body);
    if (options.wait || options.waitTimeout !== undefined) {
      vm = await waitForVm(client, name, options.waitTimeout ?? null, progressOn(process.stderr));
    }
    // Like Orchard, silent on success; `-o json` shows what was created.
    print(options.output, vm, () => '');
  }
}

async function startupScript(text: string | undefined): Promise<VmScript | null> {
  if (!text) return null;
  if (!text.startsWith('@')) return { script_content: text, env: {} };
  const path = text.slice(1);
  try {
    return { script_content: await readFile(path, 'utf8'), env: {} };
  } catch (error) {
    throw new UsageError(
      `--startup-script: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
}

/** The POST /v1/vms body in Orchard's field names; os/arch/runtime only when given. */
async function vmCreate(name: string, options: CreateVmOptions): Promise<VmCreate> {
  const allow = options.netSoftnetAllow ?? [];
  const block = options.netSoftnetBlock ?? [];
  const netSoftnet = Boolean(options.netSoftnet) || allow.length > 0 || block.length > 0;
  return {
    name,
    image: options.image,
    imagePullPolicy: options.imagePullPolicy,
    cpu: options.cpu,
    memory: options.memory,
    diskSize: options.diskSize,
    ...(options.os ? { os: options.os } : {}),
    ...(options.arch ? { arch: options.arch } : {}),
    ...(options.runtime ? { runtime: options.runtime } : {}),
    'net-bridged': options.netBridged ?? '',
    headless: options.headless,
    nested: Boolean(options.nested),
    netSoftnet,
    // Orchard's older field name, still read by older workers.
    'net-softnet': netSoftnet,
    netSoftnetAllow: allow,
    netSoftnetBlock: block,
    suspendable: Boolean(options.suspendable),
    username: options.username,
    password: options.password,
    startup_script: await startupScript(options.startupScript),
    restart_policy: options.restartPolicy,
    randomSerial: Boolean(options.randomSerial),
    resources: options.resources ?? {},
    labels: options.labels ?? {},
    hostDirs: options.hostDirs ?? [],
  };
}
