import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

import { Logger } from '@nestjs/common';

import { METADATA } from '#protocol';
import { grpcDuplex, splice, type PortForwardClientCall } from '#pipe';

import type { VmRuntime } from '../runtime/vm-runtime.js';
import type { SyncService } from '../sync/sync.service.js';

export interface PortForwardInstruction {
  session: string;
  vm_uid: string;
  port: number;
  /** Offered by Orchard-TS controllers (see proto/orchard.proto); accepted whenever offered. */
  half_close?: boolean;
}

/** Opens the PortForward call with the given extra metadata (session, and a refusal if any). */
export type OpenPortForward = (metadata: Record<string, string>) => PortForwardClientCall;

function loopback(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true, noDelay: true });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/**
 * The worker's side of a tunnel: on a PortForward instruction, connect to the target (a VM this
 * worker runs, through its runtime; or, with an empty vm_uid, a port on this host's loopback
 * interface and nowhere else), then open PortForward with the session and splice. A target that
 * cannot be reached is reported at once on the PortForward call itself, so the user gets a clear
 * error instead of a timeout.
 */
export class PortForwarder {
  private readonly logger = new Logger('port-forward');
  private readonly open = new Set<Duplex>();

  constructor(
    private readonly runtime: VmRuntime,
    private readonly sync: SyncService,
    private readonly openCall: OpenPortForward,
  ) {}

  get activeTunnels(): number {
    return this.open.size;
  }

  async handle(instruction: PortForwardInstruction): Promise<void> {
    const { session, vm_uid: vmUid, port } = instruction;
    let target: Duplex;
    try {
      target = await this.dial(vmUid, port);
    } catch (error) {
      // Not `instanceof Error`: errors from other realms (jest's VM contexts) fail that check.
      const message = (error as { message?: unknown } | null)?.message;
      const reason = typeof message === 'string' ? message : String(error);
      this.logger.debug(`session ${session}: ${reason}`);
      this.openCall({ [METADATA.session]: session, [METADATA.portForwardError]: reason }).end();
      return;
    }
    const halfClose = instruction.half_close === true;
    const call = this.openCall({
      [METADATA.session]: session,
      ...(halfClose ? { [METADATA.halfClose]: '1' } : {}),
    });
    this.open.add(target);
    try {
      await splice(target, grpcDuplex(call, { halfClose }));
    } catch (error) {
      this.logger.debug(`session ${session} ended: ${(error as Error).message}`);
    } finally {
      this.open.delete(target);
    }
  }

  /** Ends every tunnel (worker shutdown). */
  closeAll(): void {
    for (const target of this.open) target.destroy();
  }

  private async dial(vmUid: string, port: number): Promise<Duplex> {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid port ${port}`);
    if (!vmUid) return loopback(port);
    const vm = this.sync.findByUid(vmUid);
    if (!vm) throw new Error(`VM ${vmUid} is not running on this worker`);
    return this.runtime.connect(vm.localName, port);
  }
}
