/**
 * Crash scenarios. Each runs a conversation twice on the same stack: once fault-free, once with a
 * fault injected at a point the driver observes from outside (what the fake Messages API received,
 * what the tool's store holds, the conversation's state). Then it checks that the faulted conversation
 * completed, that its transcript equals the fault-free one (ids and times aside), that each side
 * effect happened exactly once, and that the model saw no request beyond the documented retry. A
 * sub-agent case also checks that the parent started exactly one child conversation, that the child's
 * tool ran once and its transcript matches too, and that the parent got the child's answer.
 */
import type { ToolResultBlockParam } from '@anthropic-ai/sdk/resources/messages';
import type { ConversationResult, ConversationState, MessageParam } from '../../src/api/conversation';
import type { PendingApprovalItem } from '../../src/client';
import { reply, type FakeHandler, type FakeReply } from '../../src/testing/fake-claude';
import { CHILD_AGENT, PARENT_AGENT } from './crash-agents';
import { CrashStack, sleep, until } from './stack';

const ARTICLE = {
  abstract: 'Durable execution lets agents survive crashes without repeating side effects.',
  meta: { word_count: 1500, review: 'Convincing.' },
};
const PREFACE =
  'Let me save this article for you. I will store the abstract and the review metadata now, so nothing is lost. ';

/**
 * The model of a "save an article" conversation: a slowly streamed tool call, then a final answer.
 * `retryStreamMs` paces the tool call when it is asked again (after a kill), if it should differ.
 */
export function saveScript(
  options: { streamMs?: number; retryStreamMs?: number; answerFirstByteMs?: number } = {},
): FakeHandler {
  const latency = { betweenEventsMs: options.streamMs ?? 60 };
  return (request) => {
    const last = request.body.messages.at(-1)!;
    const answered = Array.isArray(last.content) && last.content.some((b) => b.type === 'tool_result');
    if (answered)
      return {
        ...reply.text('The article is saved.', { chunkSize: 6 }),
        latency: { ...latency, firstByteMs: options.answerFirstByteMs },
      };
    return {
      ...reply.toolUse(
        { name: 'save_article', input: ARTICLE, id: 'toolu_save_1' },
        { text: PREFACE, chunkSize: 4 },
      ),
      latency:
        request.index > 1 ? { betweenEventsMs: options.retryStreamMs ?? latency.betweenEventsMs } : latency,
    };
  };
}

/** A chain of pause_turn continuations (a server tool loop), then the answer. */
export function pauseScript(pauses = 3): FakeHandler {
  return (request) => {
    const last = request.body.messages.at(-1)!;
    const done =
      last.role === 'assistant' && Array.isArray(last.content)
        ? last.content.filter((b) => b.type === 'server_tool_use').length
        : 0;
    const latency = { betweenEventsMs: 80 };
    if (done >= pauses)
      return { ...reply.text('Here is what the searches found.', { chunkSize: 4 }), latency };
    const n = done + 1;
    const r: FakeReply = reply.stop(
      'pause_turn',
      [
        { type: 'text', text: `Searching, step ${n}. ` },
        {
          type: 'server_tool_use',
          id: `srvtoolu_${n}`,
          name: 'web_search',
          input: { query: `durable agents ${n}` },
        },
        { type: 'web_search_tool_result', tool_use_id: `srvtoolu_${n}`, content: [] },
      ],
      { chunkSize: 4 },
    );
    return { ...r, latency };
  };
}

/** The parent's call of its sub-agent: the child conversation's id derives from it (sub-agents.ts). */
export const DELEGATE_CALL_ID = 'toolu_delegate_1';

/** The child conversation a sub-agent case's parent starts. */
export function childOf(workflowId: string): string {
  return `${workflowId}.${DELEGATE_CALL_ID}`;
}

/**
 * The parent agent's model: hands the article to the writer (a sub-agent call), then passes the
 * writer's answer on. It streams fast: the kill points of the sub-agent cases are in the child.
 */
