import { once } from 'node:events';
import { type Socket } from 'node:net';
import { type Duplex } from 'node:stream';

import type WebSocket from 'ws';

import { WebSocketCloseError } from './errors.js';
import { splice } from './splice.js';
import {
  randomPayload,
  receiveAll,
  sendAll,
  sha256,
  TcpLoopback,
  type WebSocketPair,
  WebSocketLoopback,
} from './testing/loopback.js';
import { webSocketDuplex } from './websocket-duplex.js';

const MiB = 1024 * 1024;

/** Resolves with the code and reason of the WebSocket's close. */
async function closeOf(ws: WebSocket): Promise<{ code: number; reason: string }> {
  const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
  return { code, reason: reason.toString() };
}

/** Collects what a duplex reads until it ends. */
/** Collects what a duplex reads until it ends (without destroying it, as for-await would). */
function readAll(duplex: Duplex): Promise<Buffer> {
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    duplex.on('data', (chunk: Buffer) => chunks.push(chunk));
    duplex.once('end', () => resolve(Buffer.concat(chunks)));
    duplex.once('error', reject);
  });
}

/** Records the binary messages a WebSocket receives. */
function recordMessages(ws: WebSocket): Buffer[] {
  const messages: Buffer[] = [];
  ws.on('message', (data: Buffer) => messages.push(data));
  return messages;
}

