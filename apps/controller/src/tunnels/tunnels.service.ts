import type { IncomingMessage, Server as HttpServer } from 'node:http';

import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import { filter } from 'rxjs';
import { WebSocketServer, type WebSocket } from 'ws';

import { HALF_CLOSE_HEADER, halfCloseRequested, OrchardError, notFound } from '#api';
import { grpcDuplex, splice, webSocketDuplex, type PortForwardServerCall } from '#pipe';
import { METADATA } from '#protocol';

import { ClusterEvents } from '../common/cluster-events.js';
import { CONTROLLER_CONFIG, type ControllerConfig } from '../config/controller-config.js';
import { RendezvousError, RendezvousService, SESSION_KINDS } from '../rpc/rendezvous.service.js';
import { WorkerNotifier } from '../rpc/worker-notifier.service.js';
import { VmsService, type VmPlacement } from '../vms/vms.service.js';
import { WorkersService } from '../workers/workers.service.js';
import { routeUpgradesThroughFastify, takeUpgrade, type UpgradeRouting } from './websocket-upgrades.js';

const PORT_FORWARD = SESSION_KINDS.portForward;
const RESOLVE_IP = SESSION_KINDS.resolveIp;

/** What a forwarded connection reaches: a VM's port, or a port on the worker host's loopback. */
export type ForwardTarget = { kind: 'vm'; name: string } | { kind: 'worker'; name: string };

const seconds = (ms: number) => `${Math.round(ms / 1000)}s`;

/**
 * Port forwarding and IP resolution through the worker that runs a VM. Everything that can
 * fail is waited for before the WebSocket upgrade (VM running, worker connected, worker
 * connected to the target), so failures are plain HTTP answers; after the upgrade the bytes
 * are spliced between the WebSocket and the worker's PortForward stream.
 */
