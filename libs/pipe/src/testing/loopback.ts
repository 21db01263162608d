// Test support: real loopback endpoints (TCP, WebSocket, gRPC) on 127.0.0.1 port 0, and helpers
// to push and collect bytes. Used by this library's specs and ad-hoc measurements only.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { type AddressInfo, createServer, connect, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

import * as grpc from '@grpc/grpc-js';
import WebSocket, { WebSocketServer } from 'ws';

import { grpcDuplex, type PortForwardClientCall, type PortForwardServerCall } from '../grpc-duplex.js';
import type { MessageDuplexOptions } from '../message-duplex.js';
import { splice, type Splice } from '../splice.js';
import { webSocketDuplex } from '../websocket-duplex.js';

import { orchardProto } from '#protocol';

/** Two ends of one loopback TCP connection, both half-open capable. */
export interface SocketPair {
  left: Socket;
  right: Socket;
}

/** A TCP listener handing out connected pairs. */
export class TcpLoopback {
  private readonly accepted: Socket[] = [];
  private readonly waiting: ((socket: Socket) => void)[] = [];

  private constructor(private readonly server: Server) {
    server.on('connection', (socket: Socket) => {
      const waiter = this.waiting.shift();
      if (waiter) waiter(socket);
      else this.accepted.push(socket);
    });
  }

  static async start(): Promise<TcpLoopback> {
    const server = createServer({ allowHalfOpen: true });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return new TcpLoopback(server);
  }

  async pair(): Promise<SocketPair> {
    const left = connect({
      port: (this.server.address() as AddressInfo).port,
      host: '127.0.0.1',
      allowHalfOpen: true,
    });
    const right = new Promise<Socket>((resolve) => {
      const socket = this.accepted.shift();
      if (socket) resolve(socket);
      else this.waiting.push(resolve);
    });
    await once(left, 'connect');
    return { left, right: await right };
  }

  async close(): Promise<void> {
    this.server.close();
    await once(this.server, 'close');
  }
}

/** Two ends of one loopback WebSocket connection (no compression, as tunnels require). */
export interface WebSocketPair {
  /** The server's end, as the controller holds it. */
  server: WebSocket;
  /** The client's end, as the CLI holds it. */
  client: WebSocket;
}

export class WebSocketLoopback {
  private readonly waiting: ((ws: WebSocket) => void)[] = [];

  private constructor(
    private readonly wss: WebSocketServer,
    private readonly maxPayload: number,
  ) {
    wss.on('connection', (ws: WebSocket) => this.waiting.shift()?.(ws));
  }

  static async start(maxPayload = 2 * 1024 * 1024): Promise<WebSocketLoopback> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload });
    await once(wss, 'listening');
    return new WebSocketLoopback(wss, maxPayload);
  }

  async pair(): Promise<WebSocketPair> {
    const { client, server } = this.connect();
    await once(client, 'open');
    return { server: await server, client };
  }

  /** Starts connecting a client: its WebSocket is returned still CONNECTING. */
  connect(): { client: WebSocket; server: Promise<WebSocket> } {
    const server = new Promise<WebSocket>((resolve) => this.waiting.push(resolve));
    const { port } = this.wss.address() as AddressInfo;
    const client = new WebSocket(`ws://127.0.0.1:${port}/`, {
      perMessageDeflate: false,
      maxPayload: this.maxPayload,
    });
    return { client, server };
  }

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve, reject) =>
      this.wss.close((error) => (error ? reject(error) : resolve())),
    );
  }
}

/** Two ends of one Controller.PortForward call over a loopback gRPC connection. */
export interface GrpcPair {
  /** The controller's end. */
  server: PortForwardServerCall;
  /** The worker's end. */
  client: PortForwardClientCall;
}

export class GrpcLoopback {
  private constructor(
    private readonly server: grpc.Server,
    private readonly client: InstanceType<ReturnType<typeof orchardProto>['Controller']>,
    private readonly waiting: ((call: PortForwardServerCall) => void)[],
  ) {}

