import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

import type { ProtoGrpcType } from './generated/orchard.js';

export type { ControllerClient, ControllerHandlers } from './generated/Controller.js';
export type { PortForwardData, PortForwardData__Output } from './generated/PortForwardData.js';
export type { ResolveIPResult, ResolveIPResult__Output } from './generated/ResolveIPResult.js';
export type { WatchInstruction, WatchInstruction__Output } from './generated/WatchInstruction.js';

/** gRPC metadata keys of the controller <-> worker contract (see proto/orchard.proto). */
export const METADATA = {
  serviceAccountName: 'x-orchard-service-account-name',
  serviceAccountToken: 'x-orchard-service-account-token',
  workerName: 'x-orchard-worker-name',
  session: 'x-orchard-port-forwarding-session',
  /**
   * Ours, not Orchard's: on a PortForward call, the worker could not connect to the target and
   * says why (the call carries no bytes). Without it the controller would only notice a timeout.
   */
  portForwardError: 'x-orchard-port-forwarding-error',
  /**
   * Ours, not Orchard's: on a PortForward call, "1" when the worker accepted the half_close its
   * instruction offered (an empty message is then end-of-stream for one direction).
   */
  halfClose: 'x-orchard-half-close',
} as const;

/** The options the generated types assume (keep in step with scripts/proto-gen.mjs). */
const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** proto/ sits at the repository (or image) root, above both the sources and dist/. */
function findProtoFile(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'proto', 'orchard.proto');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error('proto/orchard.proto not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

let cached: ProtoGrpcType | null = null;

/** The Controller service definition and message types, loaded once from proto/orchard.proto. */
export function orchardProto(): ProtoGrpcType {
  cached ??= grpc.loadPackageDefinition(
    protoLoader.loadSync(findProtoFile(), LOADER_OPTIONS),
  ) as unknown as ProtoGrpcType;
  return cached;
}
