/** The five service-account roles of Orchard's v1 API. */
export const ROLES = [
  'compute:read',
  'compute:write',
  'compute:connect',
  'admin:read',
  'admin:write',
] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}
