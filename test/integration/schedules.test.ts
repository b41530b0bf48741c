/**
 * Scheduled conversations on a real Temporal dev server (Temporal Schedules), with a worker and the
 * fake Messages API: create, trigger (a run is a single-turn conversation that completes), list with
 * the last run, pause and unpause, the skip overlap policy (a second trigger while a run waits for
 * approval starts nothing), update, delete; bad input (cron, time zone, interval, id, conversation
 * input) and a taken id fail with a clear AgentError and create nothing. Then the `agent schedule` CLI
 * as a real process.
 *
 * Schedules here are due on 1 January 2099 only: every run is a trigger. Scheduled workflow ids are
 * known only once a run starts (`<scheduleId>-<time>`), so the fake answers every conversation with
 * one handler, by the schedule id its id starts with.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ConversationResult } from '../../src/api/conversation';
import { AgentClient, AgentError, type ConversationSchedule, type ScheduleDetails } from '../../src/client';
import { reply, type FakeReply, type RecordedRequest } from '../../src/testing/fake-claude';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';
import { runCli, type CliRun } from '../support/cli-runs';

/** Due once, on 1 January 2099: never while the test runs. */
const FAR = '0 0 1 1 * 2099';
const MODEL = 'claude-sonnet-5-5';
const DIGEST = 'All quiet on the western front.';

let t: AgentEnv;
let agent: AgentClient;

/** Runs of `hold*` schedules call save_article (which waits for approval); every other run answers at once. */
function answer(request: RecordedRequest): FakeReply {
  if (!request.conversation.startsWith('hold')) return reply.text(DIGEST);
  const last = request.body.messages.at(-1);
  const answered = Array.isArray(last?.content) && last.content.some((b) => b.type === 'tool_result');
  return answered
    ? reply.text('Saved.')
    : reply.toolUse({ name: 'save_article', input: { abstract: 'a', meta: { word_count: 1, review: 'r' } } });
}

beforeAll(async () => {
  t = await startAgentEnv();
  agent = new AgentClient({ client: t.env.client, taskQueue: t.taskQueue });
  t.fake.script('*', answer);
}, 120_000);
afterAll(async () => {
  await t?.teardown();
});

/** The AgentError a call fails with (fails the test if it does not fail). */
async function failure(call: Promise<unknown>): Promise<AgentError> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AgentError);
  return err as AgentError;
}

/** Polls until `check` answers something (the schedule list is eventually consistent). */
async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not so after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function listed(id: string, predicate: (row: ConversationSchedule) => boolean = () => true) {
  return eventually(async () =>
    (await agent.schedules.list()).find((row) => row.scheduleId === id && predicate(row)),
  );
}

function result(workflowId: string): Promise<ConversationResult> {
  return t.env.client.workflow.getHandle(workflowId).result() as Promise<ConversationResult>;
}

