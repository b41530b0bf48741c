/**
 * A workflow that poses as a conversation — the same type name, listed as waiting for approval — but
 * whose state query throws: the broken conversation of the ops API's hostile tests. It runs on a task
 * queue of its own, with a worker of its own.
 */
import { condition, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { stateQuery } from '../../../src/api/conversation';
import { AGENT_PENDING_APPROVALS } from '../../../src/api/search-attributes';

export async function conversationWorkflow(): Promise<void> {
  setHandler(stateQuery, () => {
    throw new Error('this conversation cannot read its state');
  });
  upsertSearchAttributes([{ key: AGENT_PENDING_APPROVALS, value: 1 }]);
  await condition(() => false);
}
