import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource, type Repository } from 'typeorm';

import {
  ROLES,
  conflict,
  formatTime,
  notFound,
  type Role,
  type ServiceAccount,
  type ServiceAccountInput,
  type ServiceAccountUpdate,
} from '#api';

import { generateToken, hashToken, tokenMatches } from '../auth/tokens.js';
import { isUniqueViolation } from '../common/pg-errors.js';
import { CONTROLLER_CONFIG, type ControllerConfig } from '../config/controller-config.js';
import { ServiceAccountEntity } from '../database/service-account.entity.js';

export const BOOTSTRAP_ADMIN = 'bootstrap-admin';

export function toWireServiceAccount(entity: ServiceAccountEntity, token?: string): ServiceAccount {
  const account: ServiceAccount = {
    name: entity.name,
    roles: entity.roles,
    createdAt: formatTime(entity.createdAt),
  };
  if (token !== undefined) account.token = token;
  return account;
}

/**
 * How long an account read for authentication is reused. Every API call and every tunnel is
 * authenticated, and reading the account was half of the database work of a VM GET. Changes made
 * through this controller take effect at once (they drop the entry); one made through another
 * replica sharing the database is seen here within this time.
 */
export const AUTH_CACHE_TTL_MS = 5_000;
/** Entries kept at most; past it the cache starts over (there are few accounts in practice). */
const AUTH_CACHE_MAX_ENTRIES = 1_000;

interface CachedAccount {
  tokenHash: string;
  roles: readonly Role[];
  expiresAt: number;
}

@Injectable()
export class ServiceAccountsService {
  private readonly logger = new Logger('service-accounts');
  private readonly repository: Repository<ServiceAccountEntity>;
  /** Accounts by name, as last read for authentication (only existing ones: misses are not kept). */
  private readonly authCache = new Map<string, CachedAccount>();
  /** Bumped by every change, so that a read that raced a change is not cached after it. */
  private changes = 0;

  constructor(
    dataSource: DataSource,
    @Inject(CONTROLLER_CONFIG) private readonly config: ControllerConfig,
  ) {
    this.repository = dataSource.getRepository(ServiceAccountEntity);
  }

  async authenticate(name: string, token: string): Promise<{ name: string; roles: readonly Role[] } | null> {
    const account = await this.accountForAuthentication(name);
    if (!account || !tokenMatches(token, account.tokenHash)) return null;
    return { name, roles: account.roles };
  }

  private async accountForAuthentication(name: string): Promise<CachedAccount | null> {
    const cached = this.authCache.get(name);
    if (cached && cached.expiresAt > Date.now()) return cached;
    const changesBefore = this.changes;
    const entity = await this.repository.findOneBy({ name });
    if (!entity) return null;
    const account = {
      tokenHash: entity.tokenHash,
      roles: entity.roles,
      expiresAt: Date.now() + AUTH_CACHE_TTL_MS,
    };
    if (this.changes === changesBefore) {
      if (this.authCache.size >= AUTH_CACHE_MAX_ENTRIES) this.authCache.clear();
      this.authCache.set(name, account);
    }
    return account;
  }

  /** Every change to an account goes through here, before and after it is written. */
  private forget(name: string): void {
    this.changes++;
    this.authCache.delete(name);
  }

  /** Creates the account; the answer carries the token, the only time it is ever shown. */
  async create(input: ServiceAccountInput): Promise<ServiceAccount> {
    const token = input.token ?? generateToken();
    const entity = this.repository.create({
      name: input.name,
      roles: input.roles,
      tokenHash: hashToken(token),
    });
    try {
      await this.repository.insert(entity);
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`service account "${input.name}" already exists`);
      throw error;
    }
    const stored = await this.repository.findOneByOrFail({ name: input.name });
    return toWireServiceAccount(stored, token);
  }

  async list(): Promise<ServiceAccount[]> {
    const accounts = await this.repository.find({ order: { name: 'ASC' } });
    return accounts.map((account) => toWireServiceAccount(account));
  }

  async get(name: string): Promise<ServiceAccount> {
    return toWireServiceAccount(await this.find(name));
  }

  /** Changes roles and/or sets a new token; a new token is echoed once, like on create. */
  async update(name: string, update: ServiceAccountUpdate): Promise<ServiceAccount> {
    const account = await this.find(name);
    if (update.roles) account.roles = update.roles;
    if (update.token) account.tokenHash = hashToken(update.token);
    this.forget(name);
    try {
      await this.repository.update({ name }, { roles: account.roles, tokenHash: account.tokenHash });
    } finally {
      this.forget(name);
    }
    return toWireServiceAccount(account, update.token);
  }

  async delete(name: string): Promise<void> {
    this.forget(name);
    const result = await this.repository.delete({ name }).finally(() => this.forget(name));
    if (!result.affected) throw notFound(`service account "${name}" not found`);
  }

  /**
   * On first start (no accounts at all) creates `bootstrap-admin` with every role and prints
   * its token once; with ORCHARD_BOOTSTRAP_ADMIN_TOKEN set, (re)sets that account to the token.
   */
  async ensureBootstrapAdmin(): Promise<void> {
    const configured = this.config.bootstrapAdminToken;
    if (configured) {
      this.forget(BOOTSTRAP_ADMIN);
      await this.repository.upsert(
        { name: BOOTSTRAP_ADMIN, roles: [...ROLES], tokenHash: hashToken(configured) },
        { conflictPaths: ['name'] },
      );
      this.logger.log(
        `service account "${BOOTSTRAP_ADMIN}" uses the token from ORCHARD_BOOTSTRAP_ADMIN_TOKEN`,
      );
      return;
    }
    if (!this.config.authEnabled || (await this.repository.count()) > 0) return;
    const token = generateToken();
    // ON CONFLICT DO NOTHING: two replicas starting on an empty database create one account.
    const result = await this.repository
      .createQueryBuilder()
      .insert()
      .values({ name: BOOTSTRAP_ADMIN, roles: [...ROLES], tokenHash: hashToken(token) })
      .orIgnore()
      .execute();
    if ((result.raw as unknown[]).length === 0) return;
    // Printed once, to stdout, so an operator can capture it; it is not stored anywhere.
    process.stdout.write(
      `Created service account "${BOOTSTRAP_ADMIN}" with all roles. Its token is shown only this once:\n` +
        `  ${token}\n` +
        `Use it with: orchard context create http://<controller>:6120 --service-account-name ${BOOTSTRAP_ADMIN} --service-account-token ${token}\n`,
    );
  }

  private async find(name: string): Promise<ServiceAccountEntity> {
    const account = await this.repository.findOneBy({ name });
    if (!account) throw notFound(`service account "${name}" not found`);
    return account;
  }
}
