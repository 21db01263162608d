import type { Server as HttpServer } from 'node:http';

import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import * as grpc from '@grpc/grpc-js';

import { OrchardError, type Role } from '#api';
import {
  METADATA,
  orchardProto,
  type ControllerHandlers,
  type ResolveIPResult__Output,
  type WatchInstruction,
} from '#protocol';
import type { PortForwardServerCall } from '#pipe';

import { CONTROLLER_CONFIG, type ControllerConfig } from '../config/controller-config.js';
import { ServiceAccountsService } from '../service-accounts/service-accounts.service.js';
import { WorkersService } from '../workers/workers.service.js';
import { shareListenerWithGrpc, type SharedListener } from './connection-multiplexer.js';
import { toServiceError } from './grpc-status.js';
import {
  HTTP2_CONNECTION_WINDOW_BYTES,
  HTTP2_MIN_STREAM_WINDOW_BYTES,
  HTTP2_SESSION_BUDGET_BYTES,
  HTTP2_STREAM_WINDOW_BYTES,
  raiseHttp2Windows,
} from './http2-window.js';
import { RendezvousService, SESSION_KINDS } from './rendezvous.service.js';
import { WorkerNotifier } from './worker-notifier.service.js';

const WORKER_ROLE: Role = 'compute:write';

/** grpc-js server options: keepalive so idle streams survive NATs and load balancers. */
export const GRPC_SERVER_OPTIONS: grpc.ServerOptions = {
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 10_000,
  'grpc.max_receive_message_length': 16 * 1024 * 1024,
  'grpc.max_send_message_length': 16 * 1024 * 1024,
};

function metadataValue(metadata: grpc.Metadata, key: string): string {
  const [value] = metadata.get(key);
  return typeof value === 'string' ? value : '';
}

/**
 * The gRPC service workers talk to (proto/orchard.proto), served on the controller's one port
 * through a connection injector (see connection-multiplexer.ts).
 */
@Injectable()
export class ControllerRpcService implements OnModuleDestroy {
  private readonly logger = new Logger('rpc');
  private readonly server = new grpc.Server(GRPC_SERVER_OPTIONS);
  private listener: SharedListener | null = null;
  readonly injector: grpc.ConnectionInjector;

  constructor(
    @Inject(CONTROLLER_CONFIG) private readonly config: ControllerConfig,
    private readonly serviceAccounts: ServiceAccountsService,
    private readonly workers: WorkersService,
    private readonly notifier: WorkerNotifier,
    private readonly rendezvous: RendezvousService,
  ) {
    const handlers: Partial<ControllerHandlers> = {
      Watch: (call) => void this.watch(call),
      PortForward: (call) => void this.portForward(call),
      ResolveIP: (call, callback) => void this.resolveIp(call, callback),
    };
    this.server.addService(orchardProto().Controller.service, handlers as ControllerHandlers);
    this.injector = this.server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    raiseHttp2Windows(
      this.server,
      {
        streamBytes: HTTP2_STREAM_WINDOW_BYTES,
        minStreamBytes: HTTP2_MIN_STREAM_WINDOW_BYTES,
        sessionBudgetBytes: HTTP2_SESSION_BUDGET_BYTES,
        connectionBytes: HTTP2_CONNECTION_WINDOW_BYTES,
      },
      (message) => this.logger.warn(message),
    );
  }

  /** Serves gRPC on the HTTP server's port (call before it listens). */
  attachTo(httpServer: HttpServer): void {
    this.listener = shareListenerWithGrpc(httpServer, this.injector);
  }

  onModuleDestroy(): void {
    this.injector.destroy();
    this.server.forceShutdown();
    this.listener?.destroyNonHttpConnections();
  }

  private async authenticate(metadata: grpc.Metadata): Promise<void> {
    if (!this.config.authEnabled) return;
    const name = metadataValue(metadata, METADATA.serviceAccountName);
    const token = metadataValue(metadata, METADATA.serviceAccountToken);
    const account = name && token ? await this.serviceAccounts.authenticate(name, token) : null;
    if (!account) throw new OrchardError('unauthenticated', 'invalid service account name or token');
    if (!account.roles.includes(WORKER_ROLE)) {
      throw new OrchardError('forbidden', `service account "${name}" lacks the role "${WORKER_ROLE}"`);
    }
  }

  private async watch(call: grpc.ServerWritableStream<unknown, WatchInstruction>): Promise<void> {
    const worker = metadataValue(call.metadata, METADATA.workerName);
    try {
      await this.authenticate(call.metadata);
      if (!worker) throw new OrchardError('invalid', `${METADATA.workerName} metadata is required`);
      // Unknown workers must register (POST /v1/workers) first; NOT_FOUND tells them to.
      await this.workers.get(worker);
    } catch (error) {
      call.emit('error', toServiceError(error));
      return;
    }
    if (call.cancelled) return;
    const id = this.notifier.connect(worker, {
      write: (instruction) => call.write(instruction),
      end: () => call.end(),
    });
    const disconnect = () => this.notifier.disconnect(worker, id);
    call.on('cancelled', disconnect);
    call.on('close', disconnect);
    call.on('error', (error) => {
      this.logger.debug(`Watch stream of "${worker}" failed: ${error.message}`);
      disconnect();
    });
    // Whatever changed while the worker was away, it reconciles at once.
    call.write({ sync_vms_action: {} });
  }

  /**
   * The worker's answer to a PortForward instruction: its stream is handed to the waiting
   * tunnel, or its refusal (x-orchard-port-forwarding-error) fails the tunnel at once.
   */
  private async portForward(call: PortForwardServerCall): Promise<void> {
    try {
      await this.authenticate(call.metadata);
      const session = metadataValue(call.metadata, METADATA.session);
      const refusal = metadataValue(call.metadata, METADATA.portForwardError);
      if (refusal) {
        this.rendezvous.fail(SESSION_KINDS.portForward, session, new OrchardError('unavailable', refusal));
        call.end();
        return;
      }
      if (!this.rendezvous.complete(SESSION_KINDS.portForward, session, call)) {
        throw new OrchardError('not-found', 'no such session: unknown, already used or abandoned');
      }
    } catch (error) {
      call.emit('error', toServiceError(error));
    }
  }

  private async resolveIp(
    call: grpc.ServerUnaryCall<ResolveIPResult__Output, unknown>,
    callback: grpc.sendUnaryData<Record<string, never>>,
  ): Promise<void> {
    try {
      await this.authenticate(call.metadata);
      const session = metadataValue(call.metadata, METADATA.session) || call.request.session;
      if (!this.rendezvous.complete(SESSION_KINDS.resolveIp, session, call.request.ip)) {
        throw new OrchardError('not-found', 'no such session: unknown, already answered or abandoned');
      }
      callback(null, {});
    } catch (error) {
      callback(toServiceError(error), null);
    }
  }
}
