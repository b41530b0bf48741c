/**
 * Crash scenarios. Each runs a conversation twice on the same stack: once fault-free, once with a
 * fault injected at a point the driver observes from outside (what the fake Messages API received,
 * what the tool's store holds, the conversation's state). Then it checks that the faulted conversation
 * completed, that its transcript equals the fault-free one (ids and times aside), that each side
 * effect happened exactly once, and that the model saw no request beyond the documented retry.
 */
import type { ConversationState, MessageParam } from '../../src/api/conversation';
import { reply, type FakeHandler, type FakeReply } from '../../src/fake-claude';
import { CrashStack, sleep, until } from './stack';

const ARTICLE = {
  abstract: 'Durable execution lets agents survive crashes without repeating side effects.',
  meta: { word_count: 1500, review: 'Convincing.' },
};
const PREFACE =
  'Let me save this article for you. I will store the abstract and the review metadata now, so nothing is lost. ';

/** The model of a "save an article" conversation: a slowly streamed tool call, then a final answer. */
export function saveScript(options: { streamMs?: number; answerFirstByteMs?: number } = {}): FakeHandler {
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
      latency,
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

export interface CaseResult {
  name: string;
  ok: boolean;
  problems: string[];
  baselineRequests: number;
  requests: number;
  sideEffects: number;
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
  /** Approve pending calls automatically (default true). */
  autoApprove?: boolean;
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
  stack.fake.script(workflowId, spec.script());
  await stack.agent.startConversation({ model: 'claude-sonnet-5-5', ...spec.input } as never, { workflowId });
  const stop = { done: false };
  // The fault-free run is always approved automatically; a faulted case may decide itself.
  const approver =
    inject && spec.autoApprove === false ? Promise.resolve() : autoApprove(stack, workflowId, stop);
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
  return {
    result,
    state,
    requests: stack.fake.requestsFor(workflowId).length,
    sideEffects: (await stack.articles(workflowId)).length,
    recovery: recovery ?? undefined,
  };
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
  return {
    name: spec.name,
    ok: problems.length === 0,
    problems,
    baselineRequests: base.requests,
    requests: fault.requests,
    sideEffects: fault.sideEffects,
    ...(typeof fault.recovery === 'number' && { recoveryMs: fault.recovery }),
    ms: Date.now() - started,
  };
}

const saveInput = {
  message: 'Save this article about durable agents.',
  tools: ['save_article'],
  singleTurn: true,
};

/** The kill points of the issue, and the server restart. */
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
