import { createHash } from 'node:crypto';
import { once } from 'node:events';

import { GrpcCancelledError, WebSocketCloseError } from './errors.js';
import { splice } from './splice.js';
import {
  closeLoopbacks,
  type Loopbacks,
  middleBufferedBytes,
  openTunnel,
  randomPayload,
  receiveAll,
  sendAll,
  sha256,
  startLoopbacks,
  type Tunnel,
} from './testing/loopback.js';

const MiB = 1024 * 1024;

// user <-TCP-> CLI <-WebSocket-> controller <-gRPC-> worker <-TCP-> VM, as the apps splice it.
describe(`${splice.name} across a whole port-forward tunnel`, () => {
  let loopbacks: Loopbacks;
  let tunnel: Tunnel;

  beforeAll(async () => {
    loopbacks = await startLoopbacks();
  });

  afterAll(async () => {
    await closeLoopbacks(loopbacks);
  });

  afterEach(() => {
    for (const socket of [tunnel.user, tunnel.vm]) socket.destroy();
  });

  it('holds under 2 MiB in the middle while a fast writer offers 64 MiB to a slow reader', async () => {
    tunnel = await openTunnel(loopbacks, { halfClose: true });
    const { user, vm } = tunnel;
    const payload = randomPayload(64 * MiB, 7);
    let peak = 0;
    const sample = () => (peak = Math.max(peak, middleBufferedBytes(tunnel)));
    for (const ws of [tunnel.middle.cliWebSocket, tunnel.middle.controllerWebSocket])
      ws.on('message', sample);
    for (const call of [tunnel.middle.controllerCall, tunnel.middle.workerCall]) call.on('data', sample);

    // The writer writes whenever it may; the reader takes one chunk per event-loop turn, and only
    // while the writer is blocked, so that the tunnel stays full all along.
    let writerBlocked = false;
    let writerDone = false;
    let readerIdle = true;
    const hash = createHash('sha256');
    let received = 0;
    const wakeReader = () => {
      if (!readerIdle) return;
      readerIdle = false;
      setImmediate(readOne);
    };
    const readOne = () => {
      if (!writerBlocked && !writerDone) return void (readerIdle = true);
      let chunk: Buffer | null;
      let readThisTurn = 0;
      while (readThisTurn < 256 * 1024 && (chunk = vm.read() as Buffer | null) !== null) {
        hash.update(chunk);
        received += chunk.length;
        readThisTurn += chunk.length;
      }
      sample();
      if (readThisTurn === 0) vm.once('readable', readOne);
      else setImmediate(readOne);
    };
    const ended = once(vm, 'end');
    vm.pause();

    for (let offset = 0; offset < payload.length; offset += 64 * 1024) {
      sample();
      if (user.write(payload.subarray(offset, offset + 64 * 1024))) continue;
      writerBlocked = true;
      wakeReader();
      await once(user, 'drain');
      writerBlocked = false;
    }
    user.end();
    writerDone = true;
    wakeReader();
    await ended;

    expect({ received, sha256: hash.digest('hex') }).toEqual({
      received: payload.length,
      sha256: sha256(payload),
    });
    expect(peak).toBeGreaterThan(256 * 1024); // the middle was full, and that is what it holds
    expect(peak).toBeLessThan(2 * MiB);
    vm.end();
    await Promise.all([tunnel.cli, tunnel.controller, tunnel.worker]);
  });

  it('carries a half-close from the user to the VM and the response back', async () => {
    tunnel = await openTunnel(loopbacks, { halfClose: true });
    const atVm = receiveAll(tunnel.vm);
    const atUser = receiveAll(tunnel.user);

    tunnel.user.end('GET / HTTP/1.0\r\n\r\n');
    await expect(atVm).resolves.toMatchObject({ length: 18 });
    const response = randomPayload(8 * MiB, 8);
    await sendAll(tunnel.vm, response);

    await expect(atUser).resolves.toEqual({ length: response.length, sha256: sha256(response) });
    const results = await Promise.all([tunnel.cli, tunnel.controller, tunnel.worker]);
    for (const result of results)
      expect(result).toEqual({ bytesAtoB: 18, bytesBtoA: response.length, complete: true });
  });

  it.each([
    ['the WebSocket hop only (an Orchard worker)', { webSocket: { halfClose: true }, grpc: {} }],
    ['the gRPC hop only (an Orchard client)', { webSocket: {}, grpc: { halfClose: true } }],
  ])(
    "closes the whole tunnel on the user's end when half-close was agreed on %s",
    async (_which, options) => {
      tunnel = await openTunnel(loopbacks, options);
      const atVm = receiveAll(tunnel.vm);
      const atUser = receiveAll(tunnel.user);

      tunnel.user.end('GET / HTTP/1.0\r\n\r\n');

      // The request arrives whole and the VM sees its end; the hop that cannot carry a half-close
      // then ends the tunnel, as Orchard's does, and nothing is left hanging.
      await expect(atVm).resolves.toMatchObject({ length: 18 });
      await expect(atUser).resolves.toMatchObject({ length: 0 });
      const results = await Promise.allSettled([tunnel.cli, tunnel.controller, tunnel.worker]);
      expect(results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    },
  );

  it("closes the whole tunnel when one end finishes, on Orchard's wire", async () => {
    tunnel = await openTunnel(loopbacks);
    const atUser = receiveAll(tunnel.user);

    tunnel.vm.end('SSH-2.0-banner then bye\r\n');

    await expect(atUser).resolves.toMatchObject({ length: 25 });
    const results = await Promise.all([tunnel.cli, tunnel.controller, tunnel.worker]);
    for (const result of results) expect(result.bytesBtoA).toBe(25);
  });

  it('turns a reset at the VM into a reset at the user, failing every hop', async () => {
    tunnel = await openTunnel(loopbacks);
    const userError = new Promise<NodeJS.ErrnoException>((resolve) => tunnel.user.once('error', resolve));
    tunnel.vm.on('error', () => undefined);
    tunnel.user.write('hello');
    await once(tunnel.vm, 'data');

    tunnel.vm.resetAndDestroy();

    await expect(tunnel.worker).rejects.toMatchObject({ code: 'ECONNRESET' });
    await expect(tunnel.controller).rejects.toBeInstanceOf(GrpcCancelledError);
    await expect(tunnel.cli).rejects.toBeInstanceOf(WebSocketCloseError);
    await expect(tunnel.cli).rejects.toMatchObject({ closeCode: 1011 });
    await expect(userError).resolves.toMatchObject({ code: 'ECONNRESET' });
  });
});
