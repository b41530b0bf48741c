import type { ImageBlockParam, TextBlockParam, Tool } from '@anthropic-ai/sdk/resources/messages';
import { transformJSONSchema } from '@anthropic-ai/sdk/lib/transform-json-schema';
import { z } from 'zod';
import { TOOL_NAME_PATTERN, type ToolEffect } from '../api/tools';
import { checkApproverRules } from './approver-rules';
import { checkedInputExamples } from './input-examples';

/** What a tool does to the world. Write tools need approval by default and must be idempotent. */
export type { ToolEffect };

/**
 * Whether a call needs an operator's approval: `never`, `always`, or a predicate over the validated
 * input (e.g. only amounts over 100). The predicate must be pure: it is evaluated once, in the
 * model-call activity, and its answer is recorded in workflow history.
 */
export type ApprovalPolicy<I> = 'never' | 'always' | ((input: I) => boolean);

/** Whether `policy` asks for an operator's approval of this (validated) input. */
export function approvalRequired<I>(policy: ApprovalPolicy<I>, input: I): boolean {
  return typeof policy === 'function' ? policy(input) : policy === 'always';
}

/** What a tool's `run` gets besides its input. */
export interface ToolContext {
  /**
   * `workflowId/toolUseId`: the same on every retry of this call, different for every other call.
   * A write tool must use it so a retried call does not act twice (see `idempotentWrite`).
   */
  idempotencyKey: string;
  workflowId: string;
  toolUseId: string;
  /** Aborted when the call times out, the conversation is cancelled or the worker shuts down. */
  signal: AbortSignal;
  /** Reports progress; long tools should call it (the activity already heartbeats in the background). */
  heartbeat(details?: unknown): void;
  /** 1 on the first attempt. */
  attempt: number;
  /** The conversation's tenant (`default` when it names none): tenant-scoped state is kept apart by it. */
  tenant?: string;
}

/** What `run` may return: text, content blocks, or any JSON value (sent to the model as JSON text). */
export type ToolOutput =
  | string
  | Array<TextBlockParam | ImageBlockParam>
  | Record<string, unknown>
  | unknown[]
  | number
  | boolean
  | null;

/** A tool definition, as written by a tool author. */
export interface ToolSpec<S extends z.ZodObject> {
  /** `^[a-zA-Z0-9_-]{1,64}$`, unique in the registry. */
  name: string;
  /** What the model reads to decide when and how to call it. */
  description: string;
  /** The input schema: sent to the model as JSON Schema, and validates the model's input before `run`. */
  input: S;
  effect: ToolEffect;
  /** Default: `always` for write tools, `never` for read tools. */
  approval?: ApprovalPolicy<z.output<S>>;
  /**
   * Approver groups: a call that waits for approval may be decided (approved, edited or rejected) only
   * by someone in one of them (`['finance']`). Checked in the workflow's update validator. Default: anyone.
   */
  approvers?: string[];
  /**
   * How many distinct people must approve a call before it runs (2: four-eyes). One rejection rejects;
   * an edit supersedes the approvals collected before it. Default 1, at most 10.
   */
  approvalsRequired?: number;
  /** Longest a call may run, in ms (default 60 s); past it, the model gets an `is_error` result. */
  timeoutMs?: number;
  /**
   * Stream the input to observers as the model writes it (per-tool `eager_input_streaming`). Default true.
   * The streamed JSON may be incomplete; it is parsed strictly before `run` either way.
   */
  eagerInputStreaming?: boolean;
  /**
   * Strict tool use: the API holds the model's input to the schema (`strict: true`). The schema is sent
   * as the SDK transforms it for strict mode: constraints the API does not support (minimum, lengths,
   * patterns, ...) move into descriptions, objects get `additionalProperties: false`. The input is still
   * checked against `input` itself, every constraint kept, before `run`. Default false.
   */
  strict?: boolean;
  /**
   * Example inputs, sent as `input_examples`: they show the model how to call a tool whose schema alone
   * leaves it guessing (formats, which optional fields go together). Each is checked against `input` at
   * definition; one that does not match throws, naming the tool.
   */
  inputExamples?: Array<z.input<S>>;
  /**
   * With an agent's `toolSearch`: `true` always defers this tool (`defer_loading`: the model finds it by
   * searching), `false` never does; unset, the agent decides (see `toolSearch`). Ignored without tool search.
   */
  deferLoading?: boolean;
  /**
   * Who may call it (`allowed_callers`): `direct` (the model, the default) and/or code the model runs
   * with the code execution tool (`code_execution_20250825`, ...: programmatic tool calling, where a
   * script calls the tool many times and only its outcome enters the context). Each call still runs
   * through `runTool` (approval, retries, audit); the answering request carries the container.
   */
  allowedCallers?: Array<NonNullable<Tool['allowed_callers']>[number]>;
  /** Does the work. Throwing gives the model an `is_error` result with the message; it never fails the workflow. */
  run(input: z.output<S>, context: ToolContext): Promise<ToolOutput>;
}

