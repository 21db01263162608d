import type { ClusterSettings, HostDir, HostDirPolicy, ServiceAccount, VM, Worker } from '#api';

import { describeMap, orNone, relativeTime } from './table.js';

/** How resources read in text output (Orchard's `get` and `list` show the same fields). */

const hostDir = (dir: HostDir) => `${dir.name}:${dir.path}${dir.ro ? ':ro' : ''}`;
const policy = (p: HostDirPolicy) => `${p.pathPrefix}${p.ro ? ':ro' : ''}`;

export function vmRows(vms: readonly VM[], now: Date): string[][] {
  return [
    ['Name', 'Created', 'Image', 'Status', 'Worker', 'Restart policy'],
    ...vms.map((vm) => [
      vm.name,
      relativeTime(vm.createdAt, now),
      vm.image,
      vm.status,
      orNone(vm.worker),
      `${vm.restart_policy} (${vm.restart_count} restarts)`,
    ]),
  ];
}

export function vmFields(vm: VM, now: Date): string[][] {
  return [
    ['Name', vm.name],
    ['Created', relativeTime(vm.createdAt, now)],
    ['Image', vm.image],
    ['Image pull policy', vm.imagePullPolicy],
    // cpu/memory 0 means "the worker's default", known once the VM is scheduled.
    ['CPU', String(vm.cpu || vm.assignedCPU)],
    ['Memory', String(vm.memory || vm.assignedMemory)],
    ['Disk size', vm.diskSize ? `${vm.diskSize} GB` : "VM image's default"],
    ['OS', `${vm.os}/${vm.arch} (${vm.runtime})`],
    ['Softnet enabled', String(vm.netSoftnet || vm['net-softnet'])],
    ['Softnet allowed CIDRs', orNone(vm.netSoftnetAllow.join('\n'))],
    ['Softnet blocked CIDRs', orNone(vm.netSoftnetBlock.join('\n'))],
    ['Bridged networking interface', orNone(vm['net-bridged'])],
    ['Headless mode', String(vm.headless)],
    ['Nested virtualization', String(vm.nested)],
    ['Suspendable', String(vm.suspendable)],
    ['Power state', vm.powerState],
    ['Status', vm.status],
    ['Status message', vm.status_message],
    ['Assigned worker', orNone(vm.worker)],
    ['Restart policy', vm.restart_policy],
    ['Restarted', relativeTime(vm.restarted_at, now)],
    ['Restart count', String(vm.restart_count)],
    ['Resources', describeMap(vm.resources)],
    ['Labels', describeMap(vm.labels)],
    ['Random serial', String(vm.randomSerial)],
    ['Host directories', orNone(vm.hostDirs.map(hostDir).join('\n'))],
  ];
}

export function workerRows(workers: readonly Worker[], now: Date): string[][] {
  return [
    ['Name', 'Last seen', 'Scheduling paused'],
    ...workers.map((w) => [w.name, relativeTime(w.last_seen, now), String(w.scheduling_paused)]),
  ];
}

export function workerFields(worker: Worker, now: Date): string[][] {
  return [
    ['Name', worker.name],
    ['Created', relativeTime(worker.createdAt, now)],
    ['Last seen', relativeTime(worker.last_seen, now)],
    ['Machine ID', worker.machine_id],
    ['Scheduling paused', String(worker.scheduling_paused)],
    ['Platform', `${worker.arch} (${worker.runtime})`],
    ['Resources', describeMap(worker.resources)],
    ['Labels', describeMap(worker.labels)],
  ];
}

export function serviceAccountRows(accounts: readonly ServiceAccount[]): string[][] {
  return [['Name', 'Roles'], ...accounts.map((a) => [a.name, orNone(a.roles.join(', '))])];
}

export function serviceAccountFields(account: ServiceAccount, now: Date): string[][] {
  return [
    ['Name', account.name],
    ['Roles', orNone(account.roles.join('\n'))],
    ['Created', relativeTime(account.createdAt, now)],
  ];
}

export function clusterSettingsFields(settings: ClusterSettings): string[][] {
  return [
    ['Key', 'Value'],
    ['hostDir policies', orNone(settings.hostDirPolicies.map(policy).join(','))],
    ['Scheduler profile', settings.schedulerProfile],
  ];
}
