import { badRequest, invalid } from './errors.js';

/**
 * Typed readers for request bodies. Unknown fields are ignored (as Orchard does); a present
 * field of the wrong type is a validation error naming the field.
 */
export type JsonObject = Record<string, unknown>;

export function asObject(body: unknown, what = 'request body'): JsonObject {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest(`${what} must be a JSON object`);
  }
  return body as JsonObject;
}

/**
 * A value inside a well-formed body that must be an object: the body parsed, it breaks a rule,
 * so this is a validation error (412) like any other wrongly typed field, not a bad request.
 */
export function asNestedObject(value: unknown, what: string): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`${what} must be a JSON object`);
  }
  return value as JsonObject;
}

export function optionalString(body: JsonObject, key: string): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalid(`${key} must be a string`);
  return value;
}

export function optionalBool(body: JsonObject, key: string): boolean | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw invalid(`${key} must be true or false`);
  return value;
}

/** Non-negative integer within the range a PostgreSQL bigint and a JS number both hold exactly. */
export function optionalCount(body: JsonObject, key: string): number | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(`${key} must be a non-negative integer`);
  }
  return value;
}

export function optionalEnum<T extends string>(
  body: JsonObject,
  key: string,
  allowed: readonly T[],
): T | undefined {
  const value = body[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalid(`${key} must be one of: ${allowed.join(', ')}`);
  }
  return value as T;
}

export function optionalStringArray(body: JsonObject, key: string): string[] | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
    throw invalid(`${key} must be an array of strings`);
  }
  return value as string[];
}

export function optionalStringMap(body: JsonObject, key: string): Record<string, string> | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(`${key} must be an object`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value as JsonObject)) {
    if (typeof v !== 'string') throw invalid(`${key}.${k} must be a string`);
    out[k] = v;
  }
  return out;
}

export function optionalCountMap(body: JsonObject, key: string): Record<string, number> | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(`${key} must be an object`);
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(value as JsonObject)) {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      throw invalid(`${key}.${k} must be a non-negative integer`);
    }
    out[k] = v;
  }
  return out;
}

export function optionalObjectArray(body: JsonObject, key: string): JsonObject[] | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw invalid(`${key} must be an array`);
  return value.map((item, index) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw invalid(`${key}[${index}] must be an object`);
    }
    return item as JsonObject;
  });
}
