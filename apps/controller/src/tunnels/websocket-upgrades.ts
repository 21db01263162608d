import { ServerResponse, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';

import type { FastifyInstance } from 'fastify';

const UPGRADE = Symbol('orchard.upgrade');

interface PendingUpgrade {
  socket: Duplex;
  head: Buffer;
}

type UpgradeRequest = IncomingMessage & { [UPGRADE]?: PendingUpgrade };

export interface UpgradeRouting {
  /** Destroys every socket that came in as an upgrade (the HTTP server no longer tracks them). */
  destroyAll(): void;
}

/**
 * WebSocket upgrades go through Fastify's router like any request, so they pass the same guard
 * and parameter handling, and can be refused with a plain HTTP answer (404, 408, 503, ...),
 * after which the socket is closed. The handler takes the socket over with takeUpgrade() once it
 * decides to accept.
 */
export function routeUpgradesThroughFastify(server: HttpServer, fastify: FastifyInstance): UpgradeRouting {
  const sockets = new Set<Duplex>();
  server.on('upgrade', (request: UpgradeRequest, socket: Duplex, head: Buffer) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    request[UPGRADE] = { socket, head };
    const response = new ServerResponse(request);
    response.shouldKeepAlive = false;
    response.assignSocket(socket as never);
    // An HTTP answer instead of an upgrade ends the exchange: nothing else may use this socket.
    response.once('finish', () => socket.end());
    fastify.routing(request, response);
  });
  return {
    destroyAll: () => {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
  };
}

/** The upgrade in flight for this request, removed so it is taken once; undefined for plain HTTP. */
export function takeUpgrade(request: IncomingMessage): PendingUpgrade | undefined {
  const upgrade = (request as UpgradeRequest)[UPGRADE];
  delete (request as UpgradeRequest)[UPGRADE];
  return upgrade;
}
