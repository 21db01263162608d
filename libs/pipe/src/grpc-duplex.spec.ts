import { once } from 'node:events';
import { type Socket } from 'node:net';
import { type Duplex } from 'node:stream';

import * as grpc from '@grpc/grpc-js';

import { GrpcCancelledError } from './errors.js';
import { grpcDuplex, type GrpcDuplexOptions, type PortForwardClientCall } from './grpc-duplex.js';
import { splice } from './splice.js';
import {
  type GrpcPair,
  GrpcLoopback,
  randomPayload,
  receiveAll,
  sendAll,
  sha256,
  TcpLoopback,
} from './testing/loopback.js';

import type { PortForwardData__Output } from '#protocol';

const MiB = 1024 * 1024;

/** Collects what a duplex reads until it ends (without destroying it, as for-await would). */
function readAll(duplex: Duplex): Promise<Buffer> {
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    duplex.on('data', (chunk: Buffer) => chunks.push(chunk));
    duplex.once('end', () => resolve(Buffer.concat(chunks)));
    duplex.once('error', reject);
  });
}

/** The status a call ends with (emitted for failures too, unlike once(call, 'status')). */
function statusOf(call: PortForwardClientCall): Promise<grpc.StatusObject> {
  return new Promise((resolve) => call.once('status', resolve));
}

function closed(stream: Duplex): Promise<void> {
  return stream.closed ? Promise.resolve() : once(stream, 'close').then(() => undefined);
}

