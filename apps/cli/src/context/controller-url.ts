import { UsageError } from '../common/errors.js';

const DEFAULT_PORT = 6120;

/**
 * `host` or `host:port` as typed by a person becomes http://host:6120 (Orchard's default
 * port); a URL with a scheme is taken as given, since behind a proxy the port is the proxy's.
 */
export function normaliseControllerUrl(text: string): string {
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text);
  let url: URL;
  try {
    url = new URL(hasScheme ? text : `http://${text}`);
  } catch {
    throw new UsageError(`"${text}" is not a controller address (try http://host:${DEFAULT_PORT})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`"${text}" is not an http:// or https:// address`);
  }
  if (!hasScheme && url.port === '') url.port = String(DEFAULT_PORT);
  return url.toString().replace(/\/+$/, '');
}
