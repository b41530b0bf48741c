/**
 * The CLI's decisions through the ops API, as an operator: with `OPS_URL` and `OPS_OPERATOR_TOKEN`
 * (the token `agent operators add` printed), `approve`, `reject`, `resume`, `end`, `budget` and
 * `compact` are POSTed to the ops server with that token, which records them under the operator's name,
 * groups and role (a viewer's are refused). Without them the CLI talks to Temporal directly: an
 * administrator's access, recorded on the `cli` channel under the name it gives.
 */
import { UPDATE_RETRIES_HEADER } from '../ops/update-retries';
import type { RecordedDecision, DecisionRequest } from '../api/approvals';
import type {
  Budget,
  CompactionView,
  CompactRequest,
  ConversationStatus,
  RaiseBudgetRequest,
} from '../api/conversation';
import { quote } from '../api/bounds';
import type { AgentClient } from '../client';
import { AgentError, type AgentErrorCode } from '../client/errors';
import type { BudgetResponse, CompactResponse, DecisionResponse } from '../ops/server';
import type { StatusResponse } from '../ops/conversation-actions';

/** What an operator does to a conversation: the client's methods the CLI's decisions use. */
export type OperatorActions = Pick<AgentClient, 'decide' | 'resume' | 'end' | 'raiseBudget' | 'compact'>;

/** The commands that go through the ops API when it is configured. */
export const OPS_COMMANDS = new Set(['approve', 'reject', 'resume', 'end', 'budget', 'compact']);

/** Ops API statuses as the client's error codes (the CLI's exit codes follow). */
const CODE_OF: Record<number, AgentErrorCode> = {
  400: 'invalid',
  401: 'refused',
  403: 'refused',
  404: 'not_found',
  409: 'refused',
  413: 'invalid',
  422: 'refused',
  429: 'unavailable',
  503: 'unavailable',
};

/**
 * {@link OperatorActions} over the ops API. `by` is not sent: the server records the token's operator.
 * Decisions, resumes, ends, budget raises and compactions each are one POST, answered as the client
 * answers them; a refusal (403 for a viewer, 422 for the conversation's validator) is an
 * {@link AgentError} with the server's message.
 */
export class OpsApi implements OperatorActions {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
    private readonly timeoutMs = 40_000,
  ) {}

  async decide(
    workflowId: string,
    decisions: DecisionRequest | DecisionRequest[],
  ): Promise<RecordedDecision[]> {
    const recorded: RecordedDecision[] = [];
    for (const d of Array.isArray(decisions) ? decisions : [decisions]) {
      const { toolUseId, decision, input, reason } = d;
      const body = { toolUseId, decision, ...(input && { input }), ...(reason !== undefined && { reason }) };
      recorded.push((await this.post<DecisionResponse>(workflowId, 'decisions', body)).decision);
    }
    return recorded;
  }

  async resume(workflowId: string, _by?: string, note?: string): Promise<ConversationStatus> {
    return (await this.post<StatusResponse>(workflowId, 'resume', note === undefined ? {} : { note })).status;
  }

  async end(workflowId: string, _by?: string, reason?: string): Promise<ConversationStatus> {
    return (await this.post<StatusResponse>(workflowId, 'end', reason === undefined ? {} : { reason }))
      .status;
  }

  async raiseBudget(workflowId: string, { by: _by, ...request }: RaiseBudgetRequest): Promise<Budget> {
    return (await this.post<BudgetResponse>(workflowId, 'budget', defined(request))).budget;
  }

  async compact(workflowId: string, { by: _by, ...request }: CompactRequest = {}): Promise<CompactionView> {
    return (await this.post<CompactResponse>(workflowId, 'compact', defined(request))).compaction;
  }

  private async post<T>(workflowId: string, action: string, body: unknown): Promise<T> {
    const url = new URL(`/api/conversations/${encodeURIComponent(workflowId)}/${action}`, this.baseUrl);
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${this.token}`,
          'content-type': 'application/json',
          accept: 'application/json',
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new AgentError(
        'unavailable',
        `cannot reach the ops server at ${url.origin} (OPS_URL): ${(err as Error).message}`,
        { cause: err },
      );
    }
    const answer = (await res.json().catch(() => null)) as (T & { message?: string }) | null;
    const retries = res.headers.get(UPDATE_RETRIES_HEADER);
    if (retries)
      process.stderr.write(`agent: the ops server sent ${action} again ${retries} time(s) (see its log)\n`);
    if (res.ok && answer) return answer;
    const message = quote(answer?.message ?? `${res.status} ${res.statusText}`, 1000);
    const code = CODE_OF[res.status];
    if (code) throw new AgentError(code, `the ops server answered ${res.status}: ${message}`);
    throw new Error(`the ops server answered ${res.status}: ${message}`);
  }
}

/** The request without its undefined fields (the ops API's bodies are strict). */
function defined<T extends object>(request: T): Partial<T> {
  return Object.fromEntries(Object.entries(request).filter(([, v]) => v !== undefined)) as Partial<T>;
}
