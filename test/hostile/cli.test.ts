/**
 * Hostile input to the `agent` CLI (issue 12, class 7): the real CLI process against a real Temporal dev
 * server, a worker, the scripted fake Messages API and the ops server's live hub.
 *
 * - The visibility query is built from validated values only: `list --status` and
 *   `AgentClient.listConversations` take a status from CONVERSATION_STATUSES and a bounded limit.
 * - Terminal output: ESC sequences (CSI, OSC, DCS), C1 controls, CR/BS overwrites and bidi controls
 *   that users, tools and the model wrote are shown visibly by show, list, pending, watch and error
 *   messages, never passed raw; --json stays JSON that parses to the exact text, with no raw control.
 * - Argument errors exit 2 with one line on stderr, checked before anything connects (Temporal is
 *   pointed at a dead port for them: a check that ran after connecting would exit 5).
 * - `start -` and `send <id> -` read the text from stdin, bounded by maxMessageBytes.
 * - `watch` finds the ops token where `npm start` keeps it (AGENT_STATE_DIR).
 *
 * After every case that touches a conversation, the conversation still answers its state query and
 * can be ended.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { CONVERSATION_STATUSES, stateQuery, type ConversationStatus } from '../../src/api/conversation';
import { bounded, forTerminal, jsonForTerminal, quoted } from '../../src/cli/sanitize';
import { renderer } from '../../src/cli/watch';
import { AgentClient, AgentError } from '../../src/client';
import { reply } from '../../src/testing/fake-claude';
import { createOpsServer } from '../../src/ops/server';
import { hubObserver, StreamHub } from '../../src/streaming/hub';
import type { LiveMessage } from '../../src/streaming/protocol';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';
import { inPool, RAW_CONTROL, runCli, type CliRun } from '../support/cli-runs';

const TOKEN = 'hostile-cli-token-0123456789abcdef';
const DEAD_TEMPORAL = '127.0.0.1:1';
const LIMIT = 256 * 1024;
const STATUSES_LISTED = new RegExp(CONVERSATION_STATUSES.join(', '));

const hub = new StreamHub();
let t: AgentEnv;
let agent: AgentClient;
let ops: FastifyInstance;
let base: string;
let emptyStateDir: string;
const tempDirs: string[] = [];

beforeAll(async () => {
  t = await startAgentEnv({ observer: hubObserver(hub) });
  agent = new AgentClient({ client: t.env.client, taskQueue: t.taskQueue });
  ops = await createOpsServer({ agent, token: TOKEN, namespace: 'default', hub });
  base = await ops.listen({ host: '127.0.0.1', port: 0 });
  emptyStateDir = tempDir();
}, 120_000);
afterAll(async () => {
  await ops?.close();
  await t?.teardown();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hostile-cli-'));
  tempDirs.push(dir);
  return dir;
}

/** The CLI against this file's server, worker and ops server (no ops token unless given). */
function cli(
  args: string[],
  options: { env?: Record<string, string | undefined>; stdin?: string | Buffer } = {},
): Promise<CliRun> {
  return runCli(args, {
    stdin: options.stdin,
    env: {
      TEMPORAL_ADDRESS: t.env.address,
      AGENT_TASK_QUEUE: t.taskQueue,
      OPS_URL: base,
      AGENT_STATE_DIR: emptyStateDir,
      ...options.env,
    },
  });
}

