/** Resource names the scheduler counts; a VM's request and a worker's capacity share them. */
export const TART_VMS_RESOURCE = 'org.cirruslabs.tart-vms';
export const LOGICAL_CORES_RESOURCE = 'org.cirruslabs.logical-cores';
export const MEMORY_MIB_RESOURCE = 'org.cirruslabs.memory-mib';

/** Apple's licence allows two macOS VMs per host; a Tart worker advertises this many slots. */
export const TART_VMS_PER_HOST = 2;

export type Resources = Record<string, number>;
export type Labels = Record<string, string>;

/** Defaults a worker applies, and the scheduler falls back to, when a VM names no cpu/memory. */
export const DEFAULT_CPU = 4;
export const DEFAULT_MEMORY_MIB = 8192;
