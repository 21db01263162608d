import { invalid } from './errors.js';
import {
  asNestedObject,
  asObject,
  optionalBool,
  optionalCount,
  optionalCountMap,
  optionalEnum,
  optionalObjectArray,
  optionalString,
  optionalStringArray,
  optionalStringMap,
  type JsonObject,
} from './fields.js';
import { parseHostDir, type HostDir } from './host-dirs.js';
import { validateName } from './names.js';
import { TART_VMS_RESOURCE, type Labels, type Resources } from './resources.js';

export const VM_STATUSES = ['pending', 'running', 'failed'] as const;
export type VmStatus = (typeof VM_STATUSES)[number];
export const IMAGE_PULL_POLICIES = ['IfNotPresent', 'Always'] as const;
export type ImagePullPolicy = (typeof IMAGE_PULL_POLICIES)[number];
export const RESTART_POLICIES = ['Never', 'OnFailure'] as const;
export type RestartPolicy = (typeof RESTART_POLICIES)[number];
export const POWER_STATES = ['running', 'stopped', 'suspended'] as const;
export type PowerState = (typeof POWER_STATES)[number];
export const VM_OS = ['darwin', 'linux'] as const;
export type VmOs = (typeof VM_OS)[number];
export const ARCHITECTURES = ['arm64', 'amd64'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];
export const RUNTIMES = ['tart', 'vetu'] as const;
export type Runtime = (typeof RUNTIMES)[number];
export const CONDITION_STATES = ['true', 'false'] as const;
export type ConditionState = (typeof CONDITION_STATES)[number];

export interface Condition {
  type: string;
  state: ConditionState;
}

export interface VmScript {
  script_content: string;
  env: Record<string, string>;
}

/** The fields a client chooses when creating a VM. */
export interface VmSpec {
  name: string;
  image: string;
  imagePullPolicy: ImagePullPolicy;
  cpu: number;
  memory: number;
  diskSize: number;
  os: VmOs;
  arch: Architecture;
  runtime: Runtime;
  netBridged: string;
  headless: boolean;
  nested: boolean;
  netSoftnet: boolean;
  netSoftnetAllow: string[];
  netSoftnetBlock: string[];
  suspendable: boolean;
  powerState: PowerState;
  username: string;
  password: string;
  startupScript: VmScript | null;
  restartPolicy: RestartPolicy;
  randomSerial: boolean;
  resources: Resources;
  labels: Labels;
  hostDirs: HostDir[];
}

/** The VM resource exactly as Orchard's v1 API spells it on the wire. */
export interface VM {
  name: string;
  uid: string;
  image: string;
  imagePullPolicy: ImagePullPolicy;
  cpu: number;
  memory: number;
  diskSize: number;
  os: VmOs;
  arch: Architecture;
  runtime: Runtime;
  'net-bridged': string;
  headless: boolean;
  nested: boolean;
  netSoftnet: boolean;
  'net-softnet': boolean;
  netSoftnetAllow: string[];
  netSoftnetBlock: string[];
  suspendable: boolean;
  powerState: PowerState;
  localName: string;
  tartName: string;
  username: string;
  password: string;
  startup_script: VmScript | null;
  restart_policy: RestartPolicy;
  restarted_at: string;
  restart_count: number;
  randomSerial: boolean;
  resources: Resources;
  labels: Labels;
  hostDirs: HostDir[];
  image_fqn: string;
  status: VmStatus;
  status_message: string;
  worker: string;
  assignedCPU: number;
  assignedMemory: number;
  conditions: Condition[];
  generation: number;
  observedGeneration: number;
  createdAt: string;
  scheduled_at: string;
  started_at: string;
}

/** The name the worker gives the VM on disk; a restart gets a fresh one. */
export function vmLocalName(name: string, uid: string, restartCount: number): string {
  return `orchard-${name}-${uid}-${restartCount}`;
}

/** Matches names made by vmLocalName, so a worker can tell its own VMs from others on disk. */
export const LOCAL_NAME_PATTERN = /^orchard-(.+)-([0-9a-f-]{36})-(\d+)$/;

const CIDR = /^[0-9a-fA-F.:]+(\/\d{1,3})?$/;

function cidrList(object: JsonObject, key: string): string[] | undefined {
  const list = optionalStringArray(object, key);
  for (const entry of list ?? []) {
    if (!CIDR.test(entry)) throw invalid(`${key}: "${entry}" is not an IP address or CIDR block`);
  }
  return list;
}

function parseScript(object: JsonObject): VmScript | null {
  const raw = object['startup_script'];
  if (raw === undefined || raw === null) return null;
  const script = asNestedObject(raw, 'startup_script');
  const content = optionalString(script, 'script_content') ?? '';
  if (content === '') return null;
  return { script_content: content, env: optionalStringMap(script, 'env') ?? {} };
}

/**
 * Validates a POST /v1/vms body into a spec with Orchard's defaults applied. Host directories
 * are checked against cluster policy by the caller, which knows the settings.
 */