  static async start(): Promise<GrpcLoopback> {
    const proto = orchardProto();
    const server = new grpc.Server();
    const waiting: ((call: PortForwardServerCall) => void)[] = [];
    server.addService(proto.Controller.service, {
      PortForward: (call: PortForwardServerCall) => waiting.shift()?.(call),
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    const client = new proto.Controller(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    return new GrpcLoopback(server, client, waiting);
  }

  async pair(): Promise<GrpcPair> {
    const server = new Promise<PortForwardServerCall>((resolve) => this.waiting.push(resolve));
    const client = this.client.PortForward();
    return { server: await server, client };
  }

  async close(): Promise<void> {
    this.client.close();
    this.server.forceShutdown();
    return Promise.resolve();
  }
}

/** Pseudo-random bytes (fast, deterministic per seed: crypto.randomBytes would dominate the run). */
export function randomPayload(size: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i + 4 <= size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeUInt32LE(x >>> 0, i);
  }
  for (let i = size - (size % 4); i < size; i++) out[i] = i & 0xff;
  return out;
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Writes `data` in `chunkSize` pieces honouring backpressure, then ends (unless `end` is false). */
export async function sendAll(
  socket: Socket,
  data: Buffer,
  chunkSize = 64 * 1024,
  end = true,
): Promise<void> {
  for (let offset = 0; offset < data.length; offset += chunkSize) {
    if (!socket.write(data.subarray(offset, offset + chunkSize))) await once(socket, 'drain');
  }
  if (end) socket.end();
}

/** Reads until end-of-stream; resolves with the byte count and their SHA-256. */
export function receiveAll(socket: Socket): Promise<{ length: number; sha256: string }> {
  const hash = createHash('sha256');
  let length = 0;
  return new Promise((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      length += chunk.length;
    });
    socket.once('end', () => resolve({ length, sha256: hash.digest('hex') }));
    socket.once('error', reject);
  });
}

/**
 * A whole port-forward tunnel in one process: user <-TCP-> CLI <-WebSocket-> controller <-gRPC->
 * worker <-TCP-> VM, each hop spliced as the apps do.
 */
export interface Tunnel {
  /** The user's client socket (ssh, vnc, ...). */
  user: Socket;
  /** The VM's server socket. */
  vm: Socket;
  cli: Splice;
  controller: Splice;
  worker: Splice;
  /** The streams between the two ends, whose buffers are the tunnel's memory. */
  middle: {
    cliSocket: Socket;
    cliWebSocket: WebSocket;
    cliDuplex: Duplex;
    controllerWebSocket: WebSocket;
    controllerWsDuplex: Duplex;
    controllerCall: PortForwardServerCall;
    controllerGrpcDuplex: Duplex;
    workerCall: PortForwardClientCall;
    workerDuplex: Duplex;
    workerSocket: Socket;
  };
}

export interface Loopbacks {
  tcp: TcpLoopback;
  webSocket: WebSocketLoopback;
  grpc: GrpcLoopback;
}

export async function startLoopbacks(): Promise<Loopbacks> {
  const [tcp, webSocket, grpcLoopback] = await Promise.all([
    TcpLoopback.start(),
    WebSocketLoopback.start(),
    GrpcLoopback.start(),
  ]);
  return { tcp, webSocket, grpc: grpcLoopback };
}

export async function closeLoopbacks(loopbacks: Loopbacks): Promise<void> {
  await Promise.all([loopbacks.tcp.close(), loopbacks.webSocket.close(), loopbacks.grpc.close()]);
}

/** Options for both hops, or for each: `{ webSocket, grpc }` (a hop that agreed to half-close, one that did not). */
export type TunnelOptions =
  MessageDuplexOptions | { webSocket: MessageDuplexOptions; grpc: MessageDuplexOptions };

export async function openTunnel(loopbacks: Loopbacks, options: TunnelOptions = {}): Promise<Tunnel> {
  const hops = 'webSocket' in options ? options : { webSocket: options, grpc: options };
  const [userLeg, ws, call, vmLeg] = await Promise.all([
    loopbacks.tcp.pair(),
    loopbacks.webSocket.pair(),
    loopbacks.grpc.pair(),
    loopbacks.tcp.pair(),
  ]);
  const middle = {
    cliSocket: userLeg.right,
    cliWebSocket: ws.client,
    cliDuplex: webSocketDuplex(ws.client, hops.webSocket),
    controllerWebSocket: ws.server,
    controllerWsDuplex: webSocketDuplex(ws.server, hops.webSocket),
    controllerCall: call.server,
    controllerGrpcDuplex: grpcDuplex(call.server, hops.grpc),
    workerCall: call.client,
    workerDuplex: grpcDuplex(call.client, hops.grpc),
    workerSocket: vmLeg.left,
  };
  return {
    user: userLeg.left,
    vm: vmLeg.right,
    cli: splice(middle.cliSocket, middle.cliDuplex),
    controller: splice(middle.controllerWsDuplex, middle.controllerGrpcDuplex),
    worker: splice(middle.workerDuplex, middle.workerSocket),
    middle,
  };
}

/**
 * Bytes held by a grpc-js call's object-mode buffers (the messages' `data`), read from Node's
 * stream state: Node 20 keeps the readable buffer as a linked list, later versions as an array.
 */
export function callBufferedBytes(call: PortForwardServerCall | PortForwardClientCall): number {
  interface Message {
    data?: { length: number };
  }
  interface State {
    buffer?: Message[] | { head?: { data: Message; next?: unknown } | null };
    bufferIndex?: number;
    buffered?: { chunk: Message }[];
    bufferedIndex?: number;
  }
  const internals = call as unknown as { _readableState?: State; _writableState?: State };
  let total = 0;
  const readable = internals._readableState?.buffer;
  if (Array.isArray(readable)) {
    for (const message of readable.slice(internals._readableState?.bufferIndex ?? 0))
      total += message?.data?.length ?? 0;
  } else {
    type Node = { data: Message; next?: Node | null };
    for (let node = readable?.head as Node | null | undefined; node; node = node.next)
      total += node.data?.data?.length ?? 0;
  }
  const writable = internals._writableState;
  for (const { chunk } of (writable?.buffered ?? []).slice(writable?.bufferedIndex ?? 0))
    total += chunk?.data?.length ?? 0;
  return total;
}

/** What the tunnel's middle holds in process memory right now. */
export function middleBufferedBytes(tunnel: Tunnel): number {
  const m = tunnel.middle;
  const byteStreams: Duplex[] = [
    m.cliSocket,
    m.cliDuplex,
    m.controllerWsDuplex,
    m.controllerGrpcDuplex,
    m.workerDuplex,
    m.workerSocket,
  ];
  let total = 0;
  for (const stream of byteStreams) total += stream.readableLength + stream.writableLength;
  total += m.cliWebSocket.bufferedAmount + m.controllerWebSocket.bufferedAmount;
  total += callBufferedBytes(m.controllerCall) + callBufferedBytes(m.workerCall);
  return total;
}
