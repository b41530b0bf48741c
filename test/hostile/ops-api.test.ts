/**
 * The ops API against hostile and careless input: the real ops server (its factory, a real port, real
 * HTTP) over a real Temporal dev server and worker. Ids of every length and shape, bodies deep, huge or
 * malformed, operator names in every encoding, floods of headers, stream lines with missing fields,
 * conversations that cannot be read, and many pages at once. Every answer must be `{error, message}`
 * (or the data) with the security headers and a bounded message, never a 5xx but a 503; every
 * conversation a case touches must still answer its state query and be endable afterwards.
 *
 * `HOSTILE_FUZZ_RUNS` sets the fuzz passes' runs (default 200) and `HOSTILE_FUZZ_SEED` their seed
 * (default 42); `npm run fuzz:ops` runs 5,000.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, type WorkflowClientInterceptor, type WorkflowHandle } from '@temporalio/client';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { CONVERSATION_WORKFLOW, stateQuery, type ConversationState } from '../../src/api/conversation';
import { AGENT_PENDING_APPROVALS } from '../../src/api/search-attributes';
import { AgentClient } from '../../src/client';
import type { OpsErrorLogEntry } from '../../src/ops/error-log';
import { createOpsServer } from '../../src/ops/server';
import { quietBundlerLogger } from '../../src/testing/temporal-env';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';
import { scriptSaveArticle } from '../support/agents';
import {
  call,
  expectError,
  expectSecurityHeaders,
  rawHttp,
  rawRequest,
  TOKEN,
  type Answer,
} from '../support/ops-http';

const FUZZ_RUNS = Number(process.env.HOSTILE_FUZZ_RUNS ?? 200);
const FUZZ_SEED = Number(process.env.HOSTILE_FUZZ_SEED ?? 42);

let t: AgentEnv;
let agent: AgentClient;
let ops: FastifyInstance;
let base: string;
/** Workflow queries the ops server made (its client's interceptor counts them). */
let queries = 0;
const logged: OpsErrorLogEntry[] = [];

beforeAll(async () => {
  t = await startAgentEnv();
  const counter: WorkflowClientInterceptor = {
    async query(input, next) {
      queries++;
      return next(input);
    },
  };
  agent = new AgentClient({
    client: new Client({ connection: t.env.connection, interceptors: { workflow: [counter] } }),
    taskQueue: t.taskQueue,
    queryTimeoutMs: 1500,
  });
  ops = await createOpsServer({
    agent,
    token: TOKEN,
    namespace: 'default',
    errorLog: (entry: OpsErrorLogEntry) => logged.push(entry),
  } as Parameters<typeof createOpsServer>[0]);
  base = await ops.listen({ host: '127.0.0.1', port: 0 });
}, 120_000);

afterAll(async () => {
  await ops?.close();
  await t?.teardown();
});

// ── Conversations ────────────────────────────────────────────────────────────────────────────────────

let serial = 0;

interface Waiting {
  handle: WorkflowHandle;
  workflowId: string;
  toolUseId: string;
}

/** A conversation waiting for approval of a save_article call (id as given, or unique). */
async function waiting(workflowId?: string): Promise<Waiting> {
  const handle = await t.start({ message: 'Save the article', tools: ['save_article'] }, workflowId);
  const toolUseId = `toolu_hostile_${++serial}_${Date.now()}`;
  scriptSaveArticle(t.fake, handle.workflowId, { toolUseId, abstract: `Article ${serial}`, answer: 'Done.' });
  await t.waitFor(handle, (s) => s.status === 'awaiting_approval');
  return { handle, workflowId: handle.workflowId, toolUseId };
}

const stateOf = (w: Waiting): Promise<ConversationState> => w.handle.query(stateQuery, {});

/** Nothing lost: it still answers its state query, still waiting on the same call, nothing recorded. */
async function stillWaiting(w: Waiting): Promise<void> {
  const state = await stateOf(w);
  expect(state.status).toBe('awaiting_approval');
  expect(state.pendingApprovals.map((p) => p.toolUseId)).toEqual([w.toolUseId]);
  expect(state.decisions).toEqual([]);
}

