import { performance } from 'node:perf_hooks';

import WebSocket from 'ws';

import { tunnelMaskOptions } from '#pipe';

import { matchesPayload, runMany, type ManyResult } from './measure.js';
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
export function burstEchoes(
  url: string,
  headers: Record<string, string>,
  count: number,
  bytesEach: number,
  timeoutMs: number,
): Promise<ManyResult> {
  return runMany(
    count,
    timeoutMs,
    (deadline) =>
      new Promise<void>((resolve, reject) => {
        const ws = new WebSocket(url, { headers, perMessageDeflate: false, ...tunnelMaskOptions(url) });
        let received = 0;
        let settled = false;
        const finish = (error: string | null) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          if (ws.readyState === WebSocket.OPEN) ws.close(1000);
          else ws.terminate();
          if (error === null) resolve();
          else reject(new Error(error));
        };
        const timer = setTimeout(
          () => finish(`timed out after the time cap with ${received} of ${bytesEach} bytes`),
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
        ws.on('close', () => finish(`closed after ${received} of ${bytesEach} bytes`));
      }),
  );
}
