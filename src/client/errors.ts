/** The client's failures: a code that says what the caller should do, and the gRPC status under one. */

import { ApplicationFailure, isGrpcServiceError, WorkflowUpdateFailedError } from '@temporalio/client';

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
  FAILED_PRECONDITION: 9,
  UNAVAILABLE: 14,
} as const;

/** The first gRPC service error in an error's cause chain. */
export function grpcErrorOf(err: unknown): { code: number; details: string } | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 16; e = e.cause, depth++) {
    if (isGrpcServiceError(e)) return { code: e.code, details: e.details };
  }
  return undefined;
}

/**
 * The server's reason when it refused an update for a passing state of the run, one that the same
 * update sent again gets past; undefined for any other failure. The codes alone do not tell these from
 * lasting refusals (`FAILED_PRECONDITION` also means "updates are disabled", `RESOURCE_EXHAUSTED` a
 * full update quota), so the server's messages (stable constants in its source, `consts.ErrWorkflow*`
 * and the update registry's abort error) decide:
 * - a workflow task failed while the update waited for it (a worker died or faulted mid-task);
 * - the run is closing (continue-as-new): a new attempt reaches the new run;
 * - the update was aborted by the server (its registry was cleared: a shard moved, the run reloaded).
 */
export function retryableUpdateRefusal(err: unknown): string | undefined {
  const grpc = grpcErrorOf(err);
  if (!grpc) return undefined;
  const details = grpc.details ?? '';
  const transient =
    (grpc.code === GRPC_STATUS.FAILED_PRECONDITION && /workflow task failure/i.test(details)) ||
    (grpc.code === GRPC_STATUS.RESOURCE_EXHAUSTED && /workflow is closing/i.test(details)) ||
    (grpc.code === GRPC_STATUS.UNAVAILABLE && /update was aborted/i.test(details));
  return transient ? details : undefined;
}

/**
 * The server's reason when it rejected an update that no worker processed: the update reached a worker
 * in a workflow task that was then completed without a word about it (seen while a SIGKILLed worker's
 * conversations recover), and the server closes such an update as failed (`UnprocessedUpdate`, source
 * "Server"). No validator or handler ran, so nothing was applied; but the update id is spent, so only a
 * new id gets the update in. Undefined for any other failure, a workflow's own refusals included.
 */
export function unprocessedUpdate(err: unknown): string | undefined {
  if (!(err instanceof WorkflowUpdateFailedError)) return undefined;
  const cause = err.cause;
  return cause instanceof ApplicationFailure && cause.type === 'UnprocessedUpdate'
    ? cause.message
    : undefined;
}
