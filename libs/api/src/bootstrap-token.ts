import { invalid } from './errors.js';

const PREFIX = 'orchard-bootstrap-token-v0';

/** What a worker needs to join: a service account's name and token (Orchard's format). */
export interface BootstrapToken {
  serviceAccountName: string;
  serviceAccountToken: string;
  /** PEM of the controller's certificate, when the token pins one. */
  certificate?: string;
}

const encode = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

/** `orchard-bootstrap-token-v0.<base64url name>.<base64url token>[.<base64url PEM>]`, unpadded. */
export function formatBootstrapToken(token: BootstrapToken): string {
  const parts = [PREFIX, encode(token.serviceAccountName), encode(token.serviceAccountToken)];
  if (token.certificate) parts.push(encode(token.certificate));
  return parts.join('.');
}

export function parseBootstrapToken(text: string): BootstrapToken {
  const parts = text.trim().split('.');
  const decode = (part: string | undefined) => {
    if (!part || !/^[A-Za-z0-9_-]+$/.test(part)) return '';
    return Buffer.from(part, 'base64url').toString('utf8');
  };
  const name = decode(parts[1]);
  const token = decode(parts[2]);
  if (parts[0] !== PREFIX || parts.length < 3 || parts.length > 4 || !name || !token) {
    throw invalid(
      `not a bootstrap token: expected ${PREFIX}.<name>.<token> as printed by "orchard get bootstrap-token"`,
    );
  }
  const result: BootstrapToken = { serviceAccountName: name, serviceAccountToken: token };
  if (parts.length === 4) {
    const certificate = decode(parts[3]);
    if (!certificate.includes('-----BEGIN CERTIFICATE-----'))
      throw invalid('the bootstrap token carries an invalid certificate');
    result.certificate = certificate;
  }
  return result;
}
