/** The client's failures: a code that says what the caller should do, and the gRPC status under one. */

import { isGrpcServiceError } from '@temporalio/client';

/** Why a client call failed, for exit codes and HTTP statuses. */
export type AgentErrorCode = 'invalid' | 'refused' | 'not_found' | 'unavailable' | 'no_worker';

/** A failure with a code and a message that says what to do. */
export class AgentError extends Error {
  constructor(
    readonly code: AgentErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AgentError';
  }
}

/** The gRPC status codes the client maps (grpc/grpc doc/statuscodes.md). */
export const GRPC_STATUS = {
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  UNAVAILABLE: 14,
} as const;

/** The first gRPC service error in an error's cause chain. */
export function grpcErrorOf(err: unknown): { code: number; details: string } | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 16; e = e.cause, depth++) {
    if (isGrpcServiceError(e)) return { code: e.code, details: e.details };
  }
  return undefined;
}
