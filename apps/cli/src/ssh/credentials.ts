import { ApiError, type OrchardClient } from '#client';

/** Tart's images log in as admin/admin, so Orchard falls back on that. */
export const DEFAULT_CREDENTIALS = { username: 'admin', password: 'admin' } as const;

export interface LoginCredentials {
  username: string;
  password: string;
  /** Where they came from, for messages: "--username/--password", "the VM", "the default admin/admin". */
  source: string;
}

export interface CredentialFlags {
  username?: string;
  password?: string;
}

/**
 * The credentials to log in to a VM with: --username/--password win field by field, else the
 * VM's own (GET /v1/vms/NAME, when it has both), else admin/admin. A VM that does not exist is an
 * error; an account that may connect to the VM but not read it falls back on the default.
 */
export async function vmCredentials(
  client: OrchardClient,
  name: string,
  flags: CredentialFlags,
): Promise<LoginCredentials> {
  if (flags.username !== undefined && flags.password !== undefined) {
    return { username: flags.username, password: flags.password, source: '--username/--password' };
  }
  let base: LoginCredentials = { ...DEFAULT_CREDENTIALS, source: 'the default admin/admin' };
  try {
    const vm = await client.getVm(name);
    if (vm.username && vm.password) {
      base = { username: vm.username, password: vm.password, source: "the VM's credentials" };
    }
  } catch (error) {
    if (!(error instanceof ApiError) || error.status === 404) throw error;
  }
  if (flags.username === undefined && flags.password === undefined) return base;
  return {
    username: flags.username ?? base.username,
    password: flags.password ?? base.password,
    source: `${flags.username === undefined ? '--password' : '--username'} and ${base.source}`,
  };
}
