import { invalid } from './errors.js';
import { asObject, optionalString, optionalStringArray } from './fields.js';
import { validateName } from './names.js';
import { isRole, type Role } from './roles.js';

/**
 * The ServiceAccount resource. `token` is present only in the answer to the create (and to a
 * token rotation): tokens are stored hashed, so the controller cannot show them again.
 */
export interface ServiceAccount {
  name: string;
  token?: string;
  roles: Role[];
  createdAt: string;
}

export interface ServiceAccountInput {
  name: string;
  token?: string;
  roles: Role[];
}

function parseRoles(object: Record<string, unknown>): Role[] | undefined {
  const roles = optionalStringArray(object, 'roles');
  if (roles === undefined) return undefined;
  for (const role of roles) {
    if (!isRole(role)) throw invalid(`unknown role "${role}"`);
  }
  return [...new Set(roles)] as Role[];
}

/** A client-chosen token must be long enough to resist guessing. */
export const MIN_TOKEN_LENGTH = 16;

function parseToken(object: Record<string, unknown>): string | undefined {
  const token = optionalString(object, 'token');
  if (token === undefined || token === '') return undefined;
  if (token.length < MIN_TOKEN_LENGTH) throw invalid(`token must be at least ${MIN_TOKEN_LENGTH} characters`);
  return token;
}

export function parseServiceAccountCreate(body: unknown): ServiceAccountInput {
  const object = asObject(body);
  const input: ServiceAccountInput = {
    name: validateName('service account', object['name']),
    roles: parseRoles(object) ?? [],
  };
  const token = parseToken(object);
  if (token !== undefined) input.token = token;
  return input;
}

export interface ServiceAccountUpdate {
  roles?: Role[];
  token?: string;
}

export function parseServiceAccountUpdate(body: unknown): ServiceAccountUpdate {
  const object = asObject(body);
  const update: ServiceAccountUpdate = {};
  const roles = parseRoles(object);
  if (roles !== undefined) update.roles = roles;
  const token = parseToken(object);
  if (token !== undefined) update.token = token;
  return update;
}
