import type { Duplex } from 'node:stream';

import type { HostDir } from '#api';

/** A VM on this host as the runtime lists it (`tart list --format json`: Name, Source, State, Running). */
export interface LocalVm {
  name: string;
  source: 'local' | 'oci';
  state: string;
  running: boolean;
}

/** Hardware settings applied between clone and run (`tart set`). 0 or false means "leave as is". */
export interface VmHardware {
  cpu: number;
  memoryMib: number;
  diskSizeGb: number;
  randomSerial: boolean;
}

/** `tart run` options. */
export interface VmRunOptions {
  netSoftnet: boolean;
  netSoftnetAllow: string[];
  netSoftnetBlock: string[];
  /** Interface name for --net-bridged, '' for none. */
  netBridged: string;
  headless: boolean;
  nested: boolean;
  suspendable: boolean;
  hostDirs: HostDir[];
  /** The synthetic runtime's SSH server accepts these (defaults admin/admin when empty). */
  username: string;
  password: string;
}

/** How a `run` ended; `deliberate` is true when we stopped/suspended it ourselves. */
export interface VmExit {
  code: number | null;
  signal: string | null;
  deliberate: boolean;
  /** First line of stderr, if any, for the status message of an unexpected exit. */
  stderrFirstLine: string;
}

/** A started VM; `exited` settles (never rejects) when its process ends. */
export interface RunningVm {
  exited: Promise<VmExit>;
}

/**
 * The port every VM backend implements: `tart` shells out to Tart on a Mac, `synthetic` runs
 * in-process VMs (dev mode, tests, load tests). Methods reject with RuntimeError (see
 * runtime-error.ts); an AbortSignal cancels, and cancellation is not reported as a failure.
 */
export interface VmRuntime {
  readonly kind: 'tart' | 'synthetic';
  pull(image: string, signal?: AbortSignal): Promise<void>;
  clone(image: string, localName: string, signal?: AbortSignal): Promise<void>;
  /** Fully qualified image name (`tart fqn`), e.g. ghcr.io/org/image@sha256:... */
  fqn(image: string, signal?: AbortSignal): Promise<string>;
  configure(localName: string, hardware: VmHardware, signal?: AbortSignal): Promise<void>;
  run(localName: string, options: VmRunOptions): Promise<RunningVm>;
  /** The VM's IP address (`tart ip --wait 60`). */
  ip(localName: string, waitSeconds: number, signal?: AbortSignal): Promise<string>;
  stop(localName: string, timeoutSeconds: number): Promise<void>;
  suspend(localName: string): Promise<void>;
  delete(localName: string): Promise<void>;
  list(): Promise<LocalVm[]>;
  /**
   * A TCP-like byte stream to the VM's port: tart dials the VM's own IP; synthetic connects to
   * the in-process VM (an SSH server on 22, an echo service on every other port).
   */
  connect(localName: string, port: number, signal?: AbortSignal): Promise<Duplex>;
  /**
   * Releases what the runtime holds: ends the VM processes it started (tart: its `tart run`
   * children; synthetic: every VM, its servers, connections and directory). For shutdown and tests.
   */
  dispose?(): Promise<void>;
}