export function parseVmCreate(body: unknown): VmSpec {
  const object = asObject(body);
  const name = validateName('VM', object['name']);
  const image = optionalString(object, 'image');
  if (!image) throw invalid('image is required');

  const os = optionalEnum(object, 'os', VM_OS) ?? 'darwin';
  const runtime = optionalEnum(object, 'runtime', RUNTIMES) ?? 'tart';
  const resources = optionalCountMap(object, 'resources') ?? {};
  // Apple allows two macOS VMs per host: every darwin VM on Tart takes one of the host's slots,
  // unless the request already says how many it takes.
  if (os === 'darwin' && runtime === 'tart' && !(TART_VMS_RESOURCE in resources)) {
    resources[TART_VMS_RESOURCE] = 1;
  }
  const netSoftnet =
    (optionalBool(object, 'netSoftnet') ?? false) || (optionalBool(object, 'net-softnet') ?? false);

  return {
    name,
    image,
    imagePullPolicy: optionalEnum(object, 'imagePullPolicy', IMAGE_PULL_POLICIES) ?? 'IfNotPresent',
    cpu: optionalCount(object, 'cpu') ?? 0,
    memory: optionalCount(object, 'memory') ?? 0,
    diskSize: optionalCount(object, 'diskSize') ?? 0,
    os,
    arch: optionalEnum(object, 'arch', ARCHITECTURES) ?? 'arm64',
    runtime,
    netBridged: optionalString(object, 'net-bridged') ?? '',
    headless: optionalBool(object, 'headless') ?? false,
    nested: optionalBool(object, 'nested') ?? false,
    netSoftnet,
    netSoftnetAllow: cidrList(object, 'netSoftnetAllow') ?? [],
    netSoftnetBlock: cidrList(object, 'netSoftnetBlock') ?? [],
    suspendable: optionalBool(object, 'suspendable') ?? false,
    powerState: optionalEnum(object, 'powerState', POWER_STATES) ?? 'running',
    username: optionalString(object, 'username') ?? '',
    password: optionalString(object, 'password') ?? '',
    startupScript: parseScript(object),
    restartPolicy: optionalEnum(object, 'restart_policy', RESTART_POLICIES) ?? 'Never',
    randomSerial: optionalBool(object, 'randomSerial') ?? false,
    resources,
    labels: optionalStringMap(object, 'labels') ?? {},
    hostDirs: (optionalObjectArray(object, 'hostDirs') ?? []).map(parseHostDir),
  };
}

/** The spec fields PUT /v1/vms/{name} may change; everything else in the body is ignored. */
export interface VmSpecUpdate {
  netSoftnet?: boolean;
  netSoftnetAllow?: string[];
  netSoftnetBlock?: string[];
  suspendable?: boolean;
  powerState?: PowerState;
}

export function parseVmUpdate(body: unknown): VmSpecUpdate {
  const object = asObject(body);
  const update: VmSpecUpdate = {};
  const softnet = optionalBool(object, 'netSoftnet') ?? optionalBool(object, 'net-softnet');
  if (softnet !== undefined) update.netSoftnet = softnet;
  const allow = cidrList(object, 'netSoftnetAllow');
  if (allow !== undefined) update.netSoftnetAllow = allow;
  const block = cidrList(object, 'netSoftnetBlock');
  if (block !== undefined) update.netSoftnetBlock = block;
  const suspendable = optionalBool(object, 'suspendable');
  if (suspendable !== undefined) update.suspendable = suspendable;
  const powerState = optionalEnum(object, 'powerState', POWER_STATES);
  if (powerState !== undefined) update.powerState = powerState;
  return update;
}

/** What a worker reports through PUT /v1/vms/{name}/state. */
export interface VmStateReport {
  status?: VmStatus;
  statusMessage?: string;
  imageFqn?: string;
  observedGeneration?: number;
  conditions?: Condition[];
  /**
   * Which incarnation of the VM the report is about, as the reporting worker knows it (`uid`,
   * `restart_count`, `worker`). All optional: when present, a report about another VM of the
   * same name, an earlier restart, or from a worker the VM is no longer assigned to is refused.
   */
  uid?: string;
  restartCount?: number;
  worker?: string;
}

export function parseVmStateReport(body: unknown): VmStateReport {
  const object = asObject(body);
  const report: VmStateReport = {};
  const status = optionalEnum(object, 'status', VM_STATUSES);
  if (status !== undefined) report.status = status;
  const message = optionalString(object, 'status_message');
  if (message !== undefined) report.statusMessage = message;
  const fqn = optionalString(object, 'image_fqn');
  if (fqn !== undefined) report.imageFqn = fqn;
  const observed = optionalCount(object, 'observedGeneration');
  if (observed !== undefined) report.observedGeneration = observed;
  const uid = optionalString(object, 'uid');
  if (uid !== undefined) report.uid = uid;
  const restartCount = optionalCount(object, 'restart_count');
  if (restartCount !== undefined) report.restartCount = restartCount;
  const worker = optionalString(object, 'worker');
  if (worker !== undefined) report.worker = worker;
  const conditions = optionalObjectArray(object, 'conditions');
  if (conditions !== undefined) {
    report.conditions = conditions.map((raw, index) => {
      const type = optionalString(raw, 'type');
      if (!type) throw invalid(`conditions[${index}].type is required`);
      const state = optionalEnum(raw, 'state', CONDITION_STATES);
      if (!state) throw invalid(`conditions[${index}].state must be "true" or "false"`);
      return { type, state };
    });
  }
  return report;
}
