import { QueryFailedError } from 'typeorm';

/** PostgreSQL's SQLSTATE for a unique-constraint violation. */
const UNIQUE_VIOLATION = '23505';

export function isUniqueViolation(error: unknown): boolean {
  return (
    error instanceof QueryFailedError && (error.driverError as { code?: string })?.code === UNIQUE_VIOLATION
  );
}

/** SQLSTATEs of a server that cannot take work now: too many connections, shutting down, starting. */
const UNAVAILABLE_STATES = new Set(['53300', '57P01', '57P02', '57P03']);
/**
 * What node-postgres says when no pooled connection frees up, or a new one is not established,
 * within `connectionTimeoutMillis`, or when the server drops the connection.
 */
const CONNECTION_MESSAGES = new Set([
  'timeout exceeded when trying to connect',
  'Connection terminated due to connection timeout',
  'Connection terminated unexpectedly',
]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EPIPE',
]);

/** What the user is told, over HTTP and gRPC alike, when the database could not serve a request. */
export const DATABASE_UNAVAILABLE_MESSAGE = 'the database is busy or unavailable, try again shortly';

/**
 * Whether the database could not serve the request (busy, down, unreachable), as opposed to the
 * request or the code being wrong: the answer is then a 503 to retry, not a 500.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const cause = error instanceof QueryFailedError ? (error.driverError as unknown) : error;
  // Not `instanceof Error`: errors made in another realm (Node's core under jest) fail that check.
  if (typeof cause !== 'object' || cause === null) return false;
  const { code, message } = cause as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (UNAVAILABLE_STATES.has(code) || NETWORK_CODES.has(code))) return true;
  return typeof message === 'string' && CONNECTION_MESSAGES.has(message);
}
