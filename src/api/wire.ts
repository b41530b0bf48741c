/**
 * The request header carrying the conversation's workflow id on every model call. It lets an API
 * gateway, a proxy's logs or the fake Messages API tell conversations apart; it holds the workflow id,
 * percent-encoded (`encodeURIComponent`: a workflow id may hold characters a header cannot), and
 * nothing else.
 */
export const CONVERSATION_ID_HEADER = 'x-agent-conversation-id';
