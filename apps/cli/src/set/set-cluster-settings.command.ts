import { CommandRunner, Option, SubCommand } from 'nest-commander';

import { SCHEDULER_PROFILES, type ClusterSettings, type HostDirPolicy, type SchedulerProfile } from '#api';

import { ClientService } from '../common/client.service.js';
import { UsageError } from '../common/errors.js';
import { appendList, parseChoice, parseHostDirPolicy } from '../common/flags.js';

interface SetClusterSettingsOptions {
  hostDirPolicies?: HostDirPolicy[];
  schedulerProfile?: SchedulerProfile;
}

@SubCommand({ name: 'cluster-settings', description: 'Change the cluster settings' })
export class SetClusterSettingsCommand extends CommandRunner {
  constructor(private readonly clients: ClientService) {
    super();
  }

  @Option({
    flags: '--host-dir-policies <prefix[:ro]>',
    description:
      'path prefixes VMs may mount from their worker, ":ro" for read-only; repeatable or comma-separated, ' +
      'replaces the current list ("" clears it)',
  })
  parseHostDirPolicies(text: string, previous: HostDirPolicy[] = []): HostDirPolicy[] {
    return [...previous, ...appendList(text).map(parseHostDirPolicy)];
  }

  @Option({
    flags: '--scheduler-profile <profile>',
    description:
      'optimize-utilization: fill the busiest worker that fits first; distribute-load: the least busy first',
  })
  parseSchedulerProfile(text: string): SchedulerProfile {
    return parseChoice('--scheduler-profile', text, SCHEDULER_PROFILES);
  }

  async run(_args: string[], options: SetClusterSettingsOptions): Promise<void> {
    const update: Partial<ClusterSettings> = {};
    if (options.hostDirPolicies) update.hostDirPolicies = options.hostDirPolicies;
    if (options.schedulerProfile) update.schedulerProfile = options.schedulerProfile;
    if (Object.keys(update).length === 0) {
      throw new UsageError('nothing to set: give --host-dir-policies and/or --scheduler-profile');
    }
    // The controller keeps the fields left out, so no read-modify-write race with another admin.
    await (await this.clients.open()).setClusterSettings(update);
  }
}
