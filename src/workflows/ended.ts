/** How a conversation's end travels from where it is noticed to the workflow, which completes with it. */
import type { EndRequest } from '../api/conversation';

/**
 * Thrown to end the conversation from wherever the end is noticed (an idle wait, a park, after a round
 * of tool calls, a limit); the workflow catches it once and completes with `reason`.
 */
export class ConversationEnded extends Error {
  constructor(
    readonly reason: string,
    /** Someone asked for it (the `end` update or signal), rather than a limit or the idle timeout. */
    readonly requested = false,
  ) {
    super(reason);
    this.name = 'ConversationEnded';
  }

  /** The end an operator or client asked for (`end` update or signal). */
  static requested(request: EndRequest): ConversationEnded {
    return new ConversationEnded(request.reason ?? `ended${request.by ? ` by ${request.by}` : ''}`, true);
  }
}
