/**
 * The bodies a webhook receives: our JSON shape, and a Slack-compatible one (`text` + `blocks`, the
 * shape of Slack's incoming webhooks, also understood by Mattermost and Rocket.Chat). Pure.
 *
 * Everything in a notification that users or the model wrote (the conversation id, the tool input, a
 * parked message) is untrusted: in the Slack shape it is escaped (`&`, `<`, `>`: the only characters
 * Slack's mrkdwn reads as control) so it cannot add links, mentions (`<!channel>`) or fake the page
 * link, and it goes inside code spans or blocks, where Slack does not turn bare URLs into links.
 */
import type { NotificationEvent } from '../api/notifications';

/** Version of the JSON body; a receiver can refuse one it does not know. */
export const JSON_PAYLOAD_VERSION = 1 as const;

/** The JSON body (`AGENT_WEBHOOK_FORMAT=json`). */
export interface JsonPayload {
  version: typeof JSON_PAYLOAD_VERSION;
  /** `approval.waiting` or `conversation.needs_attention`. */
  event: NotificationEvent['kind'];
  /** Stable across retries and receivers: deduplicate on it. */
  deliveryId: string;
  conversationId: string;
  agent?: string;
  tenant?: string;
  /** The conversation's page in the ops UI. */
  link: string;
  /** approval.waiting */
  toolUseId?: string;
  tool?: string;
  inputSummary?: string;
  inputTruncated?: boolean;
  turn?: number;
  requestedAt?: string;
  deadline?: string;
  /** conversation.needs_attention */
  reason?: string;
  message?: string;
  at?: string;
}

/** The Slack-compatible body (`AGENT_WEBHOOK_FORMAT=slack`). */
export interface SlackPayload {
  /** The fallback text (notifications, clients without blocks). */
  text: string;
  blocks: Array<Record<string, unknown>>;
}

/** The ops page's view of a conversation (its hash routes: src/ops/public/router.js). */
export function conversationLink(publicUrl: string, workflowId: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/#/conversations/${encodeURIComponent(workflowId)}`;
}

export function jsonPayload(event: NotificationEvent, deliveryId: string, link: string): JsonPayload {
  const base = {
    version: JSON_PAYLOAD_VERSION,
    event: event.kind,
    deliveryId,
    conversationId: event.workflowId,
    ...(event.agent !== undefined && { agent: event.agent }),
    ...(event.tenant !== undefined && { tenant: event.tenant }),
    link,
  };
  if (event.kind === 'approval.waiting') {
    return {
      ...base,
      toolUseId: event.toolUseId,
      tool: event.tool,
      inputSummary: event.inputSummary,
      inputTruncated: event.truncated,
      turn: event.turn,
      requestedAt: event.requestedAt,
      deadline: event.deadline,
    };
  }
  return { ...base, reason: event.reason, message: event.message, at: event.at };
}

/** Escapes text for Slack mrkdwn: `&`, `<` and `>` (Slack's own rule for user text). */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Untrusted text as a Slack code span (`block`: a code block): escaped, and its backticks replaced
 * by `ˋ` (U+02CB) so it cannot close the span and go on as formatted text.
 */
export function slackCode(text: string, block = false): string {
  const inner = escapeMrkdwn(text).replace(/`/g, 'ˋ');
  return block ? '```' + inner + '```' : '`' + inner + '`';
}

/** A Slack link; the URL is ours (configured base + encoded id), the label escaped. */
function slackLink(url: string, label: string): string {
  return `<${url.replace(/&/g, '&amp;').replace(/</g, '%3C').replace(/>/g, '%3E').replace(/\|/g, '%7C')}|${escapeMrkdwn(label)}>`;
}

export function slackPayload(event: NotificationEvent, link: string): SlackPayload {
  const who = event.agent ? ` (agent ${slackCode(event.agent)})` : '';
  const conversation = slackCode(event.workflowId);
  if (event.kind === 'approval.waiting') {
    const headline = `Tool call ${slackCode(event.tool)} waits for approval in conversation ${conversation}${who}`;
    return {
      text: `${headline}. Decide before ${event.deadline}: ${slackLink(link, 'open it')}`,
      blocks: [
        { type: 'section', text: { type: 'mrkdwn', text: `:hourglass: ${headline}` } },
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: `*Input*${event.truncated ? ' (cut)' : ''}\n${slackCode(event.inputSummary, true)}`,
          },
        },
        {
          type: 'context',
          elements: [
            {
              type: 'mrkdwn',
              text: `tool_use_id ${slackCode(event.toolUseId)} · turn ${event.turn} · deadline ${escapeMrkdwn(event.deadline)}`,
            },
          ],
        },
        { type: 'section', text: { type: 'mrkdwn', text: slackLink(link, 'Open in the ops page') } },
      ],
    };
  }
  const headline = `Conversation ${conversation}${who} needs attention: ${slackCode(event.reason)}`;
  return {
    text: `${headline}: ${slackLink(link, 'open it')}`,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `:warning: ${headline}` } },
      { type: 'section', text: { type: 'mrkdwn', text: slackCode(event.message, true) } },
      { type: 'section', text: { type: 'mrkdwn', text: slackLink(link, 'Open in the ops page') } },
    ],
  };
}