export function delegateScript(): FakeHandler {
  const task = `Save this article: "${ARTICLE.abstract}" (review: ${ARTICLE.meta.review})`;
  const latency = { betweenEventsMs: 10 };
  return (request) => {
    const last = request.body.messages.at(-1)!;
    const result = Array.isArray(last.content)
      ? (last.content.find((b) => b.type === 'tool_result') as ToolResultBlockParam | undefined)
      : undefined;
    if (result) return { ...reply.text(`The writer says: ${textOf(result)}`, { chunkSize: 8 }), latency };
    return {
      ...reply.toolUse(
        { name: CHILD_AGENT, input: { task }, id: DELEGATE_CALL_ID },
        { text: 'I will ask the writer to save it. ', chunkSize: 8 },
      ),
      latency,
    };
  };
}

/** A tool result's text (its string content, or its text blocks joined). */
function textOf(result: ToolResultBlockParam): string {
  if (typeof result.content === 'string') return result.content;
  return (result.content ?? []).map((b) => (b.type === 'text' ? b.text : '')).join('');
}

/** The tool_result block answering `toolUseId` in a transcript. */
function toolResultIn(messages: MessageParam[], toolUseId: string): ToolResultBlockParam | undefined {
  for (const message of messages) {
    if (message.role !== 'user' || !Array.isArray(message.content)) continue;
    for (const block of message.content)
      if (block.type === 'tool_result' && block.tool_use_id === toolUseId) return block;
  }
  return undefined;
}

export interface CaseResult {
  name: string;
  ok: boolean;
  problems: string[];
  baselineRequests: number;
  requests: number;
  sideEffects: number;
  /** Child conversations the faulted run's parent started (sub-agent cases). */
  childConversations?: number;
  /** From the kill to the retried model request (mid-stream kills). */
  recoveryMs?: number;
  ms: number;
}

interface CaseSpec {
  name: string;
  script: () => FakeHandler;
  input: Record<string, unknown>;
  /** Side effects expected (articles saved). */
  sideEffects: number;
  /** Extra model requests the fault may cause (a retried call). */
  extraRequests: number;
  /** Approve pending calls automatically (default true); in a sub-agent case, the child's. */
  autoApprove?: boolean;
  /**
   * The conversation talks to the parent agent, which hands the task to a sub-agent: the child's
   * model. Requests and side effects are then counted over the parent and the child.
   */
  subAgent?: { script: () => FakeHandler };
  workerOptions?: Parameters<CrashStack['startWorker']>[0];
  /** Injects the fault; may return a recovery time. */
  inject(stack: CrashStack, workflowId: string): Promise<number | void>;
}

/** Conversations' transcripts, with what differs between two runs by nature (ids, times) masked. */
export function normalize(messages: MessageParam[]): string {
  return JSON.stringify(messages)
    .replace(/article_[0-9a-f]+/g, 'article_ID')
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g, 'TIME');
}

/**
 * Approves the conversation's save_article call once it waits, until `stop` is set. It watches the
 * AgentPendingApprovals search attribute rather than querying the workflow: a query that meets an
 * update in the same workflow task (likely while a crashed worker's workflows recover) trips an SDK
 * 1.24 bug that takes the worker down (see src/worker.ts). It decides by the id the script gave the
 * call; a decision sent again is answered, not applied twice.
 */
export function autoApprove(stack: CrashStack, workflowId: string, stop: { done: boolean }): Promise<void> {
  return (async () => {
    while (!stop.done) {
      try {
        const description = await stack.agent.client.workflow.getHandle(workflowId).describe();
        const pending = Number(description.searchAttributes.AgentPendingApprovals?.[0] ?? 0);
        if (pending > 0) {
          await withTimeout(
            stack.agent.decide(workflowId, {
              toolUseId: 'toolu_save_1',
              decision: 'approve',
              decidedBy: 'crash-test',
            }),
            5000,
          );
        }
      } catch {
        // Worker or server down for a moment, or a decision the conversation could not take yet: again.
      }
      await sleep(250);
    }
  })();
}

