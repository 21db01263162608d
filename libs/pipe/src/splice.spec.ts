import { once } from 'node:events';
import { type Socket } from 'node:net';

import { splice } from './splice.js';
import {
  randomPayload,
  receiveAll,
  sendAll,
  sha256,
  type SocketPair,
  TcpLoopback,
} from './testing/loopback.js';

const MiB = 1024 * 1024;

/** Resolves with the error a socket emits, or null when it closes without one. */
function closeError(socket: Socket): Promise<NodeJS.ErrnoException | null> {
  return new Promise((resolve) => {
    let error: NodeJS.ErrnoException | null = null;
    socket.on('error', (e: NodeJS.ErrnoException) => (error = e));
    socket.once('close', () => resolve(error));
  });
}

/** Reads at least `length` bytes, then pauses the socket. */
function receiveBytes(socket: Socket, length: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let received = 0;
  return new Promise((resolve) => {
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received < length) return;
      socket.off('data', onData);
      socket.pause();
      resolve(Buffer.concat(chunks));
    };
    socket.on('data', onData);
  });
}

function closed(socket: Socket): Promise<void> {
  return socket.closed ? Promise.resolve() : once(socket, 'close').then(() => undefined);
}

describe(splice.name, () => {
  let tcp: TcpLoopback;
  // user <-> [left | splice | right] <-> vm: the splice joins user.right and vm.left.
  let user: SocketPair;
  let vm: SocketPair;

  beforeAll(async () => {
    tcp = await TcpLoopback.start();
  });

  afterAll(async () => {
    await tcp.close();
  });

  beforeEach(async () => {
    user = await tcp.pair();
    vm = await tcp.pair();
  });

  afterEach(() => {
    for (const socket of [user.left, user.right, vm.left, vm.right]) socket.destroy();
  });

  it('moves 32 MiB each way unchanged and counts every byte', async () => {
    const up = randomPayload(32 * MiB, 1);
    const down = randomPayload(32 * MiB, 2);
    const spliced = splice(user.right, vm.left);

    const [atVm, atUser] = await Promise.all([
      receiveAll(vm.right),
      receiveAll(user.left),
      sendAll(user.left, up),
      sendAll(vm.right, down),
    ]);

    expect(atVm).toEqual({ length: up.length, sha256: sha256(up) });
    expect(atUser).toEqual({ length: down.length, sha256: sha256(down) });
    await expect(spliced).resolves.toEqual({ bytesAtoB: up.length, bytesBtoA: down.length, complete: true });
  });

  it('propagates a half-close: the side that ended still receives the rest, then both close', async () => {
    const spliced = splice(user.right, vm.left);
    const vmReceived = receiveAll(vm.right);
    const userReceived = receiveAll(user.left);

    user.left.end('request');
    const request = await vmReceived;
    expect(request.length).toBe('request'.length);
    vm.right.end('response after the request ended');

    expect((await userReceived).length).toBe('response after the request ended'.length);
    await expect(spliced).resolves.toMatchObject({ complete: true });
    expect(user.right.destroyed && vm.left.destroyed).toBe(true);
    await Promise.all([closed(user.left), closed(vm.right)]);
  });

  it('shows the byte counters while it runs', async () => {
    const spliced = splice(user.right, vm.left);

    user.left.write(Buffer.alloc(1000));
    await receiveBytes(vm.right, 1000);
    expect([spliced.bytesAtoB, spliced.bytesBtoA]).toEqual([1000, 0]);

    vm.right.write(Buffer.alloc(500));
    await receiveBytes(user.left, 500);
    expect([spliced.bytesAtoB, spliced.bytesBtoA]).toEqual([1000, 500]);

    user.left.end();
    vm.right.end();
    await expect(spliced).resolves.toEqual({ bytesAtoB: 1000, bytesBtoA: 500, complete: true });
  });

  it('destroys both sides on the first error and rejects with it, resetting the TCP peer', async () => {
    const spliced = splice(user.right, vm.left);
    const vmClosed = closeError(vm.right);
    void sendAll(user.left, randomPayload(8 * MiB)).catch(() => undefined);
    user.left.on('error', () => undefined);
    await receiveBytes(vm.right, 64 * 1024);
    vm.right.resume(); // a paused socket would not notice the reset

    const failure = new Error('the user side failed');
    user.right.destroy(failure);

    await expect(spliced).rejects.toBe(failure);
    expect(vm.left.destroyed).toBe(true);
    expect((await vmClosed)?.code).toBe('ECONNRESET');
  });

  it('keeps the first error when both sides fail', async () => {
    const spliced = splice(user.right, vm.left);
    const first = new Error('first');
    user.right.destroy(first);
    vm.left.destroy(new Error('second'));
    vm.right.on('error', () => undefined);
    user.left.on('error', () => undefined);

    await expect(spliced).rejects.toBe(first);
  });

  it('resolves when a side is closed without an error, ending the other side', async () => {
    const spliced = splice(user.right, vm.left);
    user.left.write('partial');
    await receiveBytes(vm.right, 'partial'.length);
    const vmEnded = once(vm.right, 'end');
    vm.right.resume();

    user.right.destroy();

    await expect(spliced).resolves.toEqual({ bytesAtoB: 7, bytesBtoA: 0, complete: false });
    await vmEnded;
  });

  it('treats a reset after the peer ended as a normal close', async () => {
    const spliced = splice(user.right, vm.left);
    user.left.end();
    await once(vm.right, 'end');
    user.left.resetAndDestroy();

    // Whatever the VM still sends meets a connection reset on the user's side.
    vm.right.on('error', () => undefined);
    void sendAll(vm.right, randomPayload(4 * MiB), 64 * 1024, false).catch(() => undefined);

    await expect(spliced).resolves.toMatchObject({ bytesAtoB: 0, complete: false });
  });

  it('rejects with the abort reason and closes both sides when aborted', async () => {
    const controller = new AbortController();
    const spliced = splice(user.right, vm.left, { signal: controller.signal });
    user.left.on('error', () => undefined);
    vm.right.on('error', () => undefined);
    const reason = new Error('VM deleted');

    controller.abort(reason);

    await expect(spliced).rejects.toBe(reason);
    expect(user.right.destroyed && vm.left.destroyed).toBe(true);
  });

  it('closes a socket torn down while its end-of-stream is still being sent (no reset then)', async () => {
    const controller = new AbortController();
    const spliced = splice(user.right, vm.left, { signal: controller.signal });
    user.left.on('error', () => undefined);
    vm.right.on('error', () => undefined);
    // The moment after the splice ends vm.left: its shutdown has been asked for but not done, and
    // a TCP reset cannot be sent any more (libuv refuses it, and Node then never closes the socket).
    const end = vm.left.end.bind(vm.left);
    vm.left.end = ((...args: Parameters<Socket['end']>) => {
      const result = end(...args);
      process.nextTick(() => process.nextTick(() => controller.abort(new Error('torn down'))));
      return result;
    }) as Socket['end'];

    user.left.end();

    await expect(spliced).rejects.toThrow('torn down');
    await closed(vm.left);
    await closed(user.right);
  });

  it('rejects at once when the signal is already aborted', async () => {
    user.left.on('error', () => undefined);
    vm.right.on('error', () => undefined);
    await expect(splice(user.right, vm.left, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(user.right.destroyed && vm.left.destroyed).toBe(true);
  });
});