/** A defined tool: its spec, plus what the worker derives from it. */
export interface ToolDefinition<S extends z.ZodObject = z.ZodObject> extends ToolSpec<S> {
  approval: ApprovalPolicy<z.output<S>>;
  timeoutMs: number;
  /** The API's tool definition (JSON Schema input; transformed for strict mode with `strict`). */
  toApiTool(): Tool;
  /** The input schema as JSON Schema, every constraint kept (what an operator's edited input is checked against). */
  inputJsonSchema: Record<string, unknown>;
  /** Whether this validated input needs approval. */
  needsApproval(input: z.output<S>): boolean;
}

/**
 * Defines a tool: one object with its schema, effect, approval policy and `run`.
 *
 * ```ts
 * export const getWeather = defineTool({
 *   name: 'get_weather',
 *   description: 'Current weather for a city',
 *   input: z.object({ location: z.string() }),
 *   effect: 'read',
 *   run: async ({ location }) => ({ location, tempC: 21 }),
 * });
 * ```
 */
export function defineTool<S extends z.ZodObject>(spec: ToolSpec<S>): ToolDefinition<S> {
  if (!TOOL_NAME_PATTERN.test(spec.name))
    throw new Error(`tool name ${JSON.stringify(spec.name)} must match ${TOOL_NAME_PATTERN}`);
  const approval = spec.approval ?? (spec.effect === 'write' ? 'always' : 'never');
  const schema = z.toJSONSchema(spec.input, { target: 'draft-2020-12', io: 'input' });
  if (schema.type !== 'object') throw new Error(`tool ${spec.name}: input must be an object schema`);
  const inputSchema = (spec.strict ? strictSchema(spec.name, schema) : schema) as Tool['input_schema'];
  const inputExamples = checkedInputExamples(spec.name, spec.input, spec.inputExamples);
  checkApproverRules(`tool ${spec.name}`, spec);
  return {
    ...spec,
    approval,
    timeoutMs: spec.timeoutMs ?? 60_000,
    inputJsonSchema: schema,
    toApiTool: () => ({
      name: spec.name,
      description: spec.description,
      input_schema: inputSchema,
      ...(spec.strict && { strict: true }),
      ...(inputExamples && { input_examples: inputExamples }),
      ...(spec.allowedCallers?.length && { allowed_callers: spec.allowedCallers }),
      ...(spec.eagerInputStreaming === false ? {} : { eager_input_streaming: true }),
    }),
    needsApproval: (input) => approvalRequired(approval, input),
  };
}

/** The SDK's strict-mode transform of a tool's schema; one it cannot transform is refused at definition. */
function strictSchema(name: string, schema: Record<string, unknown>): Record<string, unknown> {
  try {
    return transformJSONSchema(schema);
  } catch (err) {
    throw new Error(`tool ${name}: strict: ${(err as Error).message}`);
  }
}
