import { WebSocket, WebSocketServer } from 'ws';

import { tunnelMaskOptions } from './websocket-mask.js';

describe('tunnelMaskOptions', () => {
  it.each([
    'ws://127.0.0.1:6120/v1/vms/a/port-forward',
    'ws://127.8.9.10:6120/',
    'ws://localhost:6120/',
    'ws://[::1]:6120/',
    'wss://controller.example.com/v1/vms/a/port-forward',
    'https://controller.example.com/',
  ])('leaves frames to %s unmasked: nobody in between can read them', (url) => {
    const { generateMask } = tunnelMaskOptions(url);
    const mask = Buffer.from([1, 2, 3, 4]);
    generateMask?.(mask);
    expect([...mask]).toEqual([0, 0, 0, 0]);
  });

  it.each([
    'ws://controller.example.com:6120/',
    'ws://10.0.0.5:6120/',
    'ws://[fd00::1]:6120/',
    'ws://128.0.0.1/',
  ])('keeps random masks for frames to %s: an intermediary may read them', (url) => {
    expect(tunnelMaskOptions(url)).toEqual({});
  });

  it('is understood by a WebSocket server: the payload arrives intact', async () => {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as { port: number };
    const received = new Promise<Buffer>((resolve) =>
      server.once('connection', (socket) => socket.once('message', (data) => resolve(data as Buffer))),
    );
    const url = `ws://127.0.0.1:${port}/`;
    const client = new WebSocket(url, { ...tunnelMaskOptions(url), perMessageDeflate: false });
    await new Promise((resolve) => client.once('open', resolve));
    const payload = Buffer.from('bytes that travel as they are');
    client.send(payload);
    expect((await received).equals(payload)).toBe(true);
    client.terminate();
    await new Promise((resolve) => server.close(resolve));
  });
});
