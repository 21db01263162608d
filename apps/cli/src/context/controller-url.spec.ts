import { UsageError } from '../common/errors.js';
import { normaliseControllerUrl } from './controller-url.js';

describe(normaliseControllerUrl.name, () => {
  it("adds http:// and Orchard's port 6120 to a bare host", () => {
    expect(normaliseControllerUrl('orchard.local')).toBe('http://orchard.local:6120');
    expect(normaliseControllerUrl('10.0.0.5:7000')).toBe('http://10.0.0.5:7000');
  });

  it('takes a URL with a scheme as given, path prefix included', () => {
    expect(normaliseControllerUrl('https://orchard.example.com')).toBe('https://orchard.example.com');
    expect(normaliseControllerUrl('http://127.0.0.1:6120/orchard/')).toBe('http://127.0.0.1:6120/orchard');
  });

  it('refuses what is not an http(s) address', () => {
    expect(() => normaliseControllerUrl('ftp://orchard')).toThrow(UsageError);
    expect(() => normaliseControllerUrl('http://')).toThrow(UsageError);
  });
});