describe(grpcDuplex.name, () => {
  let tcp: TcpLoopback;
  let grpcLoopback: GrpcLoopback;
  // server: the controller's end; client: the worker's end.
  let call: GrpcPair;

  beforeAll(async () => {
    [tcp, grpcLoopback] = await Promise.all([TcpLoopback.start(), GrpcLoopback.start()]);
  });

  afterAll(async () => {
    await Promise.all([tcp.close(), grpcLoopback.close()]);
  });

  beforeEach(async () => {
    call = await grpcLoopback.pair();
  });

  // Duplexes a test leaves open fail when the call is cancelled after it: expected, and ignored.
  const opened: Duplex[] = [];
  const controllerEnd = (options?: GrpcDuplexOptions) => track(grpcDuplex(call.server, options));
  const workerEnd = (options?: GrpcDuplexOptions) => track(grpcDuplex(call.client, options));
  const track = (duplex: Duplex) => {
    opened.push(duplex);
    return duplex;
  };

  afterEach(() => {
    for (const duplex of opened.splice(0)) duplex.on('error', () => undefined);
    call.client.on('error', () => undefined);
    call.client.cancel();
  });

  /** user <-TCP-> controller splice <-gRPC-> worker splice <-TCP-> VM. */
  async function tunnel(options: { halfClose?: boolean } = {}) {
    const [user, vm] = await Promise.all([tcp.pair(), tcp.pair()]);
    return {
      user: user.left,
      vm: vm.right,
      controller: splice(user.right, controllerEnd(options)),
      worker: splice(workerEnd(options), vm.left),
    };
  }

  it('carries 32 MiB each way between two sockets unchanged', async () => {
    const { user, vm, controller, worker } = await tunnel();
    const up = randomPayload(32 * MiB, 5);
    const down = randomPayload(32 * MiB, 6);
    const atVm = receiveAll(vm);
    const atUser = receiveAll(user);
    // Without the extension the controller's end() ends the call: end once everything arrived.
    let arrived = 0;
    const endWhenBothArrived = (socket: Socket, length: number) => {
      let got = 0;
      const onData = (chunk: Buffer) => {
        got += chunk.length;
        if (got < length) return;
        socket.off('data', onData);
        if (++arrived === 2) for (const end of [user, vm]) end.end();
      };
      socket.on('data', onData);
    };
    endWhenBothArrived(vm, up.length);
    endWhenBothArrived(user, down.length);

    await Promise.all([sendAll(user, up, 64 * 1024, false), sendAll(vm, down, 64 * 1024, false)]);

    expect(await atVm).toEqual({ length: up.length, sha256: sha256(up) });
    expect(await atUser).toEqual({ length: down.length, sha256: sha256(down) });
    for (const result of await Promise.all([controller, worker]))
      expect(result).toMatchObject({ bytesAtoB: up.length, bytesBtoA: down.length });
  });

  it("half-closes the worker's side of the call, which still receives the rest", async () => {
    const controller = controllerEnd();
    const worker = workerEnd();
    const atWorker = readAll(worker);

    worker.end('request');
    await expect(readAll(controller)).resolves.toEqual(Buffer.from('request'));
    controller.end('response after the request ended');

    await expect(atWorker).resolves.toEqual(Buffer.from('response after the request ended'));
    await Promise.all([closed(worker), closed(controller)]);
    expect([worker.errored, controller.errored]).toEqual([null, null]);
  });

  it("ends the whole call when the controller's side ends, without an error", async () => {
    const controller = controllerEnd();
    const worker = workerEnd();
    const status = statusOf(call.client);

    controller.end('bye');

    await expect(readAll(worker)).resolves.toEqual(Buffer.from('bye'));
    await closed(worker);
    expect(worker.errored).toBeNull();
    expect((await status).code).toBe(grpc.status.OK);
  });

  it("fails the controller's side when the worker cancels", async () => {
    const controller = controllerEnd();
    controller.resume();
    call.client.on('error', () => undefined);

    call.client.cancel();

    const [error] = (await once(controller, 'error')) as [GrpcCancelledError];
    expect(error).toBeInstanceOf(GrpcCancelledError);
    expect(error.code).toBe(grpc.status.CANCELLED);
  });

  it('sends the worker UNAVAILABLE with the message when the controller fails', async () => {
    const controller = controllerEnd();
    const worker = workerEnd();
    worker.resume();
    controller.on('error', () => undefined);

    controller.destroy(new Error('connection to the VM refused'));

    const [error] = (await once(worker, 'error')) as [grpc.ServiceError];
    expect([error.code, error.details]).toEqual([grpc.status.UNAVAILABLE, 'connection to the VM refused']);
  });

  it('cancels the call when the worker fails', async () => {
    const controller = controllerEnd();
    const worker = workerEnd();
    controller.resume();
    worker.on('error', () => undefined);

    worker.destroy(new Error('the VM reset the connection'));

    await expect(once(controller, 'error')).resolves.toEqual([expect.any(GrpcCancelledError)]);
  });

  it('coalesces the writes made while a message is in flight into one message', async () => {
    const worker = workerEnd();
    const sizes: number[] = [];
    call.server.on('data', (message: PortForwardData__Output) => sizes.push(message.data.length));
    const ended = once(call.server, 'end');
    const tiny = Array.from({ length: 10_000 }, () => Buffer.from('0123456789'));

    for (const chunk of tiny) worker.write(chunk);
    worker.end();
    await ended;

    expect(sizes).toEqual([10, 99_990]);
  });

  it('splits writes larger than maxMessageSize into several messages', async () => {
    const worker = workerEnd({ maxMessageSize: 64 * 1024 });
    const sizes: number[] = [];
    call.server.on('data', (message: PortForwardData__Output) => sizes.push(message.data.length));
    const ended = once(call.server, 'end');

    worker.end(randomPayload(200 * 1024));
    await ended;

    expect(sizes).toEqual([65_536, 65_536, 65_536, 8192]);
  });

  describe('with the half-close extension', () => {
    it('lets the controller end first and still receive the rest, then completes the call', async () => {
      const { user, vm, controller, worker } = await tunnel({ halfClose: true });
      const atUser = receiveAll(user);
      const atVm = receiveAll(vm);
      const status = statusOf(call.client);

      vm.end('banner');
      await expect(atUser).resolves.toMatchObject({ length: 'banner'.length });
      const upload = randomPayload(4 * MiB);
      await sendAll(user, upload);

      await expect(atVm).resolves.toEqual({ length: upload.length, sha256: sha256(upload) });
      await expect(controller).resolves.toEqual({ bytesAtoB: upload.length, bytesBtoA: 6, complete: true });
      await expect(worker).resolves.toEqual({ bytesAtoB: upload.length, bytesBtoA: 6, complete: true });
      expect((await status).code).toBe(grpc.status.OK);
    });
  });
});