@Injectable()
export class TunnelsService implements OnModuleDestroy {
  private readonly logger = new Logger('tunnels');
  // Compression off: tunnel bytes are usually encrypted (SSH, VNC) and deflate costs ~13x.
  private readonly wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: 64 * 1024 * 1024,
  });
  private readonly open = new Set<WebSocket>();
  private upgrades: UpgradeRouting | null = null;

  constructor(
    @Inject(CONTROLLER_CONFIG) private readonly config: ControllerConfig,
    private readonly vms: VmsService,
    private readonly workers: WorkersService,
    private readonly events: ClusterEvents,
    private readonly notifier: WorkerNotifier,
    private readonly rendezvous: RendezvousService,
  ) {
    // The 101 answer confirms the half-close extension to a client that asked for it.
    this.wss.on('headers', (headers: string[], request: IncomingMessage) => {
      if (halfCloseRequested(request.headers[HALF_CLOSE_HEADER])) headers.push(`${HALF_CLOSE_HEADER}: 1`);
    });
  }

  /** Number of tunnels carrying bytes now (metrics, leak checks). */
  get activeTunnels(): number {
    return this.open.size;
  }

  /** Routes WebSocket upgrades on the HTTP server through Fastify (call before it listens). */
  attachTo(server: HttpServer, fastify: FastifyInstance): void {
    this.upgrades = routeUpgradesThroughFastify(server, fastify);
  }

  onModuleDestroy(): void {
    for (const ws of this.open) ws.terminate();
    this.wss.close();
    this.upgrades?.destroyAll();
  }

  /** Waits (within waitMs) until the target is reachable, gets the worker's stream, then upgrades. */
  async forward(
    target: ForwardTarget,
    port: number,
    waitMs: number,
    request: IncomingMessage,
  ): Promise<void> {
    const upgrade = takeUpgrade(request);
    if (!upgrade)
      throw new OrchardError('bad-request', 'this endpoint speaks WebSocket: send an Upgrade request');
    const abandoned = new AbortController();
    const onGone = () => abandoned.abort();
    upgrade.socket.once('close', onGone);
    try {
      const deadline = Date.now() + waitMs;
      const { worker, vmUid } = await this.resolveTarget(target, deadline, abandoned.signal);
      const call = await this.workerStream(worker, vmUid, port, deadline, abandoned.signal);
      if (abandoned.signal.aborted) {
        call.end();
        return;
      }
      const halfClose = {
        client: halfCloseRequested(request.headers[HALF_CLOSE_HEADER]),
        worker: call.metadata.get(METADATA.halfClose)[0] === '1',
      };
      this.wss.handleUpgrade(request, upgrade.socket, upgrade.head, (ws) =>
        this.splice(ws, call, target, port, halfClose),
      );
    } finally {
      upgrade.socket.off('close', onGone);
    }
  }

  /** GET /v1/vms/{name}/ip: the VM's address as its worker resolves it. */
  async resolveIp(name: string, waitMs: number, signal: AbortSignal): Promise<string> {
    const deadline = Date.now() + waitMs;
    const { worker, vmUid } = await this.resolveTarget({ kind: 'vm', name }, deadline, signal);
    const { session, wait } = this.rendezvous.open<string>(
      RESOLVE_IP,
      Math.max(1, deadline - Date.now()),
      signal,
    );
    this.notifier.send(worker, { resolve_ip_action: { session, vm_uid: vmUid } });
    const ip = await wait.catch((error: unknown) => {
      throw this.rendezvousFailure(error, worker, waitMs);
    });
    if (!ip)
      throw new OrchardError('unavailable', `worker "${worker}" could not resolve the IP of VM "${name}"`);
    return ip;
  }

  private async resolveTarget(
    target: ForwardTarget,
    deadline: number,
    signal: AbortSignal,
  ): Promise<{ worker: string; vmUid: string }> {
    if (target.kind === 'worker') {
      await this.workers.get(target.name);
      await this.connectedWorker(target.name, deadline, signal);
      return { worker: target.name, vmUid: '' };
    }
    const vm = await this.runningVm(target.name, deadline, signal);
    await this.connectedWorker(vm.worker, deadline, signal);
    return { worker: vm.worker, vmUid: vm.uid };
  }

  /** The VM once it runs: 404 if unknown, 417 if it failed, 408 if it is not running in time. */
  private runningVm(name: string, deadline: number, signal: AbortSignal): Promise<VmPlacement> {
    const started = Date.now();
    return new Promise<VmPlacement>((resolve, reject) => {
      let last: VmPlacement | null = null;
      let settled = false;
      const settle = (outcome: VmPlacement | OrchardError) => {
        if (settled) return;
        settled = true;
        subscription.unsubscribe();
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (outcome instanceof OrchardError) reject(outcome);
        else resolve(outcome);
      };
      const check = (vm: VmPlacement | null) => {
        if (!vm) return settle(notFound(`VM "${name}" not found`));
        last = vm;
        if (vm.status === 'failed') {
          return settle(
            new OrchardError('failed', `VM "${name}" failed: ${vm.status_message || 'no reason given'}`),
          );
        }
        if (vm.status === 'running' && vm.worker) settle(vm);
      };
      const subscription = this.events.events
        .pipe(filter((event) => event.kind === 'vm' && event.change.vm.name === name))
        .subscribe((event) => {
          if (event.kind === 'vm') check(event.change.type === 'DELETED' ? null : event.change.vm);
        });
      const onAbort = () => settle(new OrchardError('timeout', 'the client went away'));
      signal.addEventListener('abort', onAbort, { once: true });
      let timer: NodeJS.Timeout | undefined;
      const startClock = () => {
        timer = setTimeout(
          () => {
            const why = last?.status_message ? `: ${last.status_message}` : '';
            settle(
              new OrchardError(
                'timeout',
                `VM "${name}" is not running (${last?.status ?? 'unknown'}${why}); gave up waiting after ${seconds(Date.now() - started)}`,
              ),
            );
          },
          Math.max(0, deadline - Date.now()),
        );
      };
      // The clock starts once the VM is known to exist: an unknown VM is a 404 whatever the wait.
      this.vms.placementOf(name).then(
        (vm) => {
          check(vm);
          if (!settled) startClock();
        },
        (error: unknown) => settle(error as OrchardError),
      );
    });
  }

  private async connectedWorker(worker: string, deadline: number, signal: AbortSignal): Promise<void> {
    const connected = await this.notifier.waitForConnection(
      worker,
      Math.max(0, deadline - Date.now()),
      signal,
    );
    if (!connected) {
      throw new OrchardError('unavailable', `worker "${worker}" is not connected to the controller`);
    }
  }

  /** Announces a session to the worker and waits for its PortForward stream (or its refusal). */
  private async workerStream(
    worker: string,
    vmUid: string,
    port: number,
    deadline: number,
    signal: AbortSignal,
  ): Promise<PortForwardServerCall> {
    const remaining = Math.max(1, deadline - Date.now());
    const { session, wait } = this.rendezvous.open<PortForwardServerCall>(PORT_FORWARD, remaining, signal);
    // Every worker is offered half-close; Orchard's ignore the field, ours confirm in metadata.
    const instruction = { session, vm_uid: vmUid, port, half_close: true };
    if (!this.notifier.send(worker, { port_forward_action: instruction })) {
      // The stream dropped between the check and now: let the session expire quietly.
      this.rendezvous.fail(PORT_FORWARD, session, new RendezvousError('worker disconnected'));
    }
    return wait.catch((error: unknown) => {
      throw this.rendezvousFailure(error, worker, remaining);
    });
  }

  private rendezvousFailure(error: unknown, worker: string, waitedMs: number): Error {
    if (error instanceof OrchardError) return error;
    if (error instanceof RendezvousError && error.message === 'abandoned') {
      return new OrchardError('timeout', 'the client went away');
    }
    return new OrchardError('unavailable', `worker "${worker}" did not answer within ${seconds(waitedMs)}`);
  }

  /**
   * Splices the user's WebSocket and the worker's call. Each hop speaks half-close when both of
   * its ends agreed to; where only one hop does, a half-close reaching the other one ends the
   * tunnel, as Orchard's always do.
   */
  private splice(
    ws: WebSocket,
    call: PortForwardServerCall,
    target: ForwardTarget,
    port: number,
    halfClose: { client: boolean; worker: boolean },
  ): void {
    this.open.add(ws);
    let alive = true;
    ws.on('pong', () => {
      alive = true;
    });
    // Pings keep idle tunnels (an SSH session waiting for input) alive through proxies and
    // load balancers that drop connections idle for 60 s, and find dead peers.
    const pinger = setInterval(() => {
      if (!alive) {
        ws.terminate();
        return;
      }
      alive = false;
      ws.ping();
    }, this.config.pingIntervalMs);
    splice(
      webSocketDuplex(ws, { halfClose: halfClose.client }),
      grpcDuplex(call, { halfClose: halfClose.worker }),
    )
      .then(
        (result) =>
          this.logger.debug(
            `tunnel to ${target.kind} ${target.name}:${port} closed (${result.bytesAtoB} bytes up, ${result.bytesBtoA} down)`,
          ),
        (error: unknown) =>
          this.logger.log(
            `tunnel to ${target.kind} ${target.name}:${port} ended: ${(error as Error).message}`,
          ),
      )
      .finally(() => {
        clearInterval(pinger);
        this.open.delete(ws);
      });
  }
}