/** It can be ended, and ends. */
async function endsCleanly(w: Waiting): Promise<void> {
  await agent.end(w.workflowId, 'hostile-test', 'done');
  await w.handle.result();
  expect((await w.handle.describe()).status.name).toBe('COMPLETED');
}

const decide = (workflowId: string, body: unknown, operator = 'ivy') =>
  call(base, `/api/conversations/${encodeURIComponent(workflowId)}/decisions`, {
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'x-ops-operator': operator },
  });

/** An object nested `levels` deep, as JSON text (too deep for JSON.stringify's own recursion). */
const deepJson = (levels: number): string => `${'{"d":'.repeat(levels)}1${'}'.repeat(levels)}`;
/** A decision body with an edit input nested `levels` deep, as JSON text. */
const deepEdit = (toolUseId: string, levels: number): string =>
  `{"toolUseId":${JSON.stringify(toolUseId)},"decision":"edit","input":${deepJson(levels)}}`;

// ── Ids ──────────────────────────────────────────────────────────────────────────────────────────────

describe('conversation ids', () => {
  const unknown = (length: number) => `missing-${'x'.repeat(length - 8)}`;
  const routes: Array<[string, (id: string) => Promise<Answer>]> = [
    ['GET state', (id) => call(base, `/api/conversations/${encodeURIComponent(id)}`)],
    ['POST decision', (id) => decide(id, { toolUseId: 'toolu_x', decision: 'approve' })],
  ];
  for (const [route, send] of routes) {
    for (const length of [101, 999, 1000])
      it(`${route}: an unknown id of ${length} characters is 404, not 414`, async () => {
        expectError(
          await send(unknown(length)),
          404,
          /no conversation with id missing-x+… \(\d+ characters\)/,
        );
      });
    it(`${route}: an id of 1,001 characters is refused with the limit and the security headers`, async () => {
      expectError(await send(unknown(1001)), 414, /at most 1000 characters/);
    });
    it(`${route}: an id of 1,000 letters é (6,000 characters encoded) is 404, not 414`, async () => {
      expectError(await send('é'.repeat(1000)), 404, /no conversation with id é+…/);
    });
  }
  for (const length of [101, 1000])
    it(`GET live: an id of ${length} characters streams, with the CSP`, async () => {
      const controller = new AbortController();
      const res = await fetch(`${base}/api/conversations/${unknown(length)}/live`, {
        headers: { authorization: `Bearer ${TOKEN}` },
        signal: controller.signal,
      });
      const headers: Record<string, string> = {};
      res.headers.forEach((v, k) => (headers[k] = v));
      controller.abort();
      expect(res.status).toBe(200);
      expect(headers['content-type']).toMatch(/^text\/event-stream/);
      expectSecurityHeaders({ status: 200, headers, text: '' });
    });
  it('GET live: an id of 1,001 characters is refused with the limit', async () => {
    expectError(await call(base, `/api/conversations/${unknown(1001)}/live`), 414, /at most 1000/);
  });

  // Real conversations whose ids the CLI accepts: over 100 characters, with slashes, percent signs,
  // spaces and latin-1 letters. Each is shown, decided through the API, and its state read after.
  const ids: Array<[string, () => string]> = [
    ['1,000 characters', () => `c-${Date.now()}-`.padEnd(1000, 'k')],
    ['slashes, 150 characters', () => `tenant/acme/${Date.now()}/`.padEnd(150, 'x/')],
    ['percent signs and spaces', () => `100% sure %2F not a slash ${Date.now()} `.padEnd(140, '%')],
    ['latin-1 letters', () => `café-${Date.now()}-`.padEnd(130, 'é')],
  ];
  for (const [what, id] of ids)
    it(`a conversation whose id has ${what} is shown and decided`, async () => {
      const w = await waiting(id());
      const shown = await call(base, `/api/conversations/${encodeURIComponent(w.workflowId)}`);
      expect(shown.status).toBe(200);
      expect(JSON.parse(shown.text)).toMatchObject({ workflowId: w.workflowId, status: 'awaiting_approval' });
      const decided = await decide(w.workflowId, { toolUseId: w.toolUseId, decision: 'approve' });
      expect(decided.status).toBe(200);
      // OPS_TOKEN is the admin credential: its label is recorded behind the mark.
      expect(JSON.parse(decided.text)).toMatchObject({
        decision: { decidedBy: 'admin:ops-token/ivy', decision: 'approve' },
      });
      const after = await t.waitFor(w.handle, (s) => s.status === 'idle');
      expect(after.decisions).toHaveLength(1);
      await agent.end(w.workflowId, 'hostile-test');
      await w.handle.result();
    });

  // Ids a model call cannot carry in its conversation-id header (NUL, newline, characters outside
  // latin-1): conversations without a first message, shown through the API and ended.
  const idleIds: Array<[string, () => string]> = [
    ['a NUL, a newline and a tab', () => `nul\u0000nl\ntab\t${Date.now()}-`.padEnd(120, 'n')],
    ['characters outside latin-1', () => `✓-😀-日本-${Date.now()}-`.padEnd(110, '😀')],
    ['a percent-encoded look-alike of another id', () => `look%2Falike%00${Date.now()}-`.padEnd(105, '%')],
  ];
  for (const [what, id] of idleIds)
    it(`a conversation whose id has ${what} is shown and can be ended`, async () => {
      const handle = await t.start({}, id());
      await t.waitFor(handle, (s) => s.status === 'idle');
      const shown = await call(base, `/api/conversations/${encodeURIComponent(handle.workflowId)}`);
      expect(shown.status).toBe(200);
      expect(JSON.parse(shown.text)).toMatchObject({ workflowId: handle.workflowId, status: 'idle' });
      await agent.end(handle.workflowId, 'hostile-test');
      await handle.result();
    });

  it('a malformed percent-encoding in the path is a 400 with the security headers', async () => {
    expectError(await call(base, '/api/conversations/%E0%A4%A'), 400, /not valid/);
  });
  it('an id that is not UTF-8 (%FF) is a 400 with the security headers', async () => {
    expectError(await call(base, '/api/conversations/%FF%FE'), 400, /not valid/);
  });
  it('an id with a NUL is refused or not found, never a 5xx', async () => {
    const answer = await call(base, '/api/conversations/a%00b');
    expect([400, 404]).toContain(answer.status);
    expectError(answer, answer.status);
  });
});

