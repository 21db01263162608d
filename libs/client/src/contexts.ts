import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

import { parse, stringify } from 'yaml';

import { ClientConfigError } from './errors.js';

/**
 * The contexts file (`~/.orchard/orchard.yml`), in the shape Orchard's Go CLI writes, so both
 * CLIs can share it:
 *
 *   default-context: prod
 *   contexts:
 *     prod: {url: ..., serviceAccountName: ..., serviceAccountToken: ..., certificate: ...}
 */
export interface Context {
  url: string;
  serviceAccountName?: string;
  serviceAccountToken?: string;
  /** Written by Orchard's Go CLI (a pinned PEM, base64); kept untouched so sharing the file is safe. */
  certificate?: string;
}

export interface Contexts {
  defaultContext: string | null;
  contexts: Record<string, Context>;
}

const isMap = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function optionalString(entry: Record<string, unknown>, key: string, where: string): string | undefined {
  const value = entry[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new ClientConfigError(`${where}.${key} must be a string`);
  return value;
}

/** Reads the YAML text of a contexts file; `source` names it in error messages. */
export function parseContexts(text: string, source: string): Contexts {
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    throw new ClientConfigError(`${source} is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (document === null || document === undefined) return { defaultContext: null, contexts: {} };
  if (!isMap(document)) throw new ClientConfigError(`${source} must be a YAML mapping`);
  const defaultContext = optionalString(document, 'default-context', source) ?? null;
  const raw = document['contexts'] ?? {};
  if (!isMap(raw)) throw new ClientConfigError(`${source}: contexts must be a mapping of name to context`);
  const contexts: Record<string, Context> = {};
  for (const [name, entry] of Object.entries(raw)) {
    const where = `${source}: contexts.${name}`;
    if (!isMap(entry)) throw new ClientConfigError(`${where} must be a mapping`);
    const context: Context = { url: optionalString(entry, 'url', where) ?? '' };
    for (const key of ['serviceAccountName', 'serviceAccountToken', 'certificate'] as const) {
      const value = optionalString(entry, key, where);
      if (value !== undefined) context[key] = value;
    }
    contexts[name] = context;
  }
  return { defaultContext, contexts };
}

export function stringifyContexts(contexts: Contexts): string {
  const document: Record<string, unknown> = {};
  if (contexts.defaultContext) document['default-context'] = contexts.defaultContext;
  if (Object.keys(contexts.contexts).length > 0) document['contexts'] = contexts.contexts;
  return stringify(document);
}

/** Adds (or with `force` replaces) a context; the first context becomes the default. */
export function addContext(contexts: Contexts, name: string, context: Context, force = false): Contexts {
  if (name.trim() === '') throw new ClientConfigError('a context needs a name');
  if (name in contexts.contexts && !force) {
    throw new ClientConfigError(`context "${name}" already exists (use --force to replace it)`);
  }
  return {
    defaultContext: contexts.defaultContext ?? name,
    contexts: { ...contexts.contexts, [name]: context },
  };
}

export function setDefaultContext(contexts: Contexts, name: string): Contexts {
  if (!(name in contexts.contexts)) throw new ClientConfigError(`no such context: "${name}"`);
  return { ...contexts, defaultContext: name };
}

/** Removes a context; when it was the default, the first remaining one (by name) takes over. */
export function deleteContext(contexts: Contexts, name: string): Contexts {
  if (!(name in contexts.contexts)) throw new ClientConfigError(`no such context: "${name}"`);
  const rest = { ...contexts.contexts };
  delete rest[name];
  const defaultContext =
    contexts.defaultContext === name ? (Object.keys(rest).sort()[0] ?? null) : contexts.defaultContext;
  return { defaultContext, contexts: rest };
}

/** A missing file is an empty one (nothing configured yet). */
export async function loadContexts(path: string): Promise<Contexts> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { defaultContext: null, contexts: {} };
    throw new ClientConfigError(`cannot read ${path}: ${(error as Error).message}`);
  }
  return parseContexts(text, path);
}

/**
 * Writes the file readable by its owner only (it holds tokens). Written beside and renamed
 * over the old one, so a reader never sees half a file and a crash never loses the old one.
 */
export async function saveContexts(path: string, contexts: Contexts): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await writeFile(temporary, stringifyContexts(contexts), { mode: 0o600 });
    await rename(temporary, path);
  } catch (error) {
    throw new ClientConfigError(`cannot write ${path}: ${(error as Error).message}`);
  }
}
