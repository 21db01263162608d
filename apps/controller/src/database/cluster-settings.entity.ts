import { Column, Entity, PrimaryColumn } from 'typeorm';

import type { HostDirPolicy, SchedulerProfile } from '#api';

/** A single row (id = 1): the cluster-wide settings. */
@Entity('cluster_settings')
export class ClusterSettingsEntity {
  @PrimaryColumn('integer')
  id!: number;

  @Column('jsonb', { name: 'host_dir_policies' })
  hostDirPolicies!: HostDirPolicy[];

  @Column('text', { name: 'scheduler_profile' })
  schedulerProfile!: SchedulerProfile;
}
