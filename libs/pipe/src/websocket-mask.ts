import { isIP } from 'node:net';

/**
 * The `generateMask` option for a client WebSocket that carries tunnel bytes to `url`.
 *
 * RFC 6455 has clients mask every frame with a fresh random key, so that a script in a browser
 * cannot choose the bytes an HTTP intermediary (a transparent proxy, a cache) sees on the wire and
 * make it misread them as a request of its own. Masking costs a copy and an XOR of every byte
 * uploaded: about half of the CLI's CPU on an upload through `orchard port-forward`.
 *
 * Where no intermediary can read the frames, the mask protects nothing: over TLS (wss://) an
 * intermediary sees ciphertext, and a controller on this machine's loopback has none. There the
 * key is all zeros, which `ws` recognises and then sends the payload as it is (RFC 6455 allows
 * any key; the receiver unmasks as always). Everywhere else ws's default random key stays.
 */
export function tunnelMaskOptions(url: string | URL): { generateMask?: (mask: Buffer) => void } {
  const parsed = typeof url === 'string' ? new URL(url) : url;
  if (parsed.protocol === 'wss:' || parsed.protocol === 'https:' || isLoopbackHost(parsed.hostname)) {
    return { generateMask: zeroMask };
  }
  return {};
}

function zeroMask(mask: Buffer): void {
  mask.fill(0);
}

/** localhost, 127.0.0.0/8, ::1 (URL hostnames keep IPv6 addresses in brackets). */
function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}