// ── Decision bodies ──────────────────────────────────────────────────────────────────────────────────

describe('decision bodies', () => {
  let w: Waiting;
  beforeAll(async () => {
    w = await waiting();
  });
  afterAll(async () => {
    await stillWaiting(w);
    await endsCleanly(w);
  });

  const cases: Array<[string, () => unknown, number, RegExp?]> = [
    ['an edit input nested 5,000 levels', () => deepEdit(w.toolUseId, 5000), 400, /nested deeper than/],
    ['an edit input nested 100,000 levels', () => deepEdit(w.toolUseId, 100_000), 400, /nested deeper than/],
    [
      'an edit input nested 70 levels (past the bound)',
      () => deepEdit(w.toolUseId, 70),
      400,
      /nested deeper than/,
    ],
    [
      'a reason that is an array nested 10,000 levels',
      () =>
        `{"toolUseId":"${w.toolUseId}","decision":"reject","reason":${'['.repeat(10_000)}${']'.repeat(10_000)}}`,
      400,
      /nested deeper than/,
    ],
    [
      'a toolUseId of 900 KB',
      () => ({ toolUseId: 'u'.repeat(900_000), decision: 'approve' }),
      400,
      /toolUseId/,
    ],
    [
      'a toolUseId of 257 characters',
      () => ({ toolUseId: 't'.repeat(257), decision: 'approve' }),
      400,
      /toolUseId/,
    ],
    [
      'a toolUseId of 300 KB of emoji',
      () => ({ toolUseId: '😀'.repeat(150_000), decision: 'reject', reason: 'no' }),
      400,
      /toolUseId/,
    ],
    [
      'an unknown key of 100 KB',
      () => `{"toolUseId":"${w.toolUseId}","decision":"approve","${'k'.repeat(100_000)}":1}`,
      400,
    ],
    [
      '10,000 unknown keys',
      () =>
        Object.fromEntries([
          ['toolUseId', w.toolUseId],
          ['decision', 'approve'],
          ...Array.from({ length: 10_000 }, (_, i) => [`key${i}`, i]),
        ]),
      400,
    ],
    [
      'a body that is not JSON',
      () => `{"toolUseId": "${w.toolUseId}", "decision": approve}`,
      400,
      /not valid JSON/,
    ],
    ['a body cut short', () => `{"toolUseId": "${w.toolUseId}"`, 400, /not valid JSON/],
  ];
  for (const [what, body, status, message] of cases)
    it(`${what}: ${status}, a short message, nothing decided`, async () => {
      expectError(await decide(w.workflowId, body()), status, message);
      await stillWaiting(w);
    });

  it('a content type of 4 KB is a 415 that does not echo it', async () => {
    const answer = await call(base, `/api/conversations/${w.workflowId}/decisions`, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': `text/${'p'.repeat(4000)}`, 'x-ops-operator': 'ivy' },
    });
    expectError(answer, 415);
    await stillWaiting(w);
  });
});

