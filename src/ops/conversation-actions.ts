/**
 * What an operator does to a conversation from the ops page besides deciding tool calls: the parked
 * ones (`GET /api/attention`, with why each is parked), resume, end and fork. Who did it is always the
 * signed-in identity; resume, end and fork need the approver role (a viewer gets 403) and, with a
 * session cookie, the CSRF header like every other state-changing route (src/ops/identity/auth.ts).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { MAX_REASON } from '../api/bounds';
import type { Attention, Budget, ConversationStatus } from '../api/conversation';
import {
  AgentError,
  type AgentClient,
  type ConversationSummary,
  type UnreadableConversation,
} from '../client';
import type { Auth } from './identity/auth';

/** A parked conversation: its row, and why it is parked (null when its state could not be read). */
export interface AttentionRow extends ConversationSummary {
  attention: Attention | null;
  /** Its budget's ceilings, when it has one (the page's raise form shows them). */
  budgetLimit: Budget | null;
}
/** `GET /api/attention`: the conversations parked in `needs_attention`, newest first. */
export interface AttentionResponse {
  conversations: AttentionRow[];
  unreadable: UnreadableConversation[];
}

// The message a fork starts with: text, as the page sends it (the client takes blocks too).
const MAX_FORK_MESSAGE = 256 * 1024;
const ResumeBodySchema = z.strictObject({ note: z.string().max(MAX_REASON).optional() });
const EndBodySchema = z.strictObject({ reason: z.string().trim().max(MAX_REASON).optional() });
const ForkBodySchema = z.strictObject({
  at: z.number().int().min(0).max(1e9),
  message: z.string().trim().min(1, 'the message is empty').max(MAX_FORK_MESSAGE).optional(),
});

/** `POST /api/conversations/:id/resume` takes this (the operator is the signed-in identity). */
export type ResumeBody = z.infer<typeof ResumeBodySchema>;
/** `POST /api/conversations/:id/end` takes this (the reason becomes the conversation's `endReason`). */
export type EndBody = z.infer<typeof EndBodySchema>;
/** `POST /api/conversations/:id/fork` takes this: the message index, and for a finished answer the next message. */
export type ForkBody = z.infer<typeof ForkBodySchema>;
/** `POST /api/conversations/:id/resume` and `/end`: the conversation's status afterwards. */
export interface StatusResponse {
  status: ConversationStatus;
}
/** `POST /api/conversations/:id/fork`: the new conversation, linked to its origin. */
export interface ForkResponse {
  workflowId: string;
  forkedFrom: { workflowId: string; index: number };
}

export interface ConversationActionsOptions {
  agent: AgentClient;
  auth: Auth;
  /** The route's conversation id, checked like every other route's; undefined after a 400. */
  workflowIdOf: (request: FastifyRequest, reply: FastifyReply) => string | undefined;
  badRequest: (reply: FastifyReply, error: z.ZodError) => FastifyReply;
  /**
   * Runs an update of a conversation the way the server's feeds want it (never alongside their state
   * query; a read and a push follow it). Default: just runs it.
   */
  update?: <T>(workflowId: string, run: () => Promise<T>) => Promise<T>;
}

/** Registers the routes on the ops API (inside its authenticated scope). */
export function registerConversationActions(api: FastifyInstance, options: ConversationActionsOptions): void {
  const { agent, auth, workflowIdOf, badRequest } = options;
  const update = options.update ?? (<T>(_id: string, run: () => Promise<T>) => run());
  const approver = { preHandler: auth.requireRole('approver') };
  const parked = new ParkedReader(agent);

  api.get('/api/attention', async () => (await parked.read()) satisfies AttentionResponse);

  // Resuming retries what parked it (a model call, a compaction): it can spend money, like a decision.
  api.post('/api/conversations/:id/resume', approver, async (request, reply) => {
    const id = workflowIdOf(request, reply);
    if (id === undefined) return reply;
    const body = ResumeBodySchema.safeParse(request.body ?? {});
    if (!body.success) return badRequest(reply, body.error);
    const status = await update(id, () => agent.resume(id, auth.identityOf(request).name, body.data.note));
    return { status } satisfies StatusResponse;
  });

  api.post('/api/conversations/:id/end', approver, async (request, reply) => {
    const id = workflowIdOf(request, reply);
    if (id === undefined) return reply;
    const body = EndBodySchema.safeParse(request.body ?? {});
    if (!body.success) return badRequest(reply, body.error);
    const operator = auth.identityOf(request).name;
    const reason = body.data.reason ? `${body.data.reason} (ended by ${operator})` : `ended by ${operator}`;
    const status = await update(id, () => agent.end(id, operator, reason.slice(0, MAX_REASON)));
    return { status } satisfies StatusResponse;
  });

  // A fork starts a new conversation (model calls, tools): an approver's act.
  api.post('/api/conversations/:id/fork', approver, async (request, reply) => {
    const id = workflowIdOf(request, reply);
    if (id === undefined) return reply;
    const body = ForkBodySchema.safeParse(request.body);
    if (!body.success) return badRequest(reply, body.error);
    const { at, message } = body.data;
    const by = auth.identityOf(request).name;
    const started = await agent.fork(id, { at, by, ...(message !== undefined && { message }) });
    return {
      workflowId: started.workflowId,
      forkedFrom: { workflowId: id, index: at },
    } satisfies ForkResponse;
  });
}

/**
 * The parked conversations with why each is parked. Listed from the visibility store; a conversation's
 * state is read again only when its last activity changed (or after a minute), so open pages do not
 * multiply workflow queries; concurrent requests share one read.
 */
class ParkedReader {
  private readonly cache = new Map<string, { key: string; at: number; row: AttentionRow }>();
  private inFlight: Promise<AttentionResponse> | undefined;

  constructor(
    private readonly agent: AgentClient,
    private readonly maxAgeMs = 60_000,
  ) {}

  read(): Promise<AttentionResponse> {
    this.inFlight ??= this.refresh().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async refresh(): Promise<AttentionResponse> {
    const rows = await this.agent.listConversations({ status: 'needs_attention', limit: 200 });
    const unreadable: UnreadableConversation[] = [];
    const now = Date.now();
    const listed = new Set(rows.map((r) => r.workflowId));
    for (const id of this.cache.keys()) if (!listed.has(id)) this.cache.delete(id);
    const conversations = await Promise.all(
      rows.map(async (row): Promise<AttentionRow> => {
        const key = `${row.lastActivity ?? ''}|${row.status}`;
        const cached = this.cache.get(row.workflowId);
        if (cached && cached.key === key && now - cached.at < this.maxAgeMs) return cached.row;
        try {
          const state = await this.agent.getState(row.workflowId, { from: 0, to: 0 });
          const read: AttentionRow = {
            ...row,
            usage: state.usage,
            attention: state.attention ?? null,
            budgetLimit: state.budget?.limit ?? null,
          };
          this.cache.set(row.workflowId, { key, at: now, row: read });
          return read;
        } catch (err) {
          const code = err instanceof AgentError ? err.code : 'failed';
          unreadable.push({
            workflowId: row.workflowId,
            code,
            error: String((err as Error).message).slice(0, 300),
          });
          return { ...row, attention: null, budgetLimit: null };
        }
      }),
    );
    return { conversations, unreadable };
  }
}
