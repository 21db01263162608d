import { invalid } from './errors.js';

/**
 * Orchard is written in Go, whose JSON encodes an unset time.Time as "0001-01-01T00:00:00Z".
 * We emit the same so Go clients and scripts comparing timestamps keep working, and accept
 * it (or null, or a missing field) as "unset" on input.
 */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

export function formatTime(value: Date | null | undefined): string {
  return value ? value.toISOString() : ZERO_TIME;
}

/** Parses an RFC 3339 timestamp; returns null for unset (zero time, null, undefined). */
export function parseTime(value: unknown, field: string): Date | null {
  if (value === undefined || value === null || value === '' || value === ZERO_TIME) {
    return null;
  }
  if (typeof value !== 'string') {
    throw invalid(`${field} must be an RFC 3339 timestamp`);
  }
  const parsed = new Date(value);
  if (Number.isNaN(parsed.getTime()) || parsed.getUTCFullYear() <= 1) {
    return null;
  }
  return parsed;
}
