/**
 * Code execution containers and programmatic tool calling, as the fake serves them.
 *
 * A request with a code execution tool (`code_execution_*`) runs in a container: the answer names it
 * (`container: {id, expires_at, skills}`, in `message_delta.delta` when streamed, as the SDK's
 * MessageStream reads it), and a later request reuses it by sending its id as `container`. A container
 * lives `ttlMs` after its last use; an unknown or expired one is a 400.
 *
 * Code running in the container can call the request's own tools: such a `tool_use` carries a
 * `caller` (`{type: 'code_execution_20250825', tool_id}`) instead of `direct`. The code waits in the
 * container for the results, so the request that answers them must (checked here, with the API's
 * rules as its programmatic tool calling guide states them): name that container, send only
 * `tool_result` blocks in the answering message, and call only tools whose `allowed_callers` list the
 * caller.
 */
import { newId } from './basics';

type Obj = Record<string, unknown>;

/** A container as an answer names it. */
export interface ContainerInfo {
  id: string;
  expires_at: string;
  skills: null;
}

const isObject = (value: unknown): value is Obj =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The code execution tool of a request, if it has one. */
function codeExecutionTool(body: Obj): Obj | undefined {
  const tools = Array.isArray(body.tools) ? body.tools.filter(isObject) : [];
  return tools.find((t) => typeof t.type === 'string' && t.type.startsWith('code_execution_'));
}

/** The container id a request names (`container: "id"` or `{id}`), if any. */
function requestedContainer(body: Obj): string | undefined {
  const { container } = body;
  if (typeof container === 'string') return container;
  if (isObject(container) && typeof container.id === 'string') return container.id;
  return undefined;
}

/** The blocks of a message, whatever the form of its content. */
function blocksOf(message: Obj | undefined): Obj[] {
  if (!message) return [];
  return Array.isArray(message.content) ? message.content.filter(isObject) : [];
}

/**
 * Why a request cannot answer the programmatic tool calls of its last assistant turn (those whose
 * `caller` is not `direct`), or undefined. Only the last turn's calls wait in a live container.
 */
export function programmaticCallProblem(body: Obj): string | undefined {
  const messages = Array.isArray(body.messages) ? body.messages.filter(isObject) : [];
  const lastAssistant = messages.map((m) => m.role).lastIndexOf('assistant');
  if (lastAssistant < 0) return undefined;
  const calls = blocksOf(messages[lastAssistant]).filter(
    (b) => b.type === 'tool_use' && isObject(b.caller) && b.caller.type !== 'direct',
  );
  if (calls.length === 0) return undefined;
  const answer = lastAssistant + 1;
  const other = blocksOf(messages[answer]).findIndex((b) => b.type !== 'tool_result');
  if (messages[answer] && (typeof messages[answer].content === 'string' || other >= 0)) {
    return (
      `messages.${answer}.content${other >= 0 ? `.${other}` : ''}: a message that answers programmatic tool ` +
      'calls (a `tool_use` with a `caller` other than `direct`) may hold only `tool_result` blocks'
    );
  }
  if (requestedContainer(body) === undefined) {
    return 'container: the request answers programmatic tool calls, so it must name the container they run in (the `container` id of the answer that made them)';
  }
  const tools = Array.isArray(body.tools) ? body.tools.filter(isObject) : [];
  for (const call of calls) {
    const caller = (call.caller as Obj).type;
    const tool = tools.find((t) => t.name === call.name);
    const allowed = Array.isArray(tool?.allowed_callers) ? tool.allowed_callers : ['direct'];
    if (!allowed.includes(caller)) {
      return `tools: tool \`${String(call.name)}\` was called by \`${String(caller)}\`, which its \`allowed_callers\` does not list`;
    }
  }
  return undefined;
}

/** The containers the fake has handed out, with their lifetimes. */
export class Containers {
  private readonly expiry = new Map<string, number>();

  constructor(
    private readonly now: () => number = Date.now,
    /** How long a container lives after its last use. Default 1 hour. */
    private readonly ttlMs = 60 * 60 * 1000,
  ) {}

  /**
   * The container a request runs in: the one it names (its life extended), a new one when it names
   * none and has a code execution tool; a 400's message for an unknown or expired one.
   */
  forRequest(body: Obj): { container?: ContainerInfo; problem?: string } {
    const id = requestedContainer(body);
    if (id !== undefined) {
      const expires = this.expiry.get(id);
      if (expires === undefined) return { problem: `container: container \`${id}\` was not found` };
      if (expires <= this.now()) return { problem: `container: container \`${id}\` has expired` };
    }
    if (!codeExecutionTool(body)) return {};
    const live = id ?? newId('container');
    const expiresAt = this.now() + this.ttlMs;
    this.expiry.set(live, expiresAt);
    return { container: { id: live, expires_at: new Date(expiresAt).toISOString(), skills: null } };
  }

  /** Ends a container's life now (tests: a container that expired while a call waited). */
  expire(id: string): void {
    if (this.expiry.has(id)) this.expiry.set(id, this.now());
  }
}
