/**
 * How big things may be where they enter a conversation, and how refused values are quoted back.
 * Everything a client sends is stored in workflow state or history, or echoed in a refusal, and
 * Temporal refuses any payload past its limit (2 MiB by default): an input that is not bounded where it
 * enters can make a conversation's workflow task fail again and again. Workflow-safe.
 */

/** Temporal's default limit on one payload (the server's `limit.blobSize.error`). */
export const TEMPORAL_PAYLOAD_LIMIT = 2 * 1024 * 1024;
/**
 * Largest update a client sends: the worker's refusal (or acceptance) echoes the request, so the
 * request must leave room under {@link TEMPORAL_PAYLOAD_LIMIT} for the echo's ids and failure. The
 * same value as the server's `history.maxInFlightUpdatePayloads` we configure (see the README).
 */
export const MAX_UPDATE_BYTES = TEMPORAL_PAYLOAD_LIMIT - 256 * 1024;
/**
 * Most bytes of transcript one query answer carries (the state query, the `messages` query): a long
 * conversation's transcript can outgrow Temporal's payload limit, its answers never do. A reader pages
 * through the rest (`from` / `to`).
 */
export const MAX_QUERY_MESSAGES_BYTES = 1024 * 1024;
/** Longest tool_use id accepted in a decision (the API's ids are about 30 characters). */
export const MAX_TOOL_USE_ID = 256;
/** Longest name of a person or system (`decidedBy`, `by`). */
export const MAX_NAME = 200;
/** Longest free text (`reason`, `note`). */
export const MAX_REASON = 4000;
/** Largest edited tool input, in bytes of JSON. */
export const MAX_EDIT_INPUT_BYTES = 256 * 1024;
/** Deepest nesting of an edited tool input (deeper JSON only serves to exhaust a parser's stack). */
export const MAX_JSON_DEPTH = 64;
/** A refused value quoted in an error message is clipped to this many characters. */
export const MAX_QUOTED = 100;

/** `text` quoted for an error message: as it is when short, else its start and its length. */
export function quote(text: string, max = MAX_QUOTED): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`;
}

/** The UTF-8 length of a string, in bytes (what payload limits count), without allocating it. */
export function utf8Bytes(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      bytes += 4; // a surrogate pair: one 4-byte character
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** The nesting depth of a JSON-like value, counting up to `limit + 1` and no further (no recursion). */
export function jsonDepth(value: unknown, limit = MAX_JSON_DEPTH): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    deepest = Math.max(deepest, depth);
    if (deepest > limit) return deepest;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return deepest;
}