describe(webSocketDuplex.name, () => {
  let tcp: TcpLoopback;
  let webSockets: WebSocketLoopback;
  let ws: WebSocketPair;

  beforeAll(async () => {
    [tcp, webSockets] = await Promise.all([TcpLoopback.start(), WebSocketLoopback.start()]);
  });

  afterAll(async () => {
    await Promise.all([tcp.close(), webSockets.close()]);
  });

  beforeEach(async () => {
    ws = await webSockets.pair();
  });

  afterEach(() => {
    ws.client.terminate();
    ws.server.terminate();
  });

  /** user <-TCP-> CLI splice <-WebSocket-> controller splice <-TCP-> VM. */
  async function tunnel(options: { halfClose?: boolean } = {}) {
    const [user, vm] = await Promise.all([tcp.pair(), tcp.pair()]);
    return {
      user: user.left,
      vm: vm.right,
      cli: splice(user.right, webSocketDuplex(ws.client, options)),
      controller: splice(webSocketDuplex(ws.server, options), vm.left),
    };
  }

  it('carries 32 MiB each way between two sockets unchanged', async () => {
    const { user, vm, cli, controller } = await tunnel();
    const up = randomPayload(32 * MiB, 3);
    const down = randomPayload(32 * MiB, 4);
    // Orchard's wire has no half-close: each end ends only once it has everything.
    const atVm = receiveAll(vm);
    const atUser = receiveAll(user);
    let received = 0;
    const endWhenBothArrived = () => {
      if (++received === 2) for (const socket of [user, vm]) socket.end();
    };
    const waitFor = (socket: Socket, length: number) => {
      let got = 0;
      const onData = (chunk: Buffer) => {
        got += chunk.length;
        if (got < length) return;
        socket.off('data', onData);
        endWhenBothArrived();
      };
      socket.on('data', onData);
    };
    waitFor(vm, up.length);
    waitFor(user, down.length);

    await Promise.all([sendAll(user, up, 64 * 1024, false), sendAll(vm, down, 64 * 1024, false)]);

    expect(await atVm).toEqual({ length: up.length, sha256: sha256(up) });
    expect(await atUser).toEqual({ length: down.length, sha256: sha256(down) });
    const results = await Promise.all([cli, controller]);
    for (const result of results)
      expect(result).toMatchObject({ bytesAtoB: up.length, bytesBtoA: down.length });
  });

  it('closes the WebSocket with 1000 when the duplex ends', async () => {
    const duplex = webSocketDuplex(ws.client);
    const closed = closeOf(ws.server);

    duplex.end('last words');

    const [message] = (await once(ws.server, 'message')) as [Buffer];
    expect(message.toString()).toBe('last words');
    await expect(closed).resolves.toEqual({ code: 1000, reason: '' });
  });

  it('delivers what the peer sent before closing normally, then ends and closes', async () => {
    const duplex = webSocketDuplex(ws.client);
    ws.server.send(Buffer.from('one '));
    ws.server.send(Buffer.from('two'));
    ws.server.close(1000);

    await expect(readAll(duplex)).resolves.toEqual(Buffer.from('one two'));
    if (!duplex.closed) await once(duplex, 'close');
    expect(duplex.errored).toBeNull();
  });

  it('fails with the close code when the peer closes abnormally', async () => {
    const duplex = webSocketDuplex(ws.client);
    duplex.resume();

    ws.server.close(1011, 'the VM went away');

    const [error] = (await once(duplex, 'error')) as [WebSocketCloseError];
    expect(error).toBeInstanceOf(WebSocketCloseError);
    expect([error.closeCode, error.reason]).toEqual([1011, 'the VM went away']);
  });

  it('fails when the connection drops without a close frame', async () => {
    const duplex = webSocketDuplex(ws.client);
    duplex.resume();

    ws.server.terminate();

    const [error] = (await once(duplex, 'error')) as [WebSocketCloseError];
    expect(error.closeCode).toBe(1006);
  });

  it('rejects a text message by closing with 1003', async () => {
    const duplex = webSocketDuplex(ws.client);
    duplex.resume();
    const closed = closeOf(ws.server);

    ws.server.send('not bytes');

    const [error] = (await once(duplex, 'error')) as [WebSocketCloseError];
    expect(error.closeCode).toBe(1003);
    await expect(closed).resolves.toMatchObject({ code: 1003 });
  });

  it('tells the peer about a failure with close code 1011', async () => {
    const duplex = webSocketDuplex(ws.client);
    duplex.on('error', () => undefined);
    const closed = closeOf(ws.server);

    duplex.destroy(new Error('connection to the VM refused'));

    await expect(closed).resolves.toEqual({ code: 1011, reason: 'connection to the VM refused' });
  });

  it('coalesces the writes made while a message is in flight into one message', async () => {
    const duplex = webSocketDuplex(ws.client);
    const messages = recordMessages(ws.server);
    const closed = once(ws.server, 'close');
    const tiny = Array.from({ length: 10_000 }, (_, i) => Buffer.from(`${i % 10}`.repeat(10)));

    for (const chunk of tiny) duplex.write(chunk); // the first goes out, the rest waits behind it
    duplex.end();
    await closed;

    expect(messages.map((m) => m.length)).toEqual([10, 99_990]);
    expect(sha256(Buffer.concat(messages))).toBe(sha256(Buffer.concat(tiny)));
  });

  it('never sends a message larger than maxMessageSize', async () => {
    const duplex = webSocketDuplex(ws.client, { maxMessageSize: 256 * 1024 });
    const messages = recordMessages(ws.server);
    const closed = once(ws.server, 'close');
    const payload = randomPayload(MiB);

    duplex.write(payload.subarray(0, 100));
    for (let offset = 100; offset < payload.length; offset += 1000)
      duplex.write(payload.subarray(offset, offset + 1000));
    duplex.end();
    await closed;

    expect(messages.map((m) => m.length)).toEqual([100, 262_144, 262_144, 262_144, 262_044]);
    expect(sha256(Buffer.concat(messages))).toBe(sha256(payload));
  });

  it('pauses the WebSocket while its readable buffer is full, and resumes when read', async () => {
    const duplex = webSocketDuplex(ws.client, { readableHighWaterMark: 64 * 1024 });
    const payload = randomPayload(4 * MiB);
    const paused = new Promise<void>((resolve) => {
      const check = () => {
        if (!ws.client.isPaused) return;
        ws.client.off('message', check);
        resolve();
      };
      ws.client.on('message', check);
    });
    for (let offset = 0; offset < payload.length; offset += 64 * 1024)
      ws.server.send(payload.subarray(offset, offset + 64 * 1024));
    ws.server.close(1000);

    await paused;
    expect(duplex.readableLength).toBeLessThanOrEqual(2 * 64 * 1024);

    expect(sha256(await readAll(duplex))).toBe(sha256(payload));
  });

  it('waits for a connecting WebSocket to open before sending', async () => {
    const connecting = webSockets.connect();
    expect(connecting.client.readyState).toBe(connecting.client.CONNECTING);
    const duplex = webSocketDuplex(connecting.client);
    const server = await connecting.server;
    const messages = recordMessages(server);
    const closed = closeOf(server);

    duplex.end('early bytes');

    await expect(closed).resolves.toMatchObject({ code: 1000 });
    expect(Buffer.concat(messages).toString()).toBe('early bytes');
  });

  it('completes the close handshake at once when destroyed while paused for backpressure', async () => {
    const duplex = webSocketDuplex(ws.server);
    duplex.on('error', () => undefined);
    // Nobody reads the duplex: the server WebSocket pauses while the client keeps sending.
    const paused = new Promise<void>((resolve) => {
      const check = () => (ws.server.isPaused ? resolve() : setImmediate(check));
      check();
    });
    const chunk = Buffer.alloc(256 * 1024);
    const flood = () => {
      if (ws.client.readyState === ws.client.OPEN) ws.client.send(chunk, flood);
    };
    flood();
    await paused;
    const clientClosed = closeOf(ws.client);
    const started = Date.now();

    duplex.destroy(new Error('the worker went away'));

    expect(await clientClosed).toEqual({ code: 1011, reason: 'the worker went away' });
    // Without reading the client's answer to the close frame, ws waits 30 s for it.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  describe('with the half-close extension', () => {
    it('lets one side end writing, still receive the rest, then closes both', async () => {
      const { user, vm, cli, controller } = await tunnel({ halfClose: true });
      const atVm = receiveAll(vm);
      const atUser = receiveAll(user);
      const wsClosed = closeOf(ws.client);

      user.end('request');
      await expect(atVm).resolves.toMatchObject({ length: 'request'.length });
      const response = randomPayload(4 * MiB);
      await sendAll(vm, response);

      await expect(atUser).resolves.toEqual({ length: response.length, sha256: sha256(response) });
      await expect(cli).resolves.toEqual({ bytesAtoB: 7, bytesBtoA: response.length, complete: true });
      await expect(controller).resolves.toEqual({ bytesAtoB: 7, bytesBtoA: response.length, complete: true });
      await expect(wsClosed).resolves.toMatchObject({ code: 1000 });
    });

    it('still treats a plain close from a peer without the extension as the end', async () => {
      const duplex = webSocketDuplex(ws.client, { halfClose: true });
      ws.server.send(Buffer.from('bytes'));
      ws.server.close(1000);

      await expect(readAll(duplex)).resolves.toEqual(Buffer.from('bytes'));
    });
  });

  describe('without the half-close extension', () => {
    it('carries an empty message as zero bytes', async () => {
      const duplex = webSocketDuplex(ws.client);
      ws.server.send(Buffer.alloc(0));
      ws.server.send(Buffer.from('after'));
      ws.server.close(1000);

      await expect(readAll(duplex)).resolves.toEqual(Buffer.from('after'));
    });
  });
});
