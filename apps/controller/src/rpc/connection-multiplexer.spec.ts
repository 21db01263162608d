import { once } from 'node:events';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import * as grpc from '@grpc/grpc-js';

import {
  orchardProto,
  type ControllerClient,
  type ControllerHandlers,
  type PortForwardData__Output,
} from '#protocol';

import { shareListenerWithGrpc, type SharedListener } from './connection-multiplexer.js';
import { raiseHttp2Windows } from './http2-window.js';

const MiB = 1024 * 1024;
/** Wider than loopback TCP's buffers, as the controller's and worker's windows are. */
const WINDOW = 8 * MiB;
const CHUNK = Buffer.alloc(256 * 1024, 0x5a);

type Call =
  | grpc.ServerDuplexStream<PortForwardData__Output, unknown>
  | grpc.ClientDuplexStream<unknown, PortForwardData__Output>;

/** Writes `bytes` in 256 KiB messages, honouring backpressure, then resolves. */
async function produce(call: Call, bytes: number): Promise<void> {
  for (let sent = 0; sent < bytes; sent += CHUNK.length) {
    if (!call.write({ data: CHUNK })) await once(call, 'drain');
  }
}

/** Counts the bytes of every message until the peer's side ends. */
function consume(call: Call): Promise<number> {
  let bytes = 0;
  call.on('data', (message: PortForwardData__Output) => {
    bytes += message.data?.length ?? 0;
  });
  return new Promise((resolve, reject) => {
    call.once('end', () => resolve(bytes));
    call.once('error', reject);
  });
}

describe(shareListenerWithGrpc.name, () => {
  let http: HttpServer;
  let server: grpc.Server;
  let listener: SharedListener;
  let client: ControllerClient;
  const perCall = 24 * MiB;

  beforeAll(async () => {
    server = new grpc.Server();
    const handlers: Partial<ControllerHandlers> = {
      // Like a tunnel with a VM that streams on its own: the server sends its bytes whatever it
      // receives, and reads everything the client sends.
      PortForward: (call) => {
        void Promise.all([produce(call as Call, perCall), consume(call as Call)]).then(
          () => call.end(),
          () => undefined,
        );
      },
    };
    server.addService(orchardProto().Controller.service, handlers as ControllerHandlers);
    const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    raiseHttp2Windows(
      server,
      {
        streamBytes: WINDOW,
        minStreamBytes: WINDOW,
        sessionBudgetBytes: 64 * WINDOW,
        connectionBytes: WINDOW,
      },
      (message) => {
        throw new Error(message);
      },
    );
    http = createServer((_request, response) => response.writeHead(404).end());
    listener = shareListenerWithGrpc(http, injector);
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const { port } = http.address() as AddressInfo;
    client = new (orchardProto().Controller)(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
      'grpc-node.flow_control_window': WINDOW,
    });
  });

  afterAll(async () => {
    client.close();
    server.forceShutdown();
    listener.destroyNonHttpConnections();
    http.close();
    await once(http, 'close');
  });

  it('keeps a gRPC connection moving when both ends send more than TCP buffers at once (no HTTP/2 write deadlock)', async () => {
    // Node's HTTP/2 session stops reading while its write is blocked on a full send buffer; when
    // both ends do, a connection carrying busy tunnels both ways froze until keepalive killed it.
    const calls = Array.from({ length: 8 }, () => client.PortForward());
    const received = await Promise.all(
      calls.map(async (call) => {
        const [bytes] = await Promise.all([consume(call), produce(call, perCall).then(() => call.end())]);
        return bytes;
      }),
    );
    expect(received).toEqual(calls.map(() => perCall));
  }, 60_000);

  it('still answers plain HTTP on the same port', async () => {
    const { port } = http.address() as AddressInfo;
    const response = await fetch(`http://127.0.0.1:${port}/`);
    expect(response.status).toBe(404);
  });
});
