import { invalid } from './errors.js';
import { asNestedObject, optionalBool, optionalString } from './fields.js';
import type { HostDirPolicy } from './cluster-settings.js';

/** A host directory mounted into a VM (`tart run --dir=name:path[:ro]`). */
export interface HostDir {
  name: string;
  path: string;
  ro: boolean;
}

export function parseHostDir(raw: unknown, index: number): HostDir {
  const object = asNestedObject(raw, `hostDirs[${index}]`);
  const name = optionalString(object, 'name');
  const path = optionalString(object, 'path');
  if (!name || name.includes(':') || name.includes('/')) {
    throw invalid(`hostDirs[${index}].name is required and cannot contain ':' or '/'`);
  }
  if (!path || !path.startsWith('/')) {
    throw invalid(`hostDirs[${index}].path must be an absolute path`);
  }
  return { name, path, ro: optionalBool(object, 'ro') ?? false };
}

function normalise(path: string): string {
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return '/' + parts.join('/');
}

/**
 * A host directory is allowed when some policy's prefix contains it (by whole path segments,
 * after resolving `..`) and, if that policy is read-only, the mount is read-only too.
 */
export function hostDirAllowed(hostDir: HostDir, policies: readonly HostDirPolicy[]): boolean {
  const path = normalise(hostDir.path);
  return policies.some((policy) => {
    const prefix = normalise(policy.pathPrefix);
    const inside = prefix === '/' || path === prefix || path.startsWith(prefix + '/');
    return inside && (!policy.ro || hostDir.ro);
  });
}
