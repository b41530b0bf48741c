/**
 * API tool names for MCP tools: `${server}__${tool}`, made legal and unique. Pure (no Node), so the
 * same names come out wherever they are computed.
 */
import { TOOL_NAME_PATTERN } from '../api/tools';

/** An MCP server's name in an agent's configuration: it prefixes its tools' names. */
export const MCP_SERVER_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,32}$/;

/** Separates the server's name from the tool's in an API tool name. */
export const MCP_NAME_SEPARATOR = '__';

const MAX_NAME = 64;
const HASH_CHARS = 8;

/** One MCP tool of one server. */
export interface McpToolRef {
  server: string;
  tool: string;
}

/**
 * The API name of one tool, ignoring other tools: `${server}__${tool}`, characters outside
 * `[a-zA-Z0-9_-]` replaced by `_`; a name over 64 characters is cut and ends in `_` and a hash of the
 * untouched pair, so two long names that share a prefix stay apart.
 */
export function mcpToolName(server: string, tool: string): string {
  return candidate({ server, tool }).name;
}

/**
 * The API names of all the MCP tools one agent offers, in the order given, unique among themselves.
 * Names that collide (`a.b` and `a_b` both become `srv__a_b`) get a hash suffix, except a name that
 * needed no change when it is the only such one in its group: it keeps the clean name. The result
 * depends only on the set of tools, not on their order, so a server listing its tools in another
 * order does not rename them.
 */
export function mcpToolNames(refs: readonly McpToolRef[]): string[] {
  const seen = new Set<string>();
  for (const ref of refs) {
    const id = `${ref.server}\u0000${ref.tool}`;
    if (seen.has(id))
      throw new Error(`MCP tool ${JSON.stringify(ref.tool)} of ${ref.server} is listed twice`);
    seen.add(id);
  }
  const candidates = refs.map(candidate);
  const names = candidates.map((c) => c.name);
  const salts = refs.map(() => -1);
  // A group keeps one member's clean name when that member alone needed no change; the others get
  // hashes. Re-salting repeats only on a hash collision, which practically never happens.
  for (let round = 0; ; round++) {
    const groups = groupBy(names);
    const clashes = [...groups.values()].filter((members) => members.length > 1);
    if (clashes.length === 0) return names;
    if (round > 100) throw new Error('could not make MCP tool names unique');
    for (const members of clashes) {
      const keepers = members.filter((i) => salts[i] < 0 && candidates[i].exact);
      const keep = keepers.length === 1 ? keepers[0] : -1;
      for (const i of members) {
        if (i === keep) continue;
        salts[i] += 1;
        names[i] = withHash(candidates[i].sanitized, hash(refs[i], salts[i]));
      }
    }
  }
}

function candidate(ref: McpToolRef): { name: string; sanitized: string; exact: boolean } {
  if (!MCP_SERVER_NAME_PATTERN.test(ref.server))
    throw new Error(`MCP server name ${JSON.stringify(ref.server)} must match ${MCP_SERVER_NAME_PATTERN}`);
  const raw = `${ref.server}${MCP_NAME_SEPARATOR}${ref.tool}`;
  const sanitized = raw.replace(/[^a-zA-Z0-9_-]/g, '_');
  if (sanitized.length <= MAX_NAME) return { name: sanitized, sanitized, exact: raw === sanitized };
  return { name: withHash(sanitized, hash(ref, 0)), sanitized, exact: false };
}

function withHash(sanitized: string, suffix: string): string {
  const room = MAX_NAME - suffix.length - 1;
  const name = `${sanitized.slice(0, room)}_${suffix}`;
  if (!TOOL_NAME_PATTERN.test(name)) throw new Error(`internal: bad tool name ${name}`);
  return name;
}

/** 8 hex characters of FNV-1a over the untouched pair (and the salt after a collision). */
function hash(ref: McpToolRef, salt: number): string {
  const text = `${ref.server}\u0000${ref.tool}${salt > 0 ? `\u0000${salt}` : ''}`;
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(HASH_CHARS, '0');
}

function groupBy(names: string[]): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  names.forEach((name, i) => groups.set(name, [...(groups.get(name) ?? []), i]));
  return groups;
}
