import { asObject, optionalEnum, optionalObjectArray, optionalBool, optionalString } from './fields.js';
import { invalid } from './errors.js';

export const SCHEDULER_PROFILES = ['optimize-utilization', 'distribute-load'] as const;
export type SchedulerProfile = (typeof SCHEDULER_PROFILES)[number];

export interface HostDirPolicy {
  pathPrefix: string;
  ro: boolean;
}

export interface ClusterSettings {
  hostDirPolicies: HostDirPolicy[];
  schedulerProfile: SchedulerProfile;
}

export const DEFAULT_CLUSTER_SETTINGS: ClusterSettings = {
  hostDirPolicies: [],
  schedulerProfile: 'optimize-utilization',
};

export function parseHostDirPolicy(raw: Record<string, unknown>, index: number): HostDirPolicy {
  const pathPrefix = optionalString(raw, 'pathPrefix');
  if (!pathPrefix || !pathPrefix.startsWith('/')) {
    throw invalid(`hostDirPolicies[${index}].pathPrefix must be an absolute path`);
  }
  return { pathPrefix, ro: optionalBool(raw, 'ro') ?? false };
}

/** PUT /v1/cluster-settings: fields left out keep their current value. */
export function parseClusterSettingsUpdate(body: unknown, current: ClusterSettings): ClusterSettings {
  const object = asObject(body);
  const policies = optionalObjectArray(object, 'hostDirPolicies');
  return {
    hostDirPolicies: policies ? policies.map(parseHostDirPolicy) : current.hostDirPolicies,
    schedulerProfile:
      optionalEnum(object, 'schedulerProfile', SCHEDULER_PROFILES) ?? current.schedulerProfile,
  };
}
