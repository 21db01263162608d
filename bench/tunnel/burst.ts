import { performance } from 'node:perf_hooks';

import WebSocket from 'ws';

import { tunnelMaskOptions } from '#pipe';

import { matchesPayload, type ManyResult } from './measure.js';
import { PAYLOAD } from './targets.js';

/** Frames each client sends its bytes in. */
const FRAME_BYTES = 64 * 1024;

/**
 * `count` WebSocket clients straight to a port-forward endpoint (an echo port), all at once, each
 * sending its `bytesEach` the moment it is open, without waiting for any backpressure (ws queues
 * what the socket does not take yet), and reading them back (checked byte for byte), then closing
 * with 1000. No forwarder paces anything: every tunnel's bytes reach the controller together.
 * Bounded by `timeoutMs` overall: what is not done by then is a failure.
 */
export async function burstEchoes(
  url: string,
  headers: Record<string, string>,
  count: number,
  bytesEach: number,
  timeoutMs: number,
): Promise<ManyResult> {
  const errors = new Map<string, number>();
  const durations: number[] = [];
  const startedAt = performance.now();
  const deadline = startedAt + timeoutMs;
  const one = () =>
    new Promise<void>((resolve) => {
      const began = performance.now();
      const ws = new WebSocket(url, { headers, perMessageDeflate: false, ...tunnelMaskOptions(url) });
      let received = 0;
      let settled = false;
      const finish = (error: string | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error === null) durations.push(performance.now() - began);
        else errors.set(error, (errors.get(error) ?? 0) + 1);
        if (ws.readyState === WebSocket.OPEN) ws.close(1000);
        else ws.terminate();
        resolve();
      };
      const timer = setTimeout(
        () => finish(`timed out after the time cap with N of M bytes`),
        Math.max(1, deadline - performance.now()),
      );
      ws.on('open', () => {
        for (let sent = 0; sent < bytesEach; sent += FRAME_BYTES) {
          const at = sent % PAYLOAD.length;
          const size = Math.min(FRAME_BYTES, bytesEach - sent, PAYLOAD.length - at);
          ws.send(PAYLOAD.subarray(at, at + size), { binary: true, compress: false });
        }
      });
      ws.on('message', (data: Buffer) => {
        if (!matchesPayload(data, received)) return finish(`wrong bytes at offset ${received}`);
        received += data.length;
        if (received >= bytesEach)
          finish(received === bytesEach ? null : `${received} bytes back instead of ${bytesEach}`);
      });
      ws.on('unexpected-response', (_request, response) => finish(`HTTP ${response.statusCode}`));
      ws.on('error', (error) => finish(error.message));
      ws.on('close', () => finish(`closed after N of M bytes`));
    });
  await Promise.all(Array.from({ length: count }, one));
  return { count, ok: durations.length, errors, wallMs: performance.now() - startedAt, durations };
}