// ── The operator's name ──────────────────────────────────────────────────────────────────────────────

describe('the x-ops-operator header', () => {
  let w: Waiting;
  beforeAll(async () => {
    w = await waiting();
  });
  afterAll(async () => {
    await stillWaiting(w);
    await endsCleanly(w);
  });

  const accepted: Array<[string, string, string]> = [
    ['a UTF-8 name, percent-encoded', encodeURIComponent('José García-Núñez'), 'José García-Núñez'],
    ['an emoji sequence, percent-encoded', encodeURIComponent('👩‍💻 Ana Łukasz'), '👩‍💻 Ana Łukasz'],
  ];
  for (const [what, header, name] of accepted)
    it(`${what} is recorded as the name, not mojibake`, async () => {
      const fresh = await waiting();
      const answer = await decide(
        fresh.workflowId,
        { toolUseId: fresh.toolUseId, decision: 'approve' },
        header,
      );
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.text)).toMatchObject({ decision: { decidedBy: `admin:ops-token/${name}` } });
      const state = await t.waitFor(fresh.handle, (s) => s.status === 'idle');
      expect(state.decisions[0]).toMatchObject({ decidedBy: `admin:ops-token/${name}` });
      await agent.end(fresh.workflowId, 'hostile-test');
    });

  const refused: Array<[string, string]> = [
    ['an invalid UTF-8 sequence (%E9)', 'Jos%E9'],
    ['a malformed escape (%ZZ)', 'a%ZZb'],
    ['a lone percent sign', '100%'],
    ['a newline (%0A)', 'ivy%0Amallory'],
    ['a NUL (%00)', 'ivy%00'],
    ['a right-to-left override (%E2%80%AE)', 'ivy%E2%80%AEevil'],
    ['a blank name once decoded', '%20%20%09'],
    ['a name of 201 characters', 'n'.repeat(201)],
    ['101 emoji (202 UTF-16 units)', encodeURIComponent('😀'.repeat(101))],
    ['an 8 KB header', 'a'.repeat(8000)],
  ];
  for (const [what, header] of refused)
    it(`${what} is a 400, nothing decided`, async () => {
      expectError(
        await decide(w.workflowId, { toolUseId: w.toolUseId, decision: 'approve' }, header),
        400,
        /x-ops-operator|operator name/,
      );
      await stillWaiting(w);
    });

  for (const [what, bytes] of [
    ['raw UTF-8 bytes', Buffer.from('José', 'utf8')],
    ['a raw latin-1 byte', Buffer.from('Jos\xe9', 'latin1')],
  ] as const)
    it(`${what} are a 400 that says to percent-encode, not a mangled name`, async () => {
      const answer = await rawRequest(
        base,
        rawHttp(
          'POST',
          `/api/conversations/${w.workflowId}/decisions`,
          { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'x-ops-operator': bytes },
          JSON.stringify({ toolUseId: w.toolUseId, decision: 'approve' }),
        ),
      );
      expectError(answer, 400, /percent-encoded UTF-8/);
      await stillWaiting(w);
    });
});

