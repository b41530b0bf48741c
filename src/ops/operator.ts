/**
 * The operator's name, from the `x-ops-operator` header: it becomes `decidedBy` in the audit trail.
 *
 * HTTP header values are bytes that Node reads as latin-1, so a UTF-8 name sent as is would be stored
 * as mojibake ("JosÃ©"). The header is therefore defined as percent-encoded UTF-8, what
 * `encodeURIComponent(name)` makes (the ops page sends it so); ASCII names read the same either way.
 * Raw non-ASCII bytes, malformed escapes and invalid UTF-8 are refused rather than guessed at.
 */

/** The header that names the operator. */
export const OPERATOR_HEADER = 'x-ops-operator';
/** Longest operator name, in characters (`decidedBy`'s bound). */
export const MAX_OPERATOR_CHARS = 200;
/** Longest header value: every character of the longest name percent-encoded (up to 9 characters each). */
const MAX_ENCODED_CHARS = MAX_OPERATOR_CHARS * 9;

// Control characters (C0, DEL, C1) and the bidirectional overrides that reorder what an audit shows.
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;

/** The decoded name, or why the header is refused (a 400). */
export function operatorFrom(header: string | string[] | undefined): { name: string } | { problem: string } {
  if (Array.isArray(header)) return { problem: `send one ${OPERATOR_HEADER} header, not ${header.length}` };
  const raw = (header ?? '').trim();
  if (!raw) return { problem: `the ${OPERATOR_HEADER} header (who decides) is required` };
  if (raw.length > MAX_ENCODED_CHARS)
    return {
      problem: `the ${OPERATOR_HEADER} header is ${raw.length} characters; the limit is ${MAX_ENCODED_CHARS}`,
    };
  if (!/^[\x20-\x7e]*$/.test(raw))
    return {
      problem: `the ${OPERATOR_HEADER} header must be percent-encoded UTF-8 (encodeURIComponent(name)), not raw bytes`,
    };
  let name: string;
  try {
    name = decodeURIComponent(raw).trim();
  } catch {
    return {
      problem: `the ${OPERATOR_HEADER} header is not valid percent-encoded UTF-8 (encodeURIComponent(name); a % is %25)`,
    };
  }
  if (!name) return { problem: `the ${OPERATOR_HEADER} header (who decides) is blank` };
  if (name.length > MAX_OPERATOR_CHARS)
    return { problem: `the operator name is ${name.length} characters; the limit is ${MAX_OPERATOR_CHARS}` };
  if (FORBIDDEN.test(name))
    return { problem: 'the operator name holds control or bidirectional-override characters' };
  return { name };
}
