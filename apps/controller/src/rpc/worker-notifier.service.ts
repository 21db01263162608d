import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Subscription } from 'rxjs';

import type { WatchInstruction } from '#protocol';

import { ClusterEvents } from '../common/cluster-events.js';

/** What the notifier needs of a Watch stream: a way to push an instruction and to end it. */
export interface InstructionSink {
  write(instruction: WatchInstruction): boolean;
  end(): void;
}

interface Connection {
  id: number;
  sink: InstructionSink;
}

/**
 * The registry of live Watch streams, worker name -> stream. A worker that reconnects replaces
 * its previous stream (which is ended), and a stale stream's disconnect never removes the newer
 * one (streams are told apart by id). VM changes become SyncVMs for the workers involved,
 * coalesced so that a burst of changes costs one instruction per worker.
 */
@Injectable()
export class WorkerNotifier implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('notifier');
  private readonly connections = new Map<string, Connection>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly pendingSync = new Set<string>();
  private nextId = 1;
  private subscription: Subscription | null = null;
  private flushScheduled = false;

  constructor(private readonly events: ClusterEvents) {}

  onModuleInit(): void {
    this.subscription = this.events.events.subscribe((event) => {
      if (event.kind !== 'vm') return;
      const { vm, previousWorker, cause } = event.change;
      // A worker's own state report tells it nothing new: no SyncVMs back for it.
      if (vm.worker && cause !== 'worker-report') this.requestSync(vm.worker);
      if (previousWorker && previousWorker !== vm.worker) this.requestSync(previousWorker);
    });
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
    for (const connection of this.connections.values()) connection.sink.end();
    this.connections.clear();
  }

  /** Registers a worker's Watch stream; returns the id to pass to disconnect(). */
  connect(worker: string, sink: InstructionSink): number {
    const previous = this.connections.get(worker);
    const id = this.nextId++;
    this.connections.set(worker, { id, sink });
    if (previous) {
      this.logger.log(`worker "${worker}" reconnected; closing its previous Watch stream`);
      previous.sink.end();
    } else {
      this.logger.log(`worker "${worker}" connected`);
    }
    for (const wake of this.waiters.get(worker) ?? []) wake();
    this.waiters.delete(worker);
    return id;
  }

  disconnect(worker: string, id: number): void {
    const current = this.connections.get(worker);
    if (current?.id !== id) return;
    this.connections.delete(worker);
    this.logger.log(`worker "${worker}" disconnected`);
  }

  isConnected(worker: string): boolean {
    return this.connections.has(worker);
  }

  /** Sends one instruction now; false when the worker has no live stream. */
  send(worker: string, instruction: WatchInstruction): boolean {
    const connection = this.connections.get(worker);
    if (!connection) return false;
    connection.sink.write(instruction);
    return true;
  }

  /** Resolves true once the worker is connected, false after timeoutMs or on abort. */
  waitForConnection(worker: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.connections.has(worker)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiters = this.waiters.get(worker) ?? new Set();
      this.waiters.set(worker, waiters);
      const finish = (connected: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        waiters.delete(wake);
        if (waiters.size === 0 && this.waiters.get(worker) === waiters) this.waiters.delete(worker);
        resolve(connected);
      };
      const wake = () => finish(true);
      const onAbort = () => finish(false);
      const timer = setTimeout(() => finish(false), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      waiters.add(wake);
    });
  }

  /** Asks a worker to reconcile; several requests in one tick become one SyncVMs. */
  requestSync(worker: string): void {
    this.pendingSync.add(worker);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      for (const name of this.pendingSync) this.send(name, { sync_vms_action: {} });
      this.pendingSync.clear();
    });
  }
}