// ── Errors the router and Node answer ────────────────────────────────────────────────────────────────

describe('errors made outside the routes', () => {
  // Every status the API answers carries the headers (these the route hooks always covered too).
  const statuses: Array<[number, string, () => Promise<Answer>]> = [
    [401, 'no token', () => call(base, '/api/approvals', { auth: false })],
    [
      403,
      'a cross-origin request',
      () => call(base, '/api/approvals', { headers: { origin: 'https://evil.example' } }),
    ],
    [404, 'no such route', () => call(base, '/api/nope')],
    [413, 'a body over 1 MiB', () => decide('x', `{"toolUseId":"${'x'.repeat(1_100_000)}"}`)],
    [
      415,
      'an XML body',
      () =>
        call(base, '/api/conversations/x/decisions', {
          method: 'POST',
          body: '<decision/>',
          headers: { 'content-type': 'application/xml', 'x-ops-operator': 'ivy' },
        }),
    ],
  ];
  for (const [status, what, send] of statuses)
    it(`${what}: a ${status} with the security headers`, async () => {
      expectError(await send(), status);
    });

  it('headers of 20 KB: a 431 with the security headers', async () => {
    const answer = await rawRequest(
      base,
      rawHttp('GET', '/api/session', { authorization: `Bearer ${TOKEN}`, 'x-flood': 'f'.repeat(20_000) }),
    );
    expectError(answer, 431, /headers are too large/);
  });
  it('2,000 headers of 10 bytes: a 431 with the security headers', async () => {
    const flood = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`x-h${i}`, 'vvvvvvvvvv']));
    expectError(await rawRequest(base, rawHttp('GET', '/api/session', flood)), 431);
  });
  it('a request line that is not HTTP: a 400 with the security headers', async () => {
    expectError(
      await rawRequest(base, 'GET /api/session HTTP/1.1 extra\r\nhost: x\r\n\r\n'),
      400,
      /not valid HTTP/,
    );
  });
  it('a URL of 12 KB on no route: a 404 that does not echo it', async () => {
    expectError(await call(base, `/nope/${'p'.repeat(12_000)}`), 404, /no route GET \/nope\/p+…/);
  });
});

// ── The live stream's publish route ─────────────────────────────────────────────────────────────────

describe('/stream/publish', () => {
  const publish = (lines: unknown[], contentType = 'application/x-ndjson') =>
    call(base, '/stream/publish', {
      method: 'POST',
      body: lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n'),
      headers: { 'content-type': contentType },
    });
  const start = (workflowId: string) => ({ workflowId, type: 'start', turn: 1, attempt: 1, at: Date.now() });
  const event = (workflowId: string, e: unknown) => ({ workflowId, type: 'event', event: e, at: Date.now() });
  const textBlock = (id: string) =>
    event(id, { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });

  const bad: Array<[string, (id: string) => unknown]> = [
    ['an event line without its event', (id) => ({ workflowId: id, type: 'event', at: 1 })],
    ['a block start without its block', (id) => event(id, { type: 'content_block_start', index: 0 })],
    ['a delta without its delta', (id) => event(id, { type: 'content_block_delta', index: 0 })],
    [
      'a text delta without its text',
      (id) => event(id, { type: 'content_block_delta', index: 0, delta: { type: 'text_delta' } }),
    ],
    [
      'a thinking delta whose text is a number',
      (id) =>
        event(id, { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 42 } }),
    ],
    ['a message delta without its delta', (id) => event(id, { type: 'message_delta' })],
    ['a block index of 5,000,000', (id) => event(id, { type: 'content_block_stop', index: 5_000_000 })],
    ['a start whose turn is a string', (id) => ({ ...start(id), turn: 'one' })],
    ['an end without ok', (id) => ({ workflowId: id, type: 'end', at: 1 })],
    ['a workflowId that is a number', () => ({ workflowId: 42, type: 'end', ok: true, at: 1 })],
    ['a line that is not JSON', () => '{"workflowId": "x", type: end}'],
  ];
  for (const [what, line] of bad)
    it(`${what}: skipped and counted; the good lines of the batch apply`, async () => {
      const id = `live-${++serial}`;
      const answer = await publish([
        start(id),
        textBlock(id),
        line(id),
        event(id, { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'ok' } }),
      ]);
      expect(answer.status).toBe(200);
      expectSecurityHeaders(answer);
      expect(JSON.parse(answer.text)).toMatchObject({ accepted: 3, skipped: 1, problems: [{ line: 3 }] });
      expect(answer.text.length).toBeLessThan(2048);
      // The hub still holds the call, with the good lines' text.
      const live = await firstLiveMessage(id);
      expect(live).toMatchObject({ type: 'snapshot', call: { blocks: [{ text: 'ok' }] } });
    });

  it('a JSON body instead of NDJSON: a 415', async () => {
    expectError(await publish([start('x')], 'application/json'), 415, /x-ndjson/);
  });
});

