import { Injectable } from '@nestjs/common';
import { DataSource, type Repository } from 'typeorm';

import type { ClusterSettings } from '#api';

import { ClusterEvents } from '../common/cluster-events.js';
import { ClusterSettingsEntity } from '../database/cluster-settings.entity.js';

const SINGLETON_ID = 1;

@Injectable()
export class ClusterSettingsService {
  private readonly repository: Repository<ClusterSettingsEntity>;

  constructor(
    dataSource: DataSource,
    private readonly events: ClusterEvents,
  ) {
    this.repository = dataSource.getRepository(ClusterSettingsEntity);
  }

  async get(): Promise<ClusterSettings> {
    // The migration inserts the single row; it is never deleted.
    const row = await this.repository.findOneByOrFail({ id: SINGLETON_ID });
    return { hostDirPolicies: row.hostDirPolicies, schedulerProfile: row.schedulerProfile };
  }

  async set(settings: ClusterSettings): Promise<ClusterSettings> {
    await this.repository.update(
      { id: SINGLETON_ID },
      { hostDirPolicies: settings.hostDirPolicies, schedulerProfile: settings.schedulerProfile },
    );
    this.events.settingsChanged();
    return this.get();
  }
}
