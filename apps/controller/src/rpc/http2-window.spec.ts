import { EventEmitter, once } from 'node:events';
import type { Http2Server, ServerHttp2Session } from 'node:http2';

import * as grpc from '@grpc/grpc-js';

import { orchardProto, type ControllerClient, type ControllerHandlers } from '#protocol';

import { raiseHttp2Windows, streamWindowFor, type Http2Windows } from './http2-window.js';

const MiB = 1024 * 1024;
const WINDOWS: Http2Windows = {
  streamBytes: 2 * MiB,
  minStreamBytes: 65_535,
  sessionBudgetBytes: 64 * MiB,
  connectionBytes: 8 * MiB,
};

describe(streamWindowFor.name, () => {
  it('gives each stream the full window while the budget covers them all', () => {
    expect(streamWindowFor(0, WINDOWS)).toBe(2 * MiB);
    expect(streamWindowFor(1, WINDOWS)).toBe(2 * MiB);
    expect(streamWindowFor(32, WINDOWS)).toBe(2 * MiB);
  });

  it('splits the budget in powers of two once more streams share it', () => {
    expect(streamWindowFor(33, WINDOWS)).toBe(1 * MiB);
    expect(streamWindowFor(64, WINDOWS)).toBe(1 * MiB);
    expect(streamWindowFor(65, WINDOWS)).toBe(MiB / 2);
    expect(streamWindowFor(512, WINDOWS)).toBe(128 * 1024);
  });

  it("never goes below the floor, so that many streams still get HTTP/2's default", () => {
    expect(streamWindowFor(1024, WINDOWS)).toBe(65_536);
    expect(streamWindowFor(2048, WINDOWS)).toBe(65_535);
    expect(streamWindowFor(100_000, WINDOWS)).toBe(65_535);
  });
});

describe(raiseHttp2Windows.name, () => {
  const windows: Http2Windows = { ...WINDOWS, sessionBudgetBytes: 8 * MiB };
  let server: grpc.Server;
  let client: ControllerClient;
  /** The session of the test's one client connection, and its open streams, as the server sees them. */
  const seen = new EventEmitter();
  let session: ServerHttp2Session | null = null;
  let open = 0;

  beforeAll(async () => {
    server = new grpc.Server();
    const handlers: Partial<ControllerHandlers> = { PortForward: () => undefined };
    server.addService(orchardProto().Controller.service, handlers as ControllerHandlers);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    raiseHttp2Windows(server, windows, (message) => {
      throw new Error(message);
    });
    const http2Servers = (server as unknown as { http2Servers: Map<Http2Server, unknown> }).http2Servers;
    for (const http2Server of http2Servers.keys()) {
      http2Server.on('session', (accepted: ServerHttp2Session) => {
        session = accepted;
        accepted.on('stream', (stream) => {
          open += 1;
          seen.emit('count');
          stream.once('close', () => {
            open -= 1;
            seen.emit('count');
          });
        });
      });
    }
    client = new (orchardProto().Controller)(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });

  afterAll(() => {
    client.close();
    server.forceShutdown();
  });

  async function streamsOpen(count: number): Promise<ServerHttp2Session> {
    while (open !== count || !session) await once(seen, 'count');
    return session;
  }

  /** The stream window once the client acknowledged the server's latest settings. */
  async function settledWindow(current: ServerHttp2Session): Promise<number | undefined> {
    while (current.pendingSettingsAck) await once(current, 'localSettings');
    return current.localSettings.initialWindowSize;
  }

  it("shrinks every stream's window as streams share a session's budget, and widens it again as they close", async () => {
    const first = client.PortForward();
    expect(await settledWindow(await streamsOpen(1))).toBe(2 * MiB);

    // 8 MiB for 16 streams: 512 KiB each.
    const more = Array.from({ length: 15 }, () => client.PortForward());
    expect(await settledWindow(await streamsOpen(16))).toBe(MiB / 2);

    for (const call of [first, ...more]) {
      call.on('error', () => undefined);
      call.cancel();
    }
    expect(await settledWindow(await streamsOpen(0))).toBe(2 * MiB);
  });
});