describe('conversation schedules (client)', () => {
  it('create, then trigger: the run is a single-turn conversation that completes with the model text', async () => {
    const created = await agent.schedules.create({
      scheduleId: 'digest',
      cron: FAR,
      input: { model: MODEL, message: 'The daily digest, please.' },
    });
    expect(created).toMatchObject({
      scheduleId: 'digest',
      cron: [FAR],
      every: [],
      timezone: 'UTC',
      paused: false,
      overlap: 'skip',
      taskQueue: t.taskQueue,
      input: { model: MODEL, message: 'The daily digest, please.', singleTurn: true },
      recentRuns: [],
      lastRun: null,
      actionsTaken: 0,
    });
    expect(created.nextRuns[0]).toBe('2099-01-01T00:00:00.000Z');

    const triggered = await agent.schedules.trigger('digest');
    if (triggered.outcome !== 'started') throw new Error(`not started: ${triggered.outcome}`);
    expect(triggered.workflowId).toMatch(/^digest-\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const done = await result(triggered.workflowId);
    expect(done).toMatchObject({ status: 'completed', turns: 1, lastText: DIGEST });
    expect(JSON.stringify(t.requests(triggered.workflowId)[0].body.messages[0].content)).toContain(
      '"The daily digest, please."',
    );
    // Marked: the server's TemporalScheduledById, which `agent show` prints.
    expect(await agent.schedules.scheduledBy(triggered.workflowId)).toBe('digest');
    // ... which lists a schedule's runs from the visibility store.
    await eventually(async () => {
      const runs = [];
      for await (const wf of t.env.client.workflow.list({ query: 'TemporalScheduledById = "digest"' }))
        runs.push(wf.workflowId);
      return runs.length === 1 && runs[0] === triggered.workflowId ? true : undefined;
    });

    const described = await agent.schedules.describe('digest');
    expect(described.actionsTaken).toBe(1);
    expect(described.recentRuns.map((r) => r.workflowId)).toEqual([triggered.workflowId]);
    expect(described.lastRun).toMatchObject({ workflowId: triggered.workflowId, status: 'completed' });
  });

  it('list shows it with its times, next run and last run; only conversation schedules', async () => {
    // Someone else's schedule in the namespace: neither listed nor touched.
    await t.env.client.schedule.create({
      scheduleId: 'not-a-conversation',
      spec: { cronExpressions: [FAR] },
      action: { type: 'startWorkflow', workflowType: 'otherWorkflow', taskQueue: 'elsewhere' },
    });
    const row = await listed('digest', (r) => r.lastRun !== null);
    expect(row).toMatchObject({
      cron: [FAR],
      timezone: 'UTC',
      paused: false,
      nextRuns: ['2099-01-01T00:00:00.000Z'],
      lastRun: { workflowId: expect.stringMatching(/^digest-/), status: 'completed' },
    });
    expect(row.recentRuns).toHaveLength(1);
    await listed('digest');
    expect((await agent.schedules.list()).map((r) => r.scheduleId)).not.toContain('not-a-conversation');
    expect((await failure(agent.schedules.describe('not-a-conversation'))).code).toBe('not_found');
    expect((await failure(agent.schedules.delete('not-a-conversation'))).code).toBe('not_found');
    await t.env.client.schedule.getHandle('not-a-conversation').describe(); // still there
  });

  it('pause with a note, then unpause', async () => {
    await agent.schedules.pause('digest', 'on holiday');
    expect(await agent.schedules.describe('digest')).toMatchObject({ paused: true, note: 'on holiday' });
    await listed('digest', (r) => r.paused && r.note === 'on holiday');
    await agent.schedules.unpause('digest');
    expect(await agent.schedules.describe('digest')).toMatchObject({ paused: false, note: 'unpaused' });
  });

  it('overlap skip: a trigger while a run still goes starts nothing; allow_all for one trigger does; once none goes, one starts', async () => {
    await agent.schedules.create({
      scheduleId: 'hold',
      cron: FAR,
      input: { model: MODEL, message: 'Save an article.', tools: ['save_article'] },
    });
    const first = await agent.schedules.trigger('hold');
    if (first.outcome !== 'started') throw new Error(`not started: ${first.outcome}`);
    const handle = t.env.client.workflow.getHandle(first.workflowId);
    await t.waitFor(handle, (s) => s.status === 'awaiting_approval');

    expect(await agent.schedules.trigger('hold')).toEqual({ outcome: 'skipped' });
    const held = await agent.schedules.describe('hold');
    expect(held).toMatchObject({ actionsTaken: 1, skippedOverlap: 1, running: [first.workflowId] });
    expect(held.lastRun).toMatchObject({ workflowId: first.workflowId, status: 'awaiting_approval' });

    // Workflow ids carry the time to the second: let one pass, so the second run gets its own id (a
    // run with the id of a running one would not start).
    await new Promise((r) => setTimeout(r, 1100));
    const alongside = await agent.schedules.trigger('hold', { overlap: 'allow_all' });
    if (alongside.outcome !== 'started') throw new Error(`not started: ${alongside.outcome}`);
    expect(alongside.runId).not.toBe(first.runId);
    for (const id of [first.workflowId, alongside.workflowId]) {
      await t.waitFor(t.env.client.workflow.getHandle(id), (s) => s.status === 'awaiting_approval');
      await agent.end(id, 'test');
      expect(await result(id)).toMatchObject({ status: 'completed' });
    }
    // No run going any more: a trigger starts one again.
    await eventually(async () =>
      (await agent.schedules.describe('hold')).running.length === 0 ? true : undefined,
    );
    const again = await agent.schedules.trigger('hold');
    if (again.outcome !== 'started') throw new Error(`not started: ${again.outcome}`);
    await t.waitFor(
      t.env.client.workflow.getHandle(again.workflowId),
      (s) => s.status === 'awaiting_approval',
    );
    await agent.end(again.workflowId, 'test');
    await agent.schedules.delete('hold');
  });

  it('update changes the times, the time zone, the overlap policy or the input, and keeps the rest', async () => {
    const updated = await agent.schedules.update('digest', {
      cron: ['30 8 * * 1-5', '@daily # midnight too'],
      timezone: 'Europe/Paris',
      overlap: 'buffer_one',
    });
    expect(updated).toMatchObject({
      cron: ['30 8 * * 1-5', '0 0 * * * # midnight too'],
      every: [],
      timezone: 'Europe/Paris',
      overlap: 'buffer_one',
      input: { model: MODEL, message: 'The daily digest, please.', singleTurn: true },
    });
    const every = await agent.schedules.update('digest', {
      every: '90m',
      input: { model: MODEL, message: 'The hourly digest, please.' },
    });
    expect(every).toMatchObject({
      cron: [],
      every: ['90m'],
      timezone: 'Europe/Paris',
      input: { message: 'The hourly digest, please.', singleTurn: true },
    });
    const paris = await agent.schedules.update('digest', { timezone: 'America/New_York' });
    expect(paris).toMatchObject({ every: ['90m'], timezone: 'America/New_York', overlap: 'buffer_one' });
    expect((await failure(agent.schedules.update('digest', { input: { model: MODEL } }))).code).toBe(
      'invalid',
    );
    expect((await failure(agent.schedules.update('digest', { cron: '61 * * * *' }))).code).toBe('invalid');
    expect((await agent.schedules.describe('digest')).every).toEqual(['90m']);
  });

  it('delete: gone (not_found after), while the runs it started stay', async () => {
    const { recentRuns } = await agent.schedules.describe('digest');
    await agent.schedules.delete('digest');
    for (const call of [
      agent.schedules.describe('digest'),
      agent.schedules.pause('digest'),
      agent.schedules.trigger('digest'),
      agent.schedules.delete('digest'),
    ]) {
      const err = await failure(call);
      expect(err.code).toBe('not_found');
      expect(err.message).toBe('no conversation schedule with id digest');
    }
    await eventually(async () =>
      (await agent.schedules.list()).some((r) => r.scheduleId === 'digest') ? undefined : true,
    );
    expect((await agent.getState(recentRuns[0].workflowId)).status).toBe('completed');
  });

  it.each([
    ['a bad cron string', { cron: '61 * * * *' }, /invalid schedule: .*Minute is not in range/],
    ['a cron string of 3 fields', { cron: ['0 9 * * *', 'every morning'] }, /does not have 5-7 fields/],
    ['an unknown time zone', { cron: FAR, timezone: 'Mars/Olympus_Mons' }, /unknown time zone Mars/],
    ['a bad interval', { every: '5 parsecs' }, /invalid interval "5 parsecs"/],
    ['no times', {}, /needs its times/],
    ['a bad id', { cron: FAR, scheduleId: 'two words' }, /invalid schedule id "two words"/],
    ['an unknown overlap policy', { cron: FAR, overlap: 'never' as never }, /unknown overlap policy "never"/],
    ['no first message', { cron: FAR, input: { model: MODEL } }, /needs its first message/],
    ['no model and no agent', { cron: FAR, input: { message: 'Hi' } }, /invalid conversation input: model: /],
    ['a bad first message', { cron: FAR, input: { model: MODEL, message: [] } }, /message/],
  ])('%s: invalid, with a clear message, and nothing created', async (_name, options, message) => {
    const scheduleId =
      (options as { scheduleId?: string }).scheduleId ?? `bad-${Math.random().toString(36).slice(2)}`;
    const err = await failure(
      agent.schedules.create({ scheduleId, input: { model: MODEL, message: 'Hi' }, ...options }),
    );
    expect(err.code).toBe('invalid');
    expect(err.message).toMatch(message);
    expect((await failure(agent.schedules.describe(scheduleId))).code).toBe('not_found');
  });

  it('a taken id is refused, and the schedule holding it is unchanged', async () => {
    await agent.schedules.create({ scheduleId: 'dup', cron: FAR, input: { model: MODEL, message: 'first' } });
    const err = await failure(
      agent.schedules.create({ scheduleId: 'dup', every: '1h', input: { model: MODEL, message: 'second' } }),
    );
    expect(err.code).toBe('refused');
    expect(err.message).toMatch(/a schedule with id dup already exists/);
    expect(await agent.schedules.describe('dup')).toMatchObject({
      cron: [FAR],
      every: [],
      input: { message: 'first' },
    });
    await agent.schedules.delete('dup');
  });
});

describe('agent schedule (CLI)', () => {
  function cli(args: string[], stdin?: string, address = t.env.address): Promise<CliRun> {
    return runCli(args, {
      stdin,
      env: { TEMPORAL_ADDRESS: address, AGENT_TASK_QUEUE: t.taskQueue, AGENT_MODEL: MODEL },
    });
  }
  function ok(run: CliRun): CliRun {
    if (run.code !== 0) throw new Error(`exit ${run.code}: ${run.stderr}`);
    return run;
  }

  it('create (prompt from stdin), trigger, list, show, delete, each with --json', async () => {
    const create = ok(
      await cli(
        ['schedule', 'create', '-', '--cron', FAR, '--id', 'cli-digest', '--json'],
        'Digest from stdin.',
      ),
    );
    expect(JSON.parse(create.stdout)).toMatchObject({
      scheduleId: 'cli-digest',
      cron: [FAR],
      input: { model: MODEL, message: 'Digest from stdin.', singleTurn: true, tools: [] },
    });

    const trigger = JSON.parse(ok(await cli(['schedule', 'trigger', 'cli-digest', '--json'])).stdout) as {
      outcome: string;
      workflowId: string;
    };
    expect(trigger).toMatchObject({ scheduleId: 'cli-digest', outcome: 'started' });
    expect(await result(trigger.workflowId)).toMatchObject({ lastText: DIGEST });

    await listed('cli-digest');
    const list = JSON.parse(ok(await cli(['schedule', 'list', '--json'])).stdout) as ConversationSchedule[];
    expect(list.find((r) => r.scheduleId === 'cli-digest')).toMatchObject({
      cron: [FAR],
      recentRuns: [{ workflowId: trigger.workflowId }],
    });

    const [show, conversation] = await Promise.all([
      cli(['schedule', 'show', 'cli-digest']),
      cli(['show', trigger.workflowId]),
    ]);
    expect(ok(show).stdout).toContain('prompt: Digest from stdin.');
    expect(show.stdout).toContain(`last run: ${trigger.workflowId} completed`);
    expect(ok(conversation).stdout).toMatch(/^status: completed\n.*\nschedule: cli-digest\n/);

    const deleted = ok(await cli(['schedule', 'delete', 'cli-digest', '--json']));
    expect(JSON.parse(deleted.stdout)).toEqual({ scheduleId: 'cli-digest', deleted: true });
    const gone = await cli(['schedule', 'show', 'cli-digest', '--json']);
    expect(gone.code).toBe(4);
    expect(JSON.parse(gone.stdout)).toEqual({
      error: 'not_found',
      message: 'no conversation schedule with id cli-digest',
    });
  });

  it('--agent names the agent (which brings its model); --every, --timezone, --overlap, --paused', async () => {
    const run = ok(
      await cli([
        'schedule',
        'create',
        'Anything new?',
        '--every',
        '1h',
        '--agent',
        'helper',
        '--id',
        'cli-agent',
        '--overlap',
        'buffer_one',
        '--paused',
        '--note',
        'not yet',
        '--json',
      ]),
    );
    const created = JSON.parse(run.stdout) as ScheduleDetails;
    expect(created).toMatchObject({
      scheduleId: 'cli-agent',
      cron: [],
      every: ['1h'],
      overlap: 'buffer_one',
      paused: true,
      note: 'not yet',
      input: { agent: 'helper', message: 'Anything new?', singleTurn: true },
    });
    expect(created.input).not.toHaveProperty('model');
    const paris = ok(
      await cli(['schedule', 'create', 'Bonjour', '--cron', '0 9 * * 1-5', '--timezone', 'Europe/Paris']),
    );
    const id = /^created schedule (schedule-[0-9a-f-]+)\n/.exec(paris.stdout)?.[1];
    expect(paris.stdout).toContain('times: cron "0 9 * * 1-5" (Europe/Paris)');
    expect(await agent.schedules.describe(id!)).toMatchObject({
      input: { model: MODEL, message: 'Bonjour' },
    });
    await Promise.all([agent.schedules.delete('cli-agent'), agent.schedules.delete(id!)]);
  });

  it('argument errors exit 2 before connecting; a cron string the server refuses exits 2; a taken id 3', async () => {
    const dead = '127.0.0.1:1';
    const [noTimes, badEvery, badAgent, badCron, taken, agentAndModel] = await Promise.all([
      cli(['schedule', 'create', 'Hi'], undefined, dead),
      cli(['schedule', 'create', 'Hi', '--every', '1 hour'], undefined, dead),
      cli(['schedule', 'create', 'Hi', '--cron', FAR, '--agent', 'no spaces'], undefined, dead),
      cli(['schedule', 'create', 'Hi', '--cron', '0 25 * * *', '--json']),
      agent.schedules
        .create({ scheduleId: 'cli-taken', cron: FAR, input: { model: MODEL, message: 'Hi' } })
        .then(() => cli(['schedule', 'create', 'Hi', '--cron', FAR, '--id', 'cli-taken'])),
      cli(['schedule', 'create', 'Hi', '--cron', FAR, '--agent', 'helper', '--model', 'm'], undefined, dead),
    ]);
    expect([noTimes.code, badEvery.code, badAgent.code, badCron.code, taken.code]).toEqual([2, 2, 2, 2, 3]);
    expect(agentAndModel.code).toBe(2);
    expect(agentAndModel.stderr).toMatch(/--model cannot be given with --agent/);
    expect(noTimes.stderr).toMatch(/needs --cron EXPR \(one or more\) or --every INTERVAL/);
    expect(badEvery.stderr).toMatch(/--every must be a whole number/);
    expect(badAgent.stderr).toMatch(/--agent: "no spaces" is not an agent name/);
    expect(JSON.parse(badCron.stdout)).toMatchObject({
      error: 'invalid',
      message: expect.stringMatching(/invalid schedule: .*Hour is not in range/),
    });
    expect(taken.stderr).toMatch(/a schedule with id cli-taken already exists/);
  });
});
