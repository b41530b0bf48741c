/**
 * Telling people that a conversation waits for them (a tool call for approval, a park in
 * `needs_attention`): the `notify` activity posts the webhooks (src/notify).
 *
 * Why an activity the workflow schedules and does not await, rather than a notifier outside the
 * workflow (say, the ops server watching search attributes): the event is known here, exactly once,
 * at the moment it happens; the schedule is durable (a worker crash or deploy loses nothing) and the
 * retries are Temporal's, visible in the conversation's history; no other process has to run, poll
 * or keep a cursor for notifications to go out.
 *
 * Why it never holds the conversation up: nothing awaits the activity. Its promise is observed only to
 * log a final failure (an unhandled rejection would fail the workflow task). It runs in its own
 * cancellation scope with `TRY_CANCEL`: once nobody needs telling any more (the call is decided or
 * expires, the park ends, the conversation is cancelled) the scope is cancelled, the server stops the
 * retries, and the workflow goes on at once without waiting for the activity to confirm. A run that
 * closes (completes, fails, continues as new) with a notification still retrying simply leaves it:
 * Temporal does not schedule an activity of a closed run again and refuses its late result, and the
 * workflow completes normally. Continue-as-new happens only between turns, when no call waits and no
 * park is open, so no notification that still matters is dropped that way.
 *
 * Behind `rolledOut(PATCHES.webhookNotifications)`: histories recorded before it replay unchanged.
 */
import {
  ActivityCancellationType,
  CancellationScope,
  isCancellation,
  log,
  proxyActivities,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { Attention } from '../api/conversation';
import {
  MAX_ATTENTION_MESSAGE_CHARS,
  clip,
  summarizeInput,
  type NotificationEvent,
} from '../api/notifications';
import type { PendingApproval } from '../api/approvals';
import { PATCHES, rolledOut } from './patches';

const { notify } = proxyActivities<Activities>({
  // One attempt posts to every receiver, each bounded by its own timeout (10 s by default).
  startToCloseTimeout: '1 minute',
  // Retried for a day at most (an approval's default deadline), 1 s, 2 s, 4 s, ... then every 5 min.
  scheduleToCloseTimeout: '1 day',
  cancellationType: ActivityCancellationType.TRY_CANCEL,
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '5 minutes',
    nonRetryableErrorTypes: ['WebhookRefused'],
  },
});

/** Stops a notification's retries once it no longer matters. */
export type StopNotifying = () => void;

/** Who a notification is about: the conversation, its agent and tenant. */
export type NotificationOrigin = Pick<NotificationEvent, 'workflowId' | 'agent' | 'tenant'>;

/** A tool call started waiting for approval: notify, until it is decided. */
export function notifyApprovalWaiting(origin: NotificationOrigin, pending: PendingApproval): StopNotifying {
  return send({
    kind: 'approval.waiting',
    ...origin,
    toolUseId: pending.toolUseId,
    tool: pending.name,
    ...summarizeInput(pending.input),
    turn: pending.turn,
    requestedAt: pending.requestedAt,
    deadline: pending.deadline,
  });
}

/** The conversation parked: notify, until it is resumed or ended. */
export function notifyNeedsAttention(origin: NotificationOrigin, attention: Attention): StopNotifying {
  return send({
    kind: 'conversation.needs_attention',
    ...origin,
    reason: attention.reason,
    message: clip(attention.message, MAX_ATTENTION_MESSAGE_CHARS),
    at: attention.at,
  });
}

function send(event: NotificationEvent): StopNotifying {
  if (!rolledOut(PATCHES.webhookNotifications)) return () => undefined;
  const scope = new CancellationScope();
  scope
    .run(() => notify(event))
    .catch((err: unknown) => {
      if (isCancellation(err)) return;
      log.warn('notification not delivered', {
        kind: event.kind,
        error: err instanceof Error ? err.message : String(err),
      });
    });
  return () => scope.cancel();
}