async function runConversation(
  stack: CrashStack,
  spec: CaseSpec,
  workflowId: string,
  inject?: CaseSpec['inject'],
) {
  const childId = spec.subAgent ? childOf(workflowId) : undefined;
  stack.fake.script(workflowId, spec.script());
  if (childId) stack.fake.script(childId, spec.subAgent!.script());
  await stack.agent.startConversation({ model: 'claude-sonnet-5-5', ...spec.input } as never, { workflowId });
  const stop = { done: false };
  // The fault-free run is always approved automatically; a faulted case may decide itself.
  const approver =
    inject && spec.autoApprove === false
      ? Promise.resolve()
      : autoApprove(stack, childId ?? workflowId, stop);
  const recovery = inject ? await inject(stack, workflowId) : undefined;
  await until(
    `${workflowId} to complete`,
    async () => {
      try {
        return (await stack.agent.client.workflow.getHandle(workflowId).describe()).status.name !== 'RUNNING';
      } catch {
        return false;
      }
    },
    180_000,
  );
  stop.done = true;
  await approver;
  const result = await stack.agent.client.workflow.getHandle(workflowId).result();
  const state: ConversationState = await stack.agent.getState(workflowId);
  const child = childId ? await childRun(stack, workflowId, childId) : undefined;
  const ids = childId ? [workflowId, childId] : [workflowId];
  let requests = 0;
  let sideEffects = 0;
  for (const id of ids) {
    requests += stack.fake.requestsFor(id).length;
    sideEffects += (await stack.articles(id)).length;
  }
  return { result, state, child, requests, sideEffects, recovery: recovery ?? undefined };
}

/** What became of a sub-agent call: the child conversations that exist, and the one expected. */
interface ChildRun {
  /** Every workflow run whose id starts with the parent's id and a dot (`workflowId/runId`). */
  runs: string[];
  /** StartChildWorkflowExecutionInitiated events in the parent's history. */
  starts: number;
  result: ConversationResult;
  state: ConversationState;
  /** Attempts of the child's runTool activities, over all of them (each attempt runs the tool). */
  toolAttempts: number;
}

async function childRun(stack: CrashStack, parentId: string, childId: string): Promise<ChildRun> {
  const workflow = stack.agent.client.workflow;
  const runs: string[] = [];
  // Visibility is written after the fact: give it a moment to show the child.
  await until(
    `the child conversations of ${parentId} to be listed`,
    async () => {
      runs.length = 0;
      for await (const wf of workflow.list({ query: `WorkflowId STARTS_WITH "${parentId}."` }))
        runs.push(`${wf.workflowId}/${wf.runId}`);
      return runs.length > 0;
    },
    10_000,
  ).catch(() => undefined);
  const parentEvents = (await workflow.getHandle(parentId).fetchHistory()).events ?? [];
  const starts = parentEvents.filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes).length;
  const handle = workflow.getHandle(childId);
  const result = (await handle.result()) as ConversationResult;
  const state = await stack.agent.getState(childId);
  const events = (await handle.fetchHistory()).events ?? [];
  const toolActivities = new Set(
    events
      .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runTool')
      .map((e) => String(e.eventId)),
  );
  const toolAttempts = events
    .filter(
      (e) =>
        e.activityTaskStartedEventAttributes &&
        toolActivities.has(String(e.activityTaskStartedEventAttributes.scheduledEventId)),
    )
    .reduce((sum, e) => sum + (e.activityTaskStartedEventAttributes!.attempt ?? 1), 0);
  return { runs, starts, result, state, toolAttempts };
}