async function firstLiveMessage(workflowId: string): Promise<unknown> {
  const controller = new AbortController();
  const res = await fetch(`${base}/api/conversations/${encodeURIComponent(workflowId)}/live`, {
    headers: { authorization: `Bearer ${TOKEN}` },
    signal: controller.signal,
  });
  const reader = res.body!.getReader();
  let text = '';
  while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
  controller.abort();
  return JSON.parse(/data: (.*)/.exec(text)![1]);
}

// ── The queue ────────────────────────────────────────────────────────────────────────────────────────

describe('the approval queue', () => {
  type Queue = {
    approvals: Array<{ workflowId: string; toolUseId: string }>;
    unreadable?: Array<{ workflowId: string; code: string; error: string }>;
  };
  const readQueue = async (): Promise<Queue> => {
    const answer = await call(base, '/api/approvals');
    expect(answer.status).toBe(200);
    return JSON.parse(answer.text) as Queue;
  };
  /** Polls the queue until `predicate` holds (visibility is eventually consistent). */
  const queueUntil = async (predicate: (q: Queue) => boolean): Promise<Queue> => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const answer = await call(base, '/api/approvals');
      const queue = answer.status === 200 ? (JSON.parse(answer.text) as Queue) : undefined;
      if (queue && predicate(queue)) return queue;
      if (Date.now() > deadline)
        throw new Error(`queue never matched; last: ${answer.status} ${answer.text.slice(0, 500)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  const healthy: Waiting[] = [];
  let broken: WorkflowHandle;
  let orphan: WorkflowHandle;
  let brokenWorker: Worker;
  let brokenRun: Promise<void>;

  beforeAll(async () => {
    for (let i = 0; i < 6; i++) healthy.push(await waiting());
    // A workflow posing as a conversation, whose state query throws, on its own queue and worker.
    const brokenQueue = `${t.taskQueue}-broken`;
    brokenWorker = await Worker.create({
      connection: t.env.nativeConnection,
      taskQueue: brokenQueue,
      workflowBundle: await bundleWorkflowCode({
        workflowsPath: require.resolve('../support/workflows/ops-broken'),
        logger: quietBundlerLogger,
      }),
    });
    brokenRun = brokenWorker.run();
    broken = await t.env.client.workflow.start(CONVERSATION_WORKFLOW, {
      taskQueue: brokenQueue,
      workflowId: `broken-${Date.now()}`,
    });
    // A conversation listed as waiting whose task queue no worker polls: its query times out.
    orphan = await t.env.client.workflow.start(CONVERSATION_WORKFLOW, {
      taskQueue: `${t.taskQueue}-nobody`,
      workflowId: `orphan-${Date.now()}`,
      typedSearchAttributes: [{ key: AGENT_PENDING_APPROVALS, value: 1 }],
    });
  }, 120_000);

  afterAll(async () => {
    await broken?.terminate('hostile test done').catch(() => undefined);
    await orphan?.terminate('hostile test done').catch(() => undefined);
    brokenWorker?.shutdown();
    await brokenRun;
    for (const w of healthy) {
      await stateOf(w);
      await endsCleanly(w);
    }
  });

  it('one conversation whose query throws and one with no worker: the rest is listed, they are named', async () => {
    const queue = await queueUntil(
      (q) =>
        healthy.every((w) => q.approvals.some((a) => a.workflowId === w.workflowId)) &&
        (q.unreadable?.length ?? 0) >= 2,
    );
    expect(queue.unreadable).toEqual(
      expect.arrayContaining([
        {
          workflowId: broken.workflowId,
          code: 'failed',
          error: expect.stringMatching(/cannot read its state/),
        },
        {
          workflowId: orphan.workflowId,
          code: 'no_worker',
          error: expect.stringMatching(/no worker answered/),
        },
      ]),
    );
    for (const w of healthy) await stillWaiting(w);
  });

  it('a state query that times out is a 503 with retry-after, and is logged', async () => {
    const before = logged.length;
    expectError(await call(base, `/api/conversations/${orphan.workflowId}`), 503, /no worker answered/);
    expect(logged.slice(before)).toContainEqual(
      expect.objectContaining({
        status: 503,
        route: '/api/conversations/:id',
        error: expect.objectContaining({ code: 'no_worker' }),
      }),
    );
  });

  it('a state query that fails is a 500 logged with its request id, route and error, never the token', async () => {
    const before = logged.length;
    const answer = await call(base, `/api/conversations/${broken.workflowId}`);
    expectError(answer, 500, /see the ops server log/);
    const entry = logged.slice(before).find((e) => e.status === 500);
    expect(entry).toMatchObject({
      level: 'error',
      method: 'GET',
      route: '/api/conversations/:id',
      reqId: expect.any(String),
      error: { type: expect.any(String), message: expect.stringMatching(/cannot read its state/) },
    });
    expect(JSON.stringify(entry)).not.toContain(TOKEN);
    expect(JSON.stringify(entry)).not.toMatch(/authorization/i);
  });

  for (const pages of [50, 100])
    it(`${pages} concurrent reads: every one 200 (or 503) and complete, with about one query per conversation`, async () => {
      await queueUntil((q) => healthy.every((w) => q.approvals.some((a) => a.workflowId === w.workflowId)));
      queries = 0;
      const answers = await Promise.all(Array.from({ length: pages }, () => call(base, '/api/approvals')));
      expect(answers.map((a) => a.status).filter((s) => s !== 200 && s !== 503)).toEqual([]);
      for (const answer of answers) {
        expectSecurityHeaders(answer);
        if (answer.status !== 200) continue;
        const listed = (JSON.parse(answer.text) as Queue).approvals.map((a) => a.toolUseId);
        expect(listed).toEqual(expect.arrayContaining(healthy.map((w) => w.toolUseId)));
      }
      // Read again only when a conversation's search attributes change: not once per request.
      expect(queries).toBeLessThanOrEqual(2 * (healthy.length + 2));
    });

  it('a decision through the API leaves the queue at once; one made elsewhere, once the list shows it', async () => {
    const [viaApi, viaClient] = [healthy[0], healthy[1]];
    await readQueue();
    expect(
      (await decide(viaApi.workflowId, { toolUseId: viaApi.toolUseId, decision: 'reject', reason: 'no' }))
        .status,
    ).toBe(200);
    expect((await readQueue()).approvals.map((a) => a.toolUseId)).not.toContain(viaApi.toolUseId);
    await agent.decide(viaClient.workflowId, {
      toolUseId: viaClient.toolUseId,
      decision: 'reject',
      reason: 'no',
      decidedBy: 'cli',
    });
    await queueUntil((q) => !q.approvals.some((a) => a.toolUseId === viaClient.toolUseId));
    healthy.splice(0, 2);
    for (const w of [viaApi, viaClient]) {
      await t.waitFor(w.handle, (s) => s.status === 'idle');
      await agent.end(w.workflowId, 'hostile-test');
    }
  });
});

// ── Fuzz ─────────────────────────────────────────────────────────────────────────────────────────────

describe('fuzz', () => {
  let w: Waiting;
  beforeAll(async () => {
    w = await waiting();
  });
  afterAll(async () => {
    await stateOf(w);
    await agent.end(w.workflowId, 'hostile-test').catch(() => undefined);
  });

  /** An answer the API may give: data, or `{error, message}` under 1 KB; a 4xx or 503; the headers. */
  const wellFormed = (answer: Answer) => {
    expectSecurityHeaders(answer);
    expect(
      answer.status < 300 || (answer.status >= 400 && answer.status < 500) || answer.status === 503,
    ).toBe(true);
    if (answer.status >= 400) expectError(answer, answer.status);
  };

  const json = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constantFrom(null, true, false, 0, -1, 1e308, 'approve', 'reject', 'edit', '', '__proto__'),
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      fc.integer(),
      fc.double(),
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(fc.string({ maxLength: 12 }), tie('value'), { maxKeys: 4 }),
    ),
  })).value;

  it(`decision bodies (${FUZZ_RUNS} runs, seed ${FUZZ_SEED}): always a well-formed answer; the conversation still answers`, async () => {
    const text = (value: unknown) => JSON.stringify(value) ?? 'null';
    // JSON text: any value; a decision's fields, each right or wrong; an edit input up to 20,000 deep.
    const body = fc.oneof(
      json.map(text),
      fc
        .record(
          {
            toolUseId: fc.oneof(
              fc.constant(w.toolUseId),
              fc.string({ maxLength: 300 }),
              fc.nat().map((n) => 'x'.repeat(n % 5000)),
              json,
            ),
            decision: fc.oneof(fc.constantFrom('approve', 'reject', 'edit'), json),
            input: json,
            reason: fc.oneof(fc.string({ maxLength: 50 }), json),
            decidedBy: fc.string({ maxLength: 10 }),
          },
          { requiredKeys: [] },
        )
        .map(text),
      fc
        .tuple(fc.constantFrom(w.toolUseId, 'toolu_other'), fc.nat({ max: 20_000 }))
        .map(([id, levels]) => deepEdit(id, levels)),
    );
    // Names percent-encoded as the page sends them, and printable ASCII as any client might.
    const operator = fc.oneof(
      fc.constant('ivy'),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }).map(encodeURIComponent),
      fc.string({
        unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
        maxLength: 30,
      }),
    );
    await fc.assert(
      fc.asyncProperty(body, operator, async (b, op) => {
        const answer = await decide(w.workflowId, b, op);
        wellFormed(answer);
        await stateOf(w);
      }),
      { seed: FUZZ_SEED, numRuns: FUZZ_RUNS },
    );
  });

  it(`stream lines (${FUZZ_RUNS} runs, seed ${FUZZ_SEED}): always a well-formed answer`, async () => {
    const line = fc.oneof(
      json.map((v) => JSON.stringify(v) ?? 'null'),
      fc
        .record(
          {
            workflowId: fc.oneof(fc.constant('fuzz-live'), json),
            type: fc.constantFrom('start', 'event', 'end'),
            turn: json,
            attempt: json,
            ok: json,
            at: json,
            event: fc.oneof(
              json,
              fc.record(
                {
                  type: fc.constantFrom(
                    'content_block_start',
                    'content_block_delta',
                    'content_block_stop',
                    'message_delta',
                  ),
                  index: json,
                  delta: json,
                  content_block: json,
                },
                { requiredKeys: ['type'] },
              ),
            ),
          },
          { requiredKeys: ['workflowId', 'type'] },
        )
        .map((v) => JSON.stringify(v)),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 6 }), async (lines) => {
        const answer = await call(base, '/stream/publish', {
          method: 'POST',
          body: lines.join('\n'),
          headers: { 'content-type': 'application/x-ndjson' },
        });
        wellFormed(answer);
      }),
      { seed: FUZZ_SEED, numRuns: FUZZ_RUNS },
    );
    expect((await firstLiveMessage('fuzz-live')) as object).toHaveProperty('type', 'snapshot');
  });
});
