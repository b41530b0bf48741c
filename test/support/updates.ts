import { expect } from '@jest/globals';

/**
 * Asserts that an update (or signal, query) was refused with a message matching `pattern`. The client
 * wraps a validator's error as `WorkflowUpdateFailedError('Workflow Update failed')`; the reason is
 * its cause, which is what the CLI and the ops UI show.
 */
export async function expectRefused(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  const err = (await promise.then(
    () => undefined,
    (e: unknown) => e,
  )) as (Error & { cause?: Error }) | undefined;
  expect(err).toBeDefined();
  expect(err?.cause?.message ?? err?.message).toMatch(pattern);
}