/** Runs one case: fault-free, then faulted, and compares. */
export async function runCase(stack: CrashStack, spec: CaseSpec, runId: string): Promise<CaseResult> {
  const started = Date.now();
  const problems: string[] = [];
  const base = await runConversation(stack, spec, `crash-${spec.name}-${runId}-baseline`);
  const fault = await runConversation(stack, spec, `crash-${spec.name}-${runId}-fault`, spec.inject);
  if (fault.result.status !== 'completed') problems.push(`did not complete: ${fault.result.status}`);
  if (normalize(fault.state.messages) !== normalize(base.state.messages)) {
    problems.push(
      `transcript differs from the fault-free run:\n  fault-free: ${normalize(base.state.messages).slice(0, 600)}\n  faulted:    ${normalize(fault.state.messages).slice(0, 600)}`,
    );
  }
  if (base.sideEffects !== spec.sideEffects)
    problems.push(`fault-free run saved ${base.sideEffects} articles, expected ${spec.sideEffects}`);
  if (fault.sideEffects !== spec.sideEffects)
    problems.push(`side effects: ${fault.sideEffects} articles saved, expected exactly ${spec.sideEffects}`);
  if (fault.requests > base.requests + spec.extraRequests) {
    problems.push(
      `the model saw ${fault.requests} requests; the fault-free run needed ${base.requests} (+${spec.extraRequests} allowed for the retry)`,
    );
  }
  if (base.child && fault.child) problems.push(...subAgentProblems(base, fault));
  return {
    name: spec.name,
    ok: problems.length === 0,
    problems,
    baselineRequests: base.requests,
    requests: fault.requests,
    sideEffects: fault.sideEffects,
    ...(fault.child && { childConversations: fault.child.runs.length }),
    ...(typeof fault.recovery === 'number' && { recoveryMs: fault.recovery }),
    ms: Date.now() - started,
  };
}

type Run = Awaited<ReturnType<typeof runConversation>>;

/**
 * A sub-agent case's own checks: one child conversation in each run, started once; the faulted child
 * completed with the fault-free child's transcript, its tool ran once; the parent's tool result is the
 * child's answer, and the parent's answer passes it on.
 */
function subAgentProblems(base: Run, fault: Run): string[] {
  const problems: string[] = [];
  for (const [label, run] of [
    ['fault-free', base],
    ['faulted', fault],
  ] as const) {
    const child = run.child!;
    if (child.runs.length !== 1 || child.starts !== 1)
      problems.push(
        `${label} run: ${child.runs.length} child conversation(s) [${child.runs.join(', ')}] and ${child.starts} child start(s) in the parent's history, expected exactly 1`,
      );
  }
  const child = fault.child!;
  if (child.result.status !== 'completed')
    problems.push(`the child did not complete: ${child.result.status}`);
  if (normalize(child.state.messages) !== normalize(base.child!.state.messages)) {
    problems.push(
      `the child's transcript differs from the fault-free run:\n  fault-free: ${normalize(base.child!.state.messages).slice(0, 600)}\n  faulted:    ${normalize(child.state.messages).slice(0, 600)}`,
    );
  }
  if (child.toolAttempts !== 1)
    problems.push(`the child's tool ran ${child.toolAttempts} time(s) (runTool attempts), expected once`);
  const answer = child.result.lastText.trim();
  const result = toolResultIn(fault.state.messages, DELEGATE_CALL_ID);
  if (!answer) problems.push('the child ended without an answer');
  if (!result || result.is_error || textOf(result) !== answer)
    problems.push(
      `the parent's tool result is not the child's answer ${JSON.stringify(answer)}: ${JSON.stringify(result)}`,
    );
  if (!fault.result.lastText.includes(answer))
    problems.push(
      `the parent's answer does not pass the child's on: ${JSON.stringify(fault.result.lastText)}`,
    );
  return problems;
}

const saveInput = {
  message: 'Save this article about durable agents.',
  tools: ['save_article'],
  singleTurn: true,
};

/** A conversation with the parent agent, which hands the saving to its sub-agent. */
const delegateInput = {
  agent: PARENT_AGENT,
  message: 'Have this article about durable agents saved.',
  singleTurn: true,
};

