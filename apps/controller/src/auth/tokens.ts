import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A new service-account token: 256 random bits, base64url (43 characters). */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Tokens are stored as SHA-256. Generated tokens carry 256 bits of entropy, so a fast hash is
 * enough; client-chosen tokens must be at least 16 characters (see MIN_TOKEN_LENGTH).
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function tokenMatches(token: string, storedHash: string): boolean {
  const actual = Buffer.from(hashToken(token), 'hex');
  const expected = Buffer.from(storedHash, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
