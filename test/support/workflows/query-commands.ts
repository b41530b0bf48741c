import { condition, defineQuery, defineUpdate, setHandler, upsertMemo } from '@temporalio/workflow';

/** A query whose handler issues a command (a memo upsert): queries must not, but the SDK lets them. */
export const peekQuery = defineQuery<number>('peek');
export const finishUpdate = defineUpdate<number>('finish');

/**
 * Waits for `finish`. Each `peek` upserts a memo: on a legacy query that command meets the query's
 * answer in one completion, the shape core refuses (test/integration/legacy-query-guard.test.ts).
 */
export async function queryCommandsWorkflow(): Promise<number> {
  let peeks = 0;
  let finished = false;
  setHandler(peekQuery, () => {
    peeks++;
    upsertMemo({ peeks });
    return peeks;
  });
  setHandler(finishUpdate, () => {
    finished = true;
    return peeks;
  });
  await condition(() => finished);
  return peeks;
}