/** The kill points of the issue, the same in a sub-agent, and the server restart. */
export const CASES: CaseSpec[] = [
  {
    name: 'mid-stream',
    script: () => saveScript(),
    input: saveInput,
    sideEffects: 1,
    extraRequests: 1,
    async inject(stack, workflowId) {
      await until('the model call to start streaming', () => stack.fake.requestsFor(workflowId).length >= 1);
      await sleep(500);
      const killedAt = Date.now();
      await stack.crashWorker();
      await until('the retried model call', () => stack.fake.requestsFor(workflowId).length >= 2, 60_000);
      return stack.fake.requestsFor(workflowId)[1].receivedAt - killedAt;
    },
  },
  {
    name: 'after-tool-write',
    script: () => saveScript(),
    input: saveInput,
    sideEffects: 1,
    extraRequests: 0,
    workerOptions: { holdAfterToolMs: 4000 },
    async inject(stack, workflowId) {
      await stack.crashWorker({ holdAfterToolMs: 4000 });
      // The tool's store says when the side effect happened; its activity has not completed yet.
      await until(
        'save_article to write',
        async () => (await stack.articles(workflowId)).length === 1,
        60_000,
      );
      await stack.crashWorker();
    },
  },
  {
    name: 'awaiting-approval',
    script: () => saveScript(),
    input: saveInput,
    sideEffects: 1,
    extraRequests: 0,
    autoApprove: false,
    async inject(stack, workflowId) {
      let state: ConversationState | undefined;
      await until('the approval request', async () => {
        state = await stack.agent.getState(workflowId, { from: 0, to: 0 }).catch(() => undefined);
        return state?.status === 'awaiting_approval';
      });
      await stack.crashWorker();
      await stack.agent.decide(workflowId, {
        toolUseId: state!.pendingApprovals[0].toolUseId,
        decision: 'approve',
        decidedBy: 'crash-test',
      });
    },
  },
  {
    name: 'pause-turn-chain',
    script: () => pauseScript(3),
    input: {
      message: 'Research durable agents.',
      serverTools: [{ type: 'web_search_20260209', name: 'web_search' }],
      singleTurn: true,
    },
    sideEffects: 0,
    extraRequests: 1,
    async inject(stack, workflowId) {
      await until('the second call of the chain', () => stack.fake.requestsFor(workflowId).length >= 2);
      await sleep(300);
      await stack.crashWorker();
    },
  },
  {
    name: 'between-tool-and-next-call',
    // The answer after the tool result waits 3 s before its first byte: the kill lands after the
    // tool's result is recorded and as the next model call begins, before the model said anything.
    script: () => saveScript({ answerFirstByteMs: 3000 }),
    input: saveInput,
    sideEffects: 1,
    extraRequests: 1,
    async inject(stack, workflowId) {
      await until(
        'the model call after the tool result',
        () => stack.fake.requestsFor(workflowId).length >= 2,
        60_000,
      );
      await stack.crashWorker();
    },
  },
  {
    name: 'sub-agent-mid-stream',
    // The kill lands while the child's model call streams: the child's call is retried on the new
    // worker, the parent (waiting on its child) only replays.
    script: () => delegateScript(),
    // ~2 s of stream, killed 0.5 s in; the retry streams fast.
    subAgent: { script: () => saveScript({ streamMs: 25, retryStreamMs: 10 }) },
    input: delegateInput,
    sideEffects: 1,
    extraRequests: 1,
    async inject(stack, workflowId) {
      const childId = childOf(workflowId);
      await until('the child model call to stream', () => stack.fake.requestsFor(childId).length >= 1);
      await sleep(500);
      const killedAt = Date.now();
      await stack.crashWorker();
      await until('the retried child call', () => stack.fake.requestsFor(childId).length >= 2, 60_000);
      // The kill must have cut the stream off, or this case tested nothing.
      if (!stack.fake.requestsFor(childId)[0].clientClosed)
        throw new Error("the kill did not interrupt the child's stream (it had finished)");
      return stack.fake.requestsFor(childId)[1].receivedAt - killedAt;
    },
  },
  {
    name: 'sub-agent-awaiting-approval',
    // The kill lands while the child waits for approval of its save_article call; the operator
    // approves (the child's conversation, as the approval queue shows it) after the restart.
    script: () => delegateScript(),
    subAgent: { script: () => saveScript({ streamMs: 10 }) },
    input: delegateInput,
    sideEffects: 1,
    extraRequests: 0,
    autoApprove: false,
    async inject(stack, workflowId) {
      const childId = childOf(workflowId);
      await until(
        'the child to ask for approval',
        async () =>
          (await stack.agent.getState(childId, { from: 0, to: 0 }).catch(() => undefined))?.status ===
          'awaiting_approval',
      );
      await stack.crashWorker();
      // The operator finds the child's call in the approval queue, linked to the parent, and decides it.
      let row: PendingApprovalItem | undefined;
      await until("the child's call in the approval queue", async () => {
        const queue = await stack.agent.listPendingApprovals().catch(() => []);
        row = queue.find((r) => r.workflowId === childId);
        return row !== undefined;
      });
      if (row!.name !== 'save_article' || row!.parent?.workflowId !== workflowId)
        throw new Error(`the approval queue shows the child's call wrongly: ${JSON.stringify(row)}`);
      await stack.agent.decide(childId, {
        toolUseId: row!.toolUseId,
        decision: 'approve',
        decidedBy: 'crash-test',
      });
    },
  },
  {
    name: 'server-restart',
    script: () => saveScript({ streamMs: 100 }),
    input: saveInput,
    sideEffects: 1,
    extraRequests: 1,
    async inject(stack, workflowId) {
      await until('the model call to start streaming', () => stack.fake.requestsFor(workflowId).length >= 1);
      await sleep(500);
      await stack.restartServer();
    },
  },
];

