import { isRole, parseDuration, ROLES, type HostDir, type HostDirPolicy, type Role } from '#api';

import { UsageError } from './errors.js';

/**
 * Parsers for flag values, called by commander as each flag is read (so a bad value fails
 * before anything is sent). Repeatable flags receive the value parsed so far as `previous`.
 */

export function parseCount(flag: string, text: string): number {
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`${flag} "${text}" is not a non-negative whole number`);
  }
  return Number(text);
}

export function parseChoice<T extends string>(flag: string, text: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(text)) {
    throw new UsageError(`${flag} "${text}" is not one of: ${allowed.join(', ')}`);
  }
  return text as T;
}

/** A Go-style duration ("90s", "5m", "1h30m") or a number of seconds; returns milliseconds. */
export function parseDurationFlag(flag: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === null || ms <= 0) throw new UsageError(`${flag} "${text}" is not a duration (try 30s, 5m, 1h)`);
  return ms;
}

/** Comma-separated and/or repeated: `--x a,b --x c` gives [a, b, c]. */
export function appendList(text: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...text
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== ''),
  ];
}

/** `key=value` pairs, comma-separated and/or repeated, as Orchard's --labels and --resources. */
export function parseKeyValues(
  flag: string,
  text: string,
  previous: Record<string, string> = {},
): Record<string, string> {
  const result = { ...previous };
  for (const pair of appendList(text)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`${flag} "${pair}" is not of the form key=value`);
    result[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return result;
}

/** Like parseKeyValues, with counts as values (`--resources org.cirruslabs.tart-vms=1`). */
export function parseResources(
  flag: string,
  text: string,
  previous: Record<string, number> = {},
): Record<string, number> {
  const result = { ...previous };
  for (const [key, value] of Object.entries(parseKeyValues(flag, text))) {
    result[key] = parseCount(`${flag} ${key}`, value);
  }
  return result;
}

/**
 * `name:path[:ro]`, as `tart run --dir`. Only the first colon separates the name, so a path
 * may contain colons; a trailing `:ro` makes the mount read-only.
 */
export function parseHostDir(text: string): HostDir {
  const ro = text.endsWith(':ro');
  const spec = ro ? text.slice(0, -':ro'.length) : text;
  const colon = spec.indexOf(':');
  const name = colon < 0 ? '' : spec.slice(0, colon);
  const path = colon < 0 ? '' : spec.slice(colon + 1);
  if (!name || !path) throw new UsageError(`--host-dirs "${text}" is not of the form name:path[:ro]`);
  return { name, path, ro };
}

/** `PREFIX[:ro]`: a path prefix VMs may mount, read-only when suffixed with `:ro`. */
export function parseHostDirPolicy(text: string): HostDirPolicy {
  const ro = text.endsWith(':ro');
  const pathPrefix = ro ? text.slice(0, -':ro'.length) : text;
  if (!pathPrefix.startsWith('/')) {
    throw new UsageError(`--host-dir-policies "${text}" is not an absolute path prefix, optionally with :ro`);
  }
  return { pathPrefix, ro };
}

export function parseRoles(text: string, previous: Role[] = []): Role[] {
  const roles = appendList(text);
  for (const role of roles) {
    if (!isRole(role)) throw new UsageError(`--roles "${role}" is not a role (roles: ${ROLES.join(', ')})`);
  }
  return [...new Set([...previous, ...(roles as Role[])])];
}

export const OUTPUT_FORMATS = ['text', 'json'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function parseOutput(text: string): OutputFormat {
  return parseChoice('--output', text, OUTPUT_FORMATS);
}
