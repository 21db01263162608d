import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

import * as grpc from '@grpc/grpc-js';
import { Logger } from '@nestjs/common';

import { METADATA, orchardProto, type ControllerClient, type WatchInstruction__Output } from '#protocol';

import type { WorkerConfig } from '../config/worker-config.js';
import type { ControllerApi } from './controller-api.js';

/** What the worker does with each instruction arriving on the Watch stream. */
export interface InstructionHandlers {
  syncVms(): void;
  resolveIp(session: string, vmUid: string): Promise<string>;
  portForward?(instruction: { session: string; vm_uid: string; port: number }): void;
}

/** gRPC channel options: keepalive so the idle Watch stream survives NATs and load balancers. */
export const GRPC_CLIENT_OPTIONS: grpc.ChannelOptions = {
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.max_receive_message_length': 16 * 1024 * 1024,
  'grpc.max_send_message_length': 16 * 1024 * 1024,
  // The controller -> worker direction of tunnels. grpc-js sets the stream window and the
  // connection window from this one option, and the connection window caps all of this worker's
  // tunnels together (a 1 MiB one measured 22 MB/s at 21 ms), so it stays at 8 MiB, wider than
  // the controller's stream window: a VM that reads slowly can leave up to 8 MiB of its tunnel
  // waiting in the worker.
  'grpc-node.flow_control_window': 8 * 1024 * 1024,
};

/** Capped exponential backoff with full jitter: attempt 0 waits up to initialMs. */
export function backoffDelay(
  attempt: number,
  initialMs: number,
  maxMs: number,
  random = Math.random,
): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** host:port for gRPC from the controller URL (the API prefix path does not apply to gRPC). */
export function grpcTarget(controllerUrl: string): string {
  const url = new URL(controllerUrl);
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return `${url.hostname.includes(':') ? `[${url.hostname}]` : url.hostname}:${port}`;
}

/**
 * The worker's side of the link: registers over REST, keeps the gRPC Watch stream open,
 * heartbeats, and reconnects (re-registering) with capped exponential backoff and jitter for as
 * long as it runs: a controller outage is waited out, never fatal. Emits 'registered',
 * 'connected' (first instruction received) and 'disconnected'.
 */
export class ControllerLink extends EventEmitter {
  private readonly logger = new Logger('link');
  private readonly client: ControllerClient;
  private readonly stopping = new AbortController();
  private call: grpc.ClientReadableStream<WatchInstruction__Output> | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private loopDone: Promise<void> | null = null;
  connected = false;

  constructor(
    private readonly config: WorkerConfig,
    private readonly api: ControllerApi,
    private readonly handlers: InstructionHandlers,
  ) {
    super();
    const Client = orchardProto().Controller;
    // An https:// controller (or a TLS-terminating proxy that speaks HTTP/2 in front of it) gets
    // TLS with the system's roots; pinning the controller's own certificate comes with TLS work.
    const credentials = config.controllerUrl.startsWith('https:')
      ? grpc.credentials.createSsl()
      : grpc.credentials.createInsecure();
    this.client = new Client(grpcTarget(config.controllerUrl), credentials, GRPC_CLIENT_OPTIONS);
  }

  start(): void {
    this.loopDone = this.loop();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.config.heartbeatIntervalMs);
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.emit('stopping');
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.call?.cancel();
    await this.loopDone;
    this.client.close();
  }

  /** Call metadata carrying the worker's credentials (and any extra keys). */
  metadata(extra: Record<string, string> = {}): grpc.Metadata {
    const metadata = new grpc.Metadata();
    if (this.config.serviceAccount) {
      metadata.set(METADATA.serviceAccountName, this.config.serviceAccount.name);
      metadata.set(METADATA.serviceAccountToken, this.config.serviceAccount.token);
    }
    for (const [key, value] of Object.entries(extra)) metadata.set(key, value);
    return metadata;
  }

  get grpcClient(): ControllerClient {
    return this.client;
  }

  async register(): Promise<void> {
    await this.api.registerWorker({
      name: this.config.name,
      machine_id: this.config.machineId,
      resources: this.config.resources,
      labels: this.config.labels,
      defaultCPU: this.config.defaultCpu,
      defaultMemory: this.config.defaultMemory,
      arch: this.config.arch,
      runtime: this.config.registeredRuntime,
    });
    this.emit('registered');
  }

  private async loop(): Promise<void> {
    let attempt = 0;
    while (!this.stopping.signal.aborted) {
      try {
        await this.register();
        await this.watchOnce(() => {
          attempt = 0;
        });
      } catch (error) {
        if (this.stopping.signal.aborted) break;
        const message = error instanceof Error ? error.message : String(error);
        // The first failure is news; the retries after it are not.
        if (attempt === 0) this.logger.warn(`controller link down: ${message}; retrying`);
        else this.logger.debug(`controller link still down: ${message}`);
      }
      if (this.stopping.signal.aborted) break;
      const delay = backoffDelay(attempt++, this.config.reconnect.initialMs, this.config.reconnect.maxMs);
      await sleep(delay, undefined, { signal: this.stopping.signal }).catch(() => undefined);
    }
  }

  /** One Watch stream, from open to end; resolves on a clean end, rejects on an error. */
  private watchOnce(onConnected: () => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const call = this.client.Watch({}, this.metadata({ [METADATA.workerName]: this.config.name }));
      this.call = call;
      const finish = (error?: Error) => {
        if (this.call === call) this.call = null;
        if (this.connected) {
          this.connected = false;
          this.emit('disconnected');
        }
        if (error) reject(error);
        else resolve();
      };
      call.on('data', (instruction: WatchInstruction__Output) => {
        if (!this.connected) {
          this.connected = true;
          onConnected();
          this.logger.log(`connected to ${this.config.controllerUrl} as "${this.config.name}"`);
          this.emit('connected');
        }
        this.dispatch(instruction);
      });
      call.on('error', (error: grpc.ServiceError) =>
        finish(error.code === grpc.status.CANCELLED ? undefined : error),
      );
      call.on('end', () => finish(new Error('the controller closed the Watch stream')));
    });
  }

  private dispatch(instruction: WatchInstruction__Output): void {
    switch (instruction.action) {
      case 'sync_vms_action':
        this.handlers.syncVms();
        return;
      case 'resolve_ip_action': {
        const { session, vm_uid } = instruction.resolve_ip_action!;
        void this.answerResolveIp(session, vm_uid);
        return;
      }
      case 'port_forward_action':
        this.handlers.portForward?.(instruction.port_forward_action!);
        return;
      case undefined:
        return;
    }
  }

  private async answerResolveIp(session: string, vmUid: string): Promise<void> {
    const ip = await this.handlers.resolveIp(session, vmUid).catch((error: unknown) => {
      this.logger.warn(`could not resolve the IP of VM ${vmUid}: ${String(error)}`);
      return '';
    });
    this.client.ResolveIP({ session, ip }, this.metadata({ [METADATA.session]: session }), (error) => {
      if (error) this.logger.debug(`ResolveIP answer for ${session} refused: ${error.message}`);
    });
  }

  private async heartbeat(): Promise<void> {
    try {
      const known = await this.api.heartbeat(this.config.name, this.config.machineId);
      if (!known) await this.register();
    } catch (error) {
      this.logger.debug(`heartbeat failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