export interface RandomizedResult {
  conversations: number;
  kills: number;
  /** Worker processes that exited on their own (and were replaced, as a supervisor would). */
  unexpectedExits: number;
  lost: number;
  duplicateSideEffects: number;
  problems: string[];
  ms: number;
}

/** Many conversations at once, the worker killed at random moments. */
export async function runRandomized(
  stack: CrashStack,
  options: { conversations: number; kills: number; seed?: number },
): Promise<RandomizedResult> {
  const started = Date.now();
  let seed = options.seed ?? 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const ids = Array.from({ length: options.conversations }, (_, i) => `crash-random-${started}-${i}`);
  const reference = await runConversation(
    stack,
    {
      name: 'reference',
      script: () => saveScript({ streamMs: 40 }),
      input: saveInput,
      sideEffects: 1,
      extraRequests: 0,
      inject: async () => undefined,
    },
    `crash-random-${started}-reference`,
  );
  const stop = { done: false };
  for (const id of ids) {
    stack.fake.script(id, saveScript({ streamMs: 20 + Math.floor(random() * 80) }));
    await stack.agent.startConversation({ model: 'claude-sonnet-5-5', ...saveInput } as never, {
      workflowId: id,
    });
  }
  const approvers = ids.map((id) => autoApprove(stack, id, stop));
  const killsBefore = stack.counts.kills;
  const exitsBefore = stack.counts.unexpectedExits;
  for (let k = 0; k < options.kills; k++) {
    await sleep(1000 + random() * 4000);
    await stack.crashWorker();
  }
  const problems: string[] = [];
  let lost = 0;
  let duplicates = 0;
  for (const id of ids) {
    try {
      const result = await withTimeout(stack.agent.client.workflow.getHandle(id).result(), 240_000);
      const state = await stack.agent.getState(id);
      if (result.status !== 'completed') throw new Error(`status ${result.status}`);
      if (normalize(state.messages) !== normalize(reference.state.messages))
        problems.push(`${id}: transcript differs from the fault-free run`);
    } catch (err) {
      lost++;
      problems.push(`${id}: ${String(err)}`);
    }
    const saved = (await stack.articles(id)).length;
    if (saved > 1) duplicates += saved - 1;
    if (saved < 1) problems.push(`${id}: no article saved`);
  }
  stop.done = true;
  await Promise.all(approvers);
  return {
    conversations: ids.length,
    kills: stack.counts.kills - killsBefore,
    unexpectedExits: stack.counts.unexpectedExits - exitsBefore,
    lost,
    duplicateSideEffects: duplicates,
    problems,
    ms: Date.now() - started,
  };
}

/** Rejects if `promise` has not settled in `ms` (the promise itself goes on, unobserved). */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
