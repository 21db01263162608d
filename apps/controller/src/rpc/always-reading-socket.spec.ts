import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

import { AlwaysReadingSocket, MAX_UNSENT_BYTES } from './always-reading-socket.js';

describe(AlwaysReadingSocket.name, () => {
  let server: Server;
  let peer: Socket;
  let socket: Socket;

  beforeEach(async () => {
    server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const accepted = once(server, 'connection');
    socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    await once(socket, 'connect');
    [peer] = (await accepted) as [Socket];
  });

  afterEach(async () => {
    peer.destroy();
    socket.destroy();
    server.close();
    await once(server, 'close');
  });

  it('completes writes while the peer is not reading, so that its user keeps reading', async () => {
    peer.pause();
    const wrapped = new AlwaysReadingSocket(socket);
    const chunk = Buffer.alloc(1024 * 1024);
    // Far more than loopback TCP buffers hold: each callback still comes at once.
    for (let i = 0; i < 16; i++) {
      await new Promise<void>((resolve, reject) =>
        wrapped.write(chunk, (error) => (error ? reject(error) : resolve())),
      );
    }
    expect(socket.writableLength).toBeGreaterThan(0);
    const received = once(wrapped, 'data');
    peer.write('still reading');
    expect(String((await received)[0])).toBe('still reading');
    wrapped.destroy();
  });

  it('gives the connection up when the peer leaves more than the limit unread', async () => {
    peer.pause();
    const wrapped = new AlwaysReadingSocket(socket);
    const failed = once(wrapped, 'error');
    const chunk = Buffer.alloc(4 * 1024 * 1024);
    for (let sent = 0; sent <= MAX_UNSENT_BYTES + chunk.length && !wrapped.destroyed; sent += chunk.length) {
      wrapped.write(chunk, () => undefined);
    }
    const [error] = (await failed) as [Error];
    expect(error.message).toMatch(/has not read \d+ bytes of its gRPC connection/);
    await once(socket, 'close');
  });

  it('closes when the peer closes the connection', async () => {
    const wrapped = new AlwaysReadingSocket(socket);
    wrapped.resume();
    peer.end();
    await once(wrapped, 'close');
    expect(socket.destroyed).toBe(true);
  });
});
