import { OrchardError } from './errors.js';
import { formatBootstrapToken, parseBootstrapToken } from './bootstrap-token.js';

describe(parseBootstrapToken.name, () => {
  it('reads back what formatBootstrapToken wrote', () => {
    const token = { serviceAccountName: 'worker-pool-m4', serviceAccountToken: 's3cr3t/+=token' };
    expect(parseBootstrapToken(formatBootstrapToken(token))).toEqual(token);
  });

  it("reads Orchard's format: unpadded base64url name and token after the v0 prefix", () => {
    const text = 'orchard-bootstrap-token-v0.d29ya2VyLXBvb2wtbTQ.dG9rZW4';
    expect(parseBootstrapToken(text)).toEqual({
      serviceAccountName: 'worker-pool-m4',
      serviceAccountToken: 'token',
    });
  });

  it('keeps a pinned certificate', () => {
    const certificate = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const text = formatBootstrapToken({ serviceAccountName: 'w', serviceAccountToken: 't', certificate });
    expect(parseBootstrapToken(text).certificate).toBe(certificate);
  });

  it.each([
    ['an empty string', ''],
    ['another prefix', 'orchard-bootstrap-token-v1.bmFtZQ.dG9rZW4'],
    ['an empty name', 'orchard-bootstrap-token-v0..dG9rZW4'],
    ['a missing token', 'orchard-bootstrap-token-v0.bmFtZQ'],
    ['a certificate that is not PEM', 'orchard-bootstrap-token-v0.bmFtZQ.dG9rZW4.bm90IHBlbQ'],
  ])('refuses %s with a validation error', (_what, text) => {
    expect(() => parseBootstrapToken(text)).toThrow(OrchardError);
  });
});