let counter = 0;
const newId = (what: string) => `hostile-cli-${what}-${process.pid}-${++counter}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The conversation still answers its state query and can be ended (then answers again, completed). */
async function answersAndEnds(workflowId: string): Promise<void> {
  const handle = t.env.client.workflow.getHandle(workflowId);
  const state = await t.waitFor(handle, (s) => s.status !== 'running');
  if (state.status !== 'completed' && state.status !== 'cancelled') {
    await agent.end(workflowId, 'hostile-cli', 'case over');
    await handle.result();
  }
  expect((await handle.query(stateQuery, {})).status).toMatch(/^(completed|cancelled)$/);
}

/** One line on stderr, `agent: ...`, short, and nothing a terminal would act on. */
function expectOneLineError(run: CliRun): void {
  const lines = run.stderr.replace(/\n$/, '').split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^agent: \S/);
  expect(run.stderr.length).toBeLessThan(400);
  expect(run.stderr).not.toMatch(RAW_CONTROL);
}

// The escape classes: [name, hostile text, what an operator sees instead].
const ESCAPES: Array<[string, string, string]> = [
  ['CSI clear screen', '\x1b[2J\x1b[3J\x1b[H', '␛[2J␛[3J␛[H'],
  ['CSI cursor up and erase line', 'ok\x1b[1A\x1b[2K', 'ok␛[1A␛[2K'],
  ['SGR concealed text', '\x1b[8mhidden\x1b[0m', '␛[8mhidden␛[0m'],
  ['OSC window title ended by BEL', '\x1b]0;pwned\x07', '␛]0;pwned␇'],
  [
    'OSC 8 hyperlink ended by ST',
    '\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\',
    '␛]8;;https://evil.example/␛\\click␛]8;;␛\\',
  ],
  ['OSC 52 clipboard write', '\x1b]52;c;Y3VybCBldmlsIHwgc2g=\x07', '␛]52;c;Y3VybCBldmlsIHwgc2g=␇'],
  ['DCS request status string', '\x1bP$qm\x1b\\', '␛P$qm␛\\'],
  ['C1 CSI', '\u009b2J\u009b1;1H', '\\u009b2J\\u009b1;1H'],
  ['C1 OSC ended by C1 ST', '\u009d0;pwned\u009c', '\\u009d0;pwned\\u009c'],
  ['C1 DCS and NEL', '\u0090q\u009c\u0085', '\\u0090q\\u009c\\u0085'],
  ['bidi right-to-left override', 'invoice\u202eexe.pdf\u202c', 'invoice\\u202eexe.pdf\\u202c'],
  ['bidi embeddings and LRO', '\u202aa\u202bb\u202dc\u202c', '\\u202aa\\u202bb\\u202dc\\u202c'],
  ['bidi isolates', '\u2066x\u2067y\u2068z\u2069', '\\u2066x\\u2067y\\u2068z\\u2069'],
  ['carriage return overwrite', 'rm -rf ~\rls -la    ', 'rm -rf ~␍ls -la    '],
  ['backspace overwrite', 'evil\b\b\b\bgood', 'evil␈␈␈␈good'],
  ['BEL, NUL, VT and FF', 'a\x07b\x00c\x0bd\x0c', 'a␇b␀c␋d␌'],
  ['DEL', 'a\x7fb', 'a␡b'],
];
// The classes JSON.stringify leaves raw (C0 it escapes itself).
const RAW_IN_JSON = new Set([
  'C1 CSI',
  'C1 OSC ended by C1 ST',
  'C1 DCS and NEL',
  'bidi right-to-left override',
  'bidi embeddings and LRO',
  'bidi isolates',
  'DEL',
]);
// Every class at once.
const EVERYTHING = ESCAPES.map(([, text]) => text).join(' ');

describe('the terminal sanitiser', () => {
  it.each(ESCAPES)('forTerminal shows %s visibly', (_name, hostile, visible) => {
    const shown = forTerminal(`before ${hostile} after`);
    expect(shown).not.toMatch(RAW_CONTROL);
    expect(shown).toBe(`before ${visible} after`);
  });

  it('forTerminal keeps newlines, tabs and ordinary text of every script as they are', () => {
    const text = 'line one\n\tindented — “quotes” café 日本語 עברית العربية 👩‍💻 ␛ \\u001b';
    expect(forTerminal(text)).toBe(text);
  });

  it.each(ESCAPES)('jsonForTerminal escapes %s and parses back to the exact text', (_name, hostile) => {
    const value = { text: `a ${hostile} b`, nested: [hostile, { [hostile]: hostile }] };
    const json = jsonForTerminal(value, 2);
    expect(json).not.toMatch(RAW_CONTROL);
    expect(JSON.parse(json)).toEqual(value);
  });

  it('jsonForTerminal escapes the line and paragraph separators', () => {
    const json = jsonForTerminal({ s: 'a\u2028b\u2029c' });
    expect(json).toBe('{"s":"a\\u2028b\\u2029c"}');
    expect(JSON.parse(json)).toEqual({ s: 'a\u2028b\u2029c' });
  });

  it('quoted and bounded cut what they echo', () => {
    expect(quoted('x'.repeat(100_000))).toMatch(/^"x{60}"… \(100000 characters\)$/);
    expect(bounded('y'.repeat(10_000), 100)).toMatch(/^y{100}… \(9900 more characters\)$/);
  });

  it('the watch renderer shows hostile text, tool names, inputs and errors visibly, snapshot and live', () => {
    let out = '';
    const render = renderer((text) => (out += text));
    const messages: LiveMessage[] = [
      {
        type: 'snapshot',
        call: {
          workflowId: 'w',
          turn: 1,
          attempt: 1,
          startedAt: 0,
          ended: false,
          blocks: [
            { index: 0, type: 'text', text: `snap ${EVERYTHING}`, done: true },
            { index: 1, type: 'tool_use', name: `t\x1b]0;x\x07`, text: '{"a":"\u009b"}', done: false },
          ],
        },
      },
      { type: 'block_start', index: 2, blockType: `odd\x1b[2J`, name: '\u202e' },
      { type: 'block_start', index: 3, blockType: 'tool_use', name: `n\u009b2J` },
      { type: 'delta', index: 3, kind: 'input_json', text: '{"x":"\u202e', at: 0 },
      { type: 'block_start', index: 4, blockType: 'text' },
      { type: 'delta', index: 4, kind: 'text', text: '\x1b', at: 0 },
      { type: 'delta', index: 4, kind: 'text', text: '[2J', at: 0 },
      { type: 'end', ok: false, error: `boom \x1b]0;t\x07\u009d` },
    ];
    for (const m of messages) render(m);
    expect(out).not.toMatch(RAW_CONTROL);
    for (const [, , visible] of ESCAPES) expect(out).toContain(visible);
    expect(out).toContain('[odd␛[2J]');
    expect(out).toContain('␛[2J'); // an ESC split from its sequence across deltas
    expect(out).toContain('[failed: boom ␛]0;t␇\\u009d]');
  });
});

// Argument errors, against a Temporal address nothing listens on: each must be found before connecting.
const USAGE_CASES: Array<[string, string[], RegExp]> = [
  ['unknown long option', ['list', '--bogus'], /unknown option "--bogus"/],
  ['unknown option before the command', ['--bogus', 'list'], /unknown option "--bogus"/],
  ['unknown short option', ['list', '-x'], /unknown option "-x"/],
  ['an option named like an Object property', ['list', '--constructor'], /unknown option "--constructor"/],
  ['an option named __proto__', ['list', '--__proto__=1'], /unknown option "--__proto__"/],
  ['a value given to a flag', ['list', '--json=yes'], /--json takes no value/],
  ['a value given to --wait', ['start', 'hi', '--wait=false'], /--wait takes no value/],
  ['--max-turns -1', ['start', 'hi', '--max-turns', '-1'], /--max-turns needs a value/],
  ['--max-turns=-1', ['start', 'hi', '--max-turns=-1'], /--max-turns must be/],
  ['--max-turns abc', ['start', 'hi', '--max-turns', 'abc'], /--max-turns must be/],
  ['--max-turns 0', ['start', 'hi', '--max-turns', '0'], /--max-turns must be/],
  ['--max-turns 1e3', ['start', 'hi', '--max-turns', '1e3'], /--max-turns must be/],
  ['--max-turns 0x10', ['start', 'hi', '--max-turns', '0x10'], /--max-turns must be/],
  ['--max-turns empty', ['start', 'hi', '--max-turns='], /--max-turns must be/],
  [
    '--max-turns past a safe integer',
    ['start', 'hi', '--max-turns', '99999999999999999999'],
    /--max-turns must be/,
  ],
  ['--max-tokens 1.5', ['start', 'hi', '--max-tokens', '1.5'], /--max-tokens must be/],
  ['--limit 0', ['list', '--limit', '0'], /--limit must be a positive integer up to 1000/],
  ['--limit 1001', ['list', '--limit', '1001'], /--limit must be/],
  ['--limit NaN', ['list', '--limit', 'NaN'], /--limit must be/],
  ['--limit Infinity', ['list', '--limit', 'Infinity'], /--limit must be/],
  ['--limit empty', ['list', '--limit='], /--limit must be/],
  ['--status without a value', ['list', '--status'], /--status needs a value/],
  ['--status given twice', ['list', '--status', 'idle', '--status', 'running'], /--status is given twice/],
  ['--status bogus', ['list', '--status', 'bogus'], STATUSES_LISTED],
  [
    'an option the command does not take',
    ['show', 'conv-1', '--max-turns', '5'],
    /show does not take --max-turns/,
  ],
  ['a missing workflow id', ['show'], /missing <workflowId>/],
  ['a missing message', ['send', 'conv-1'], /missing <message>/],
  ['a missing tool-use id', ['approve', 'conv-1'], /missing <toolUseId>/],
  ['an extra argument', ['show', 'a', 'b'], /unexpected argument "b"/],
  ['an unquoted prompt', ['start', 'hello', 'world'], /quote the whole text/],
  ['an unknown command', ['frobnicate'], /unknown command "frobnicate"/],
  [
    'an unknown command with an escape sequence',
    ['\x1b[2J\x1b]0;pwned\x07'],
    /unknown command "\\u001b\[2J\\u001b\]0;pwned\\u0007"/,
  ],
  ['reject without --reason', ['reject', 'conv-1', 'toolu_1'], /reject needs --reason/],
  ['--input that is not JSON', ['approve', 'conv-1', 'toolu_1', '--input', '{'], /--input is not valid JSON/],
  [
    '--input that is not an object',
    ['approve', 'conv-1', 'toolu_1', '--input', '[1]'],
    /--input must be a JSON object/,
  ],
  ...[65, 1000, 3000, 5000].map((levels): [string, string[], RegExp] => [
    `--input nested ${levels} levels`,
    ['approve', 'conv-1', 'toolu_1', '--input', '{"a":'.repeat(levels) + '{}' + '}'.repeat(levels)],
    /--input is nested deeper than 64 levels/,
  ]),
  [
    'a workflow id of 5,000 characters',
    ['show', 'x'.repeat(5000)],
    /workflowId is 5000 characters; the limit is 1000/,
  ],
  ['an empty --id', ['start', 'hi', '--id='], /--id is empty/],
  [
    'a tool name with a space',
    ['start', 'hi', '--tools', 'get_weather,rm -rf'],
    /--tools: "rm -rf" is not a tool name/,
  ],
  ['a blank --by', ['end', 'conv-1', '--by', '   '], /--by is blank/],
  [
    'an escape sequence in --by',
    ['end', 'conv-1', '--by', 'ops\x1b]0;pwned\x07'],
    /--by must not hold control characters/,
  ],
  [
    'a bidi override in --by',
    ['approve', 'conv-1', 'toolu_1', '--by', 'eve\u202emallory'],
    /--by must not hold control characters/,
  ],
  [
    'an escape sequence in a new --id',
    ['start', 'hi', '--id', 'conv-\x1b[2J'],
    /--id must not hold control characters/,
  ],
  [
    'a --reason of 5,000 characters',
    ['end', 'conv-1', '--reason', 'r'.repeat(5000)],
    /--reason is 5000 characters/,
  ],
  ['a blank prompt', ['start', '   '], /the prompt is empty/],
  [
    'a message of 50,000 control characters (300 KB as JSON)',
    ['send', 'conv-1', '\x01'.repeat(50_000)],
    /the message is 300002 bytes as JSON; a message may be at most 262144/,
  ],
];

describe('argument errors exit 2 with one line on stderr, before anything connects', () => {
  const runs = new Map<string, CliRun>();
  beforeAll(async () => {
    const results = await inPool(
      USAGE_CASES.map(
        ([, args]) =>
          () =>
            runCli(args, { env: { TEMPORAL_ADDRESS: DEAD_TEMPORAL } }),
      ),
    );
    USAGE_CASES.forEach(([name], i) => runs.set(name, results[i]));
  }, 180_000);

  it.each(USAGE_CASES)('%s', (name, _args, message) => {
    const run = runs.get(name)!;
    expect({ code: run.code, stdout: run.stdout }).toEqual({ code: 2, stdout: '' });
    expectOneLineError(run);
    expect(run.stderr).toMatch(message);
  });

  it('with --json the usage error is JSON on stdout as well', async () => {
    const run = await runCli(['list', '--status', 'idle") OR ("1', '--json'], {
      env: { TEMPORAL_ADDRESS: DEAD_TEMPORAL },
    });
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout)).toMatchObject({
      error: 'usage',
      message: expect.stringMatching(STATUSES_LISTED),
    });
    expectOneLineError(run);
  });
});

// Strings that would widen or break a visibility query pasted together from them.
const STATUS_INJECTIONS: Array<[string, string]> = [
  ['double-quote OR', 'idle" OR WorkflowType = "x'],
  ['single-quote OR', "idle' OR 'a' = 'a"],
  ['AND with another attribute', 'idle" AND ExecutionStatus = "Running'],
  ['parentheses', 'idle") OR ("a" = "a'],
  ['backticks', '`idle` OR `AgentStatus` != ``'],
  ['a newline', 'idle"\nOR WorkflowType != "'],
  ['unicode quotes', 'idle” OR WorkflowType = “x'],
  ['not equal to nothing', 'idle" OR AgentStatus != "'],
  ['a comment-like tail', 'idle" -- '],
  ['a wildcard', '*'],
  ['upper case', 'IDLE'],
  ['a trailing space', 'idle '],
  ['empty', ''],
  ['39,000 characters', `idle${'" OR "a" = "a'.repeat(3000)}`],
];

describe('--status and listConversations take only known statuses', () => {
  const runs = new Map<string, CliRun>();
  beforeAll(async () => {
    // Something to list, so a widened query would show rows.
    const handle = await t.start({ message: 'listed' }, newId('listed'));
    t.fake.script(handle.workflowId, [reply.text('Listed.')]);
    await t.waitFor(handle, (s) => s.status === 'idle');
    const results = await inPool(
      STATUS_INJECTIONS.map(
        ([, status]) =>
          () =>
            cli(['list', '--status', status, '--limit', '1000']),
      ),
    );
    STATUS_INJECTIONS.forEach(([name], i) => runs.set(name, results[i]));
    await answersAndEnds(handle.workflowId);
  }, 180_000);

  it.each(STATUS_INJECTIONS)('agent list --status with %s exits 2 and lists nothing', (name) => {
    const run = runs.get(name)!;
    expect({ code: run.code, stdout: run.stdout }).toEqual({ code: 2, stdout: '' });
    expectOneLineError(run);
    expect(run.stderr).toMatch(STATUSES_LISTED);
  });

  it.each(STATUS_INJECTIONS)('listConversations with %s is refused as invalid', async (_name, status) => {
    const err = await agent.listConversations({ status: status as ConversationStatus }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AgentError);
    expect(err).toMatchObject({ code: 'invalid', message: expect.stringMatching(STATUSES_LISTED) });
    expect((err as Error).message.length).toBeLessThan(300);
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 1001])(
    'listConversations with limit %p is refused as invalid',
    async (limit) => {
      await expect(agent.listConversations({ limit })).rejects.toMatchObject({ code: 'invalid' });
    },
  );

  it('a known status still filters (control)', async () => {
    const run = await cli(['list', '--status', 'completed', '--json', '--limit', '1000']);
    expect(run.code).toBe(0);
    const rows = JSON.parse(run.stdout) as Array<{ status: string }>;
    expect(rows.every((r) => r.status === 'completed')).toBe(true);
  });
});

describe('show renders every escape class visibly', () => {
  const ids = new Map<string, string>();
  const text = new Map<string, CliRun>();
  const json = new Map<string, CliRun>();
  beforeAll(async () => {
    // One conversation per class: the hostile text in the user's message and in the model's answer.
    await Promise.all(
      ESCAPES.map(async ([name, hostile]) => {
        const id = newId('escape');
        ids.set(name, id);
        t.fake.script(id, [reply.text(`model says ${hostile} end`)]);
        const handle = await t.start({ message: `user says ${hostile} end` }, id);
        await t.waitFor(handle, (s) => s.status === 'idle', 60_000);
      }),
    );
    const runs = await inPool([
      ...ESCAPES.map(
        ([name]) =>
          () =>
            cli(['show', ids.get(name)!]).then((r) => text.set(name, r)),
      ),
      ...ESCAPES.filter(([name]) => RAW_IN_JSON.has(name)).map(
        ([name]) =>
          () =>
            cli(['show', ids.get(name)!, '--json']).then((r) => json.set(name, r)),
      ),
    ]);
    expect(runs).toHaveLength(ESCAPES.length + RAW_IN_JSON.size);
  }, 240_000);

  it.each(ESCAPES)(
    '%s: show prints no raw control and marks where it was',
    async (name, hostile, visible) => {
      const run = text.get(name)!;
      expect(run.code).toBe(0);
      expect(run.stdout).not.toMatch(RAW_CONTROL);
      expect(hostile).not.toBe(visible);
      expect(run.stdout).toContain(`user: user says ${visible} end`);
      expect(run.stdout).toContain(`assistant: model says ${visible} end`);
      await answersAndEnds(ids.get(name)!);
    },
  );

  it.each(ESCAPES.filter(([name]) => RAW_IN_JSON.has(name)))(
    '%s: show --json is JSON, escaped, with the exact text',
    async (name, hostile) => {
      const run = json.get(name)!;
      expect(run.code).toBe(0);
      expect(run.stdout).not.toMatch(RAW_CONTROL);
      const state = JSON.parse(run.stdout) as { messages: Array<{ content: unknown }> };
      expect(state.messages[0].content).toBe(`user says ${hostile} end`);
      expect(JSON.stringify(state.messages[1].content)).toContain(
        JSON.stringify(`model says ${hostile} end`),
      );
      await answersAndEnds(ids.get(name)!);
    },
  );
});

// Each case owns its conversation (and reads only what it wrote): they run at once.
describe('other places hostile text reaches the terminal', () => {
  it.concurrent('tool inputs and tool results in show', async () => {
    const id = newId('tool');
    t.fake.script(id, [
      reply.toolUse({ name: 'get_weather', input: { location: `Paris ${EVERYTHING}` } }),
      reply.text('Weather told.'),
    ]);
    const handle = await t.start({ message: 'Weather?', tools: ['get_weather'] }, id);
    await t.waitFor(handle, (s) => s.status === 'idle', 60_000);
    const run = await cli(['show', id]);
    expect(run.code).toBe(0);
    expect(run.stdout).not.toMatch(RAW_CONTROL);
    expect(run.stdout).toMatch(/>>> Tool Call: "get_weather" .*\\u009b2J/);
    expect(run.stdout).toMatch(/<<< Tool Result: .*\\u202eexe\.pdf/);
    await answersAndEnds(id);
  });

  it.concurrent('an API error message in the attention line of show', async () => {
    const id = newId('attention');
    t.fake.script(id, [reply.error(400, 'invalid_request_error', `bad request ${EVERYTHING}`)]);
    const handle = await t.start({ message: 'Fail, please' }, id);
    await t.waitFor(handle, (s) => s.status === 'needs_attention', 60_000);
    const run = await cli(['show', id]);
    expect(run.code).toBe(0);
    expect(run.stdout).not.toMatch(RAW_CONTROL);
    expect(run.stdout).toMatch(/^status: needs_attention \(api_error: .*bad request ␛\[2J/);
    await answersAndEnds(id);
  });

  it.concurrent('a pending tool call in pending and show, then approved from the CLI', async () => {
    const id = newId('pending');
    const toolUseId = `toolu_hostile${counter}`;
    t.fake.script(id, [
      reply.toolUse({
        name: 'save_article',
        id: toolUseId,
        input: { abstract: `Abstract ${EVERYTHING}`, meta: { word_count: 3, review: '\u202eok\u202c' } },
      }),
      reply.text('Saved.'),
    ]);
    const handle = await t.start({ message: 'Save it', tools: ['save_article'] }, id);
    await t.waitFor(handle, (s) => s.status === 'awaiting_approval', 60_000);
    const [pending, show] = await Promise.all([cli(['pending']), cli(['show', id])]);
    for (const run of [pending, show]) {
      expect(run.code).toBe(0);
      expect(run.stdout).not.toMatch(RAW_CONTROL);
      expect(run.stdout).toContain('\\u202eok\\u202c');
    }
    expect(pending.stdout).toContain(`${id}  ${toolUseId}  save_article`);
    expect(show.stdout).toContain(`pending approval: ${toolUseId} save_article`);
    expect((await cli(['approve', id, toolUseId, '--by', 'hostile-cli'])).code).toBe(0);
    await t.waitFor(handle, (s) => s.status === 'idle', 60_000);
    await answersAndEnds(id);
  });

  it.concurrent('a model name in list and list --json', async () => {
    const id = newId('model');
    const model = 'claude-\x1b]0;pwned\x07-\u009b2J-\u202eevil';
    t.fake.script(id, [reply.text('Hi.')]);
    const handle = await t.start({ message: 'Hello', model }, id);
    await t.waitFor(handle, (s) => s.status === 'idle', 60_000);
    // Visibility is eventually consistent: wait until the row says idle.
    for (let i = 0; i < 100; i++) {
      const rows = await agent.listConversations({ limit: 1000 });
      if (rows.some((r) => r.workflowId === id && r.status === 'idle')) break;
      await sleep(100);
    }
    const [text, json] = await Promise.all([
      cli(['list', '--limit', '1000']),
      cli(['list', '--limit', '1000', '--json']),
    ]);
    expect(text.code).toBe(0);
    expect(text.stdout).not.toMatch(RAW_CONTROL);
    expect(text.stdout).toContain(`${id}  ${'idle'.padEnd(17)} claude-␛]0;pwned␇-\\u009b2J-\\u202eevil`);
    expect(json.code).toBe(0);
    expect(json.stdout).not.toMatch(RAW_CONTROL);
    const listed = (JSON.parse(json.stdout) as Array<{ workflowId: string; model: string }>).find(
      (r) => r.workflowId === id,
    );
    expect(listed?.model).toBe(model);
    await answersAndEnds(id);
  });

  it.concurrent('a refusal that echoes a hostile tool-use id', async () => {
    const id = newId('refusal');
    t.fake.script(id, [reply.text('Idle.')]);
    const handle = await t.start({ message: 'Hello' }, id);
    await t.waitFor(handle, (s) => s.status === 'idle', 60_000);
    const run = await cli(['approve', id, 'toolu_\x1b]0;pwned\x07\u009b2J\u202e']);
    expect(run.code).toBe(3);
    expect(run.stderr).not.toMatch(RAW_CONTROL);
    expect(run.stderr).toContain('toolu_␛]0;pwned␇\\u009b2J\\u202e');
    await answersAndEnds(id);
  });

  it.concurrent('a not-found error that echoes a hostile id', async () => {
    const run = await cli(['show', `missing-\x1b[2J\x1b]0;pwned\x07\u009b\u202e-${process.pid}`]);
    expect(run.code).toBe(4);
    expect(run.stderr).not.toMatch(RAW_CONTROL);
    expect(run.stderr).toContain('no conversation with id missing-␛[2J␛]0;pwned␇\\u009b\\u202e');
  });
});

describe('start - and send - read the text from stdin, bounded', () => {
  // ~100 KB with quotes, backslashes, newlines, tabs and non-ASCII text.
  const big = Array.from(
    { length: 1600 },
    (_, i) => `line ${i}: "quoted", back\\slash,\ttab, café, 日本 — ${'x'.repeat(20)}\n`,
  ).join('');

  it.concurrent('start - sends a 100 KB prompt exactly as read', async () => {
    expect(Buffer.byteLength(big)).toBeGreaterThan(100_000);
    const id = newId('stdin');
    t.fake.script(id, [reply.text('Read it.')]);
    const run = await cli(['start', '-', '--id', id, '--json'], { stdin: big });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ workflowId: id });
    const state = await t.waitFor(t.env.client.workflow.getHandle(id), (s) => s.status === 'idle', 60_000);
    expect(state.messages[0].content).toBe(big);
    await answersAndEnds(id);
  });

  it.concurrent('start - keeps multi-byte text (emoji, CJK) exact', async () => {
    const text = '日本語のテキスト 👩‍💻 '.repeat(4000);
    const id = newId('stdin-utf8');
    t.fake.script(id, [reply.text('Read it.')]);
    const run = await cli(['start', '-', '--id', id], { stdin: text });
    expect(run.code).toBe(0);
    const state = await t.waitFor(t.env.client.workflow.getHandle(id), (s) => s.status === 'idle', 60_000);
    expect(state.messages[0].content).toBe(text);
    await answersAndEnds(id);
  });

  it.concurrent('start - takes a prompt of exactly the limit (as JSON)', async () => {
    const id = newId('stdin-limit');
    t.fake.script(id, [reply.text('Read it.')]);
    const run = await cli(['start', '-', '--id', id], { stdin: 'a'.repeat(LIMIT - 2) });
    expect(run.code).toBe(0);
    const state = await t.waitFor(t.env.client.workflow.getHandle(id), (s) => s.status === 'idle', 60_000);
    expect(state.messages[0].content).toHaveLength(LIMIT - 2);
    await answersAndEnds(id);
  });

  it.concurrent.each([
    [
      'one byte over the limit as JSON',
      'a'.repeat(LIMIT - 1),
      /262145 bytes as JSON; a message may be at most 262144/,
    ],
    ['5 MB (not read to the end)', 'b'.repeat(5 * 1024 * 1024), /over 262144 bytes/],
    ['under the limit raw, over it as JSON', '"'.repeat(200_000), /400002 bytes as JSON/],
    ['not UTF-8', Buffer.from([0x68, 0x69, 0xff, 0xfe, 0xc3]), /not valid UTF-8/],
    ['empty', '', /the prompt is empty/],
  ] as Array<[string, string | Buffer, RegExp]>)(
    'start - with a prompt %s exits 2 and starts nothing',
    async (_name, stdin, message) => {
      const id = newId('stdin-refused');
      const run = await cli(['start', '-', '--id', id], { stdin });
      expect({ code: run.code, stdout: run.stdout }).toEqual({ code: 2, stdout: '' });
      expectOneLineError(run);
      expect(run.stderr).toMatch(message);
      await expect(t.env.client.workflow.getHandle(id).describe()).rejects.toThrow();
    },
  );

  it.concurrent(
    'send <id> - sends a 100 KB message; one over the limit exits 2 and sends nothing',
    async () => {
      const id = newId('send-stdin');
      t.fake.script(id, [reply.text('First.'), reply.text('Second.')]);
      const handle = await t.start({ message: 'Hello' }, id);
      await t.waitFor(handle, (s) => s.status === 'idle', 60_000);
      const over = await cli(['send', id, '-'], { stdin: 'c'.repeat(LIMIT) });
      expect({ code: over.code, stdout: over.stdout }).toEqual({ code: 2, stdout: '' });
      expectOneLineError(over);
      const sent = await cli(['send', id, '-', '--json'], { stdin: big });
      expect(sent.code).toBe(0);
      expect(JSON.parse(sent.stdout)).toEqual({ turn: 2, queuedBehind: 0 });
      const state = await t.waitFor(handle, (s) => s.status === 'idle' && s.messages.length === 4, 60_000);
      expect(state.messages[2].content).toBe(big);
      await answersAndEnds(id);
    },
  );
});

describe('watch', () => {
  let existing: string;
  beforeAll(async () => {
    existing = newId('watch-token');
    t.fake.script(existing, [reply.text('Here.')]);
    await t.waitFor(await t.start({ message: 'Hello' }, existing), (s) => s.status === 'idle', 60_000);
  });
  afterAll(async () => {
    await answersAndEnds(existing);
  });

  it('finds the ops token in AGENT_STATE_DIR and renders the live stream visibly (text and --json)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'ops-token'), `${TOKEN}\n`, { mode: 0o600 });
    const id = newId('watch');
    const handle = await t.start({ tools: ['get_weather'] }, id);
    await t.waitFor(handle, (s) => s.status === 'idle');
    const env = { AGENT_STATE_DIR: dir };
    const observersBefore = hub.size.observers;
    const done: CliRun[] = [];
    const watchers = [cli(['watch', id], { env }), cli(['watch', id, '--json'], { env })].map((p) =>
      p.then((r) => {
        done.push(r);
        return r;
      }),
    );
    // Both subscribed (or one gave up: then its exit code tells why).
    for (let i = 0; i < 300 && hub.size.observers < observersBefore + 2 && done.length === 0; i++)
      await sleep(100);
    t.fake.script(id, [
      reply.toolUse(
        { name: 'get_weather', input: { location: EVERYTHING } },
        { text: `Looking ${EVERYTHING}`, chunkSize: 4 },
      ),
      reply.text(`Answer ${EVERYTHING}`, { chunkSize: 3 }),
    ]);
    if (done.length === 0) {
      await agent.sendMessage(id, 'Go');
      await t.waitFor(handle, (s) => s.status === 'idle' && s.messages.length === 4, 60_000);
      await sleep(500); // the last deltas reach the watchers
    }
    await answersAndEnds(id);
    const [text, json] = await Promise.all(watchers);
    expect({ code: text.code, stderr: text.stderr }).toEqual({ code: 0, stderr: '' });
    expect(text.stdout).not.toMatch(RAW_CONTROL);
    expect(text.stdout).toContain('Looking ␛[2J␛[3J␛[H');
    expect(text.stdout).toContain('>>> Tool Call: "get_weather"');
    expect(text.stdout).toContain('Answer ␛[2J');
    expect(text.stdout).toContain('\\u202eexe.pdf');
    expect(json.code).toBe(0);
    expect(json.stdout).not.toMatch(RAW_CONTROL);
    const messages = json.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as LiveMessage);
    const streamed = messages
      .filter((m): m is Extract<LiveMessage, { type: 'delta' }> => m.type === 'delta' && m.kind === 'text')
      .map((m) => m.text)
      .join('');
    expect(streamed).toContain(`Answer ${EVERYTHING}`);
  }, 120_000);

  it('without OPS_TOKEN and with no token in AGENT_STATE_DIR, says where it looked (exit 2)', async () => {
    const dir = tempDir();
    const run = await cli(['watch', existing], { env: { AGENT_STATE_DIR: dir } });
    expect(run.code).toBe(2);
    expectOneLineError(run);
    expect(run.stderr).toContain(join(dir, 'ops-token'));
  });

  it('start --wait streams and prints the outcome visibly', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'ops-token'), `${TOKEN}\n`, { mode: 0o600 });
    const id = newId('wait');
    t.fake.script(id, [reply.text(`Final ${EVERYTHING}`, { chunkSize: 5 })]);
    const run = await cli(['start', 'Say it', '--id', id, '--single-turn', '--wait'], {
      env: { AGENT_STATE_DIR: dir },
    });
    expect(run.code).toBe(0);
    expect(run.stdout).not.toMatch(RAW_CONTROL);
    expect(run.stderr).not.toMatch(RAW_CONTROL);
    expect(run.stdout).toContain(
      `\nFinal ${ESCAPES.map(([, , visible]) => visible).join(' ')}\n[completed: single turn done]`,
    );
    await answersAndEnds(id);
  });

  it('a token file that holds no token (an escape sequence) is refused by name (exit 2)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'ops-token'), '\x1b]0;pwned\x07\n');
    const run = await cli(['watch', existing], { env: { AGENT_STATE_DIR: dir } });
    expect(run.code).toBe(2);
    expectOneLineError(run);
    expect(run.stderr).toContain(`${join(dir, 'ops-token')} does not hold an ops token`);
  });
});
