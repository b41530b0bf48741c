/**
 * The memory tool through the real workflow on a dev server, the same scenarios against the filesystem
 * backend and PostgreSQL (a server this file starts): the six commands as the model calls them, a
 * delete that waits for an operator, a traversal attempt answered as an error, tenants kept apart, a
 * retried activity after its write that does not write twice, and (PostgreSQL) a worker with other
 * connections, as on another machine, that sees the same memory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { defineAgent } from '../../src/agents/define-agent';
import { decideToolCallUpdate } from '../../src/api/approvals';
import type { ConversationResult } from '../../src/api/conversation';
import { reply, type FakeReply } from '../../src/testing/fake-claude';
import { FilesystemMemoryStore } from '../../src/memory/filesystem';
import { PostgresMemoryStore } from '../../src/memory/postgres';
import { MemoryUnavailableError, type MemoryBackendKind, type MemoryStore } from '../../src/memory/store';
import { MemoryBackends } from '../../src/memory/tool';
import { startPostgres, type PostgresServer } from '../../src/testing/postgres';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';

const BACKENDS: MemoryBackendKind[] = ['filesystem', 'postgres'];
const agentOf = (backend: MemoryBackendKind) => `keeper-${backend === 'filesystem' ? 'fs' : 'pg'}`;
const agents = BACKENDS.map((backend) =>
  defineAgent({
    name: agentOf(backend),
    model: 'claude-sonnet-5-5',
    system: 'You remember things.',
    memory: { backend, approval: { delete: true } },
  }),
);

/**
 * A real store whose first write under a key ending in `/toolu_flaky` fails after it is applied, as
 * when the database's answer to COMMIT (or the worker) is lost: the activity fails and is retried.
 */
function failingAfterWrite(store: MemoryStore, attempts: Map<string, number>): MemoryStore {
  return {
    kind: store.kind,
    view: (scope) => store.view(scope),
    close: () => store.close(),
    async write(scope, key, plan) {
      const result = await store.write(scope, key, plan);
      if (!key.endsWith('/toolu_flaky')) return result;
      const n = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, n);
      if (n === 1) throw new MemoryUnavailableError('connection lost after the write');
      return result;
    },
  };
}

let t: AgentEnv;
let pg: PostgresServer;
let memory: MemoryBackends;
const fsDir = mkdtempSync(join(tmpdir(), 'memory-int-'));
const attempts = new Map<string, number>();

beforeAll(async () => {
  pg = await startPostgres();
  memory = new MemoryBackends({
    filesystem: failingAfterWrite(new FilesystemMemoryStore({ dir: fsDir }), attempts),
    postgres: failingAfterWrite(new PostgresMemoryStore({ connectionString: pg.url }), attempts),
  });
  t = await startAgentEnv({ agents, memory });
}, 120_000);

afterAll(async () => {
  await t?.teardown();
  await memory?.close();
  await pg?.stop();
  rmSync(fsDir, { recursive: true, force: true });
});

const call = (id: string, input: Record<string, unknown>): FakeReply =>
  reply.toolUse({ name: 'memory', input, id: `toolu_${id}` });

/** Starts a single-turn conversation of `agent` for `tenant`, scripted with `replies`. */
async function converse(backend: MemoryBackendKind, tenant: string | undefined, replies: FakeReply[]) {
  const handle = await t.start({
    agent: agentOf(backend),
    message: 'Remember.',
    singleTurn: true,
    ...(tenant && { tenant }),
  });
  t.fake.script(handle.workflowId, replies);
  return handle;
}

const results = (workflowId: string) =>
  t.toolResults(workflowId).map((r) => ({ text: String(r.content), error: r.is_error === true }));

describe.each(BACKENDS)('memory on %s', (backend) => {
  it('runs the six commands as the model calls them; a delete waits for an operator', async () => {
    const handle = await converse(backend, 'acme', [
      call('create', { command: 'create', path: '/memories/notes.md', file_text: 'alpha\nbeta' }),
      call('profile', { command: 'create', path: '/memories/profile.md', file_text: 'likes tea' }),
      call('replace', {
        command: 'str_replace',
        path: '/memories/notes.md',
        old_str: 'beta',
        new_str: 'BETA',
      }),
      call('insert', { command: 'insert', path: '/memories/notes.md', insert_line: 2, insert_text: 'gamma' }),
      call('rename', {
        command: 'rename',
        old_path: '/memories/notes.md',
        new_path: '/memories/archive/notes.md',
      }),
      call('view', { command: 'view', path: '/memories' }),
      call('escape', { command: 'view', path: '/memories/../../etc/passwd' }),
      call('delete', { command: 'delete', path: '/memories/archive' }),
      reply.text('Noted.'),
    ]);
    const waiting = await t.waitFor(handle, (s) => s.pendingApprovals.length === 1);
    expect(waiting.pendingApprovals[0]).toMatchObject({
      toolUseId: 'toolu_delete',
      name: 'memory',
      input: { command: 'delete', path: '/memories/archive' },
    });
    // Nothing deleted while it waits: the model's request so far ends with the traversal's error.
    expect(results(handle.workflowId).at(-1)).toEqual({
      text: 'Tool memory failed: Path /memories/../../etc/passwd would escape /memories directory',
      error: true,
    });
    await handle.executeUpdate(decideToolCallUpdate, {
      args: [{ toolUseId: 'toolu_delete', decision: 'approve', decidedBy: 'ops' }],
    });
    const result = (await handle.result()) as ConversationResult;
    expect(result.lastText).toBe('Noted.');
    expect(results(handle.workflowId)).toEqual([
      { text: 'File created successfully at: /memories/notes.md', error: false },
      { text: 'File created successfully at: /memories/profile.md', error: false },
      {
        text: 'The memory file has been edited. Here is the snippet showing the change (with line numbers):\n     1\talpha\n     2\tBETA',
        error: false,
      },
      { text: 'The file /memories/notes.md has been edited.', error: false },
      { text: 'Successfully renamed /memories/notes.md to /memories/archive/notes.md', error: false },
      {
        text: "Here're the files and directories up to 2 levels deep in /memories, excluding hidden items and node_modules:\n25B\t/memories\n16B\t/memories/archive/\n16B\t/memories/archive/notes.md\n9B\t/memories/profile.md",
        error: false,
      },
      {
        text: 'Tool memory failed: Path /memories/../../etc/passwd would escape /memories directory',
        error: true,
      },
      { text: 'Successfully deleted /memories/archive', error: false },
    ]);
    // The API got the tool as its own type, no schema of ours.
    expect(t.requests(handle.workflowId)[0].body.tools).toEqual([
      expect.objectContaining({ type: 'memory_20250818', name: 'memory' }),
    ]);
  });

  it('keeps tenants apart: another tenant sees an empty memory, the same one its files', async () => {
    const other = await converse(backend, 'globex', [
      call('look', { command: 'view', path: '/memories' }),
      reply.text('Nothing yet.'),
    ]);
    const same = await converse(backend, 'acme', [
      call('look', { command: 'view', path: '/memories/profile.md' }),
      reply.text('Tea it is.'),
    ]);
    await Promise.all([other.result(), same.result()]);
    expect(results(other.workflowId)).toEqual([
      {
        text: "Here're the files and directories up to 2 levels deep in /memories, excluding hidden items and node_modules:\n0B\t/memories",
        error: false,
      },
    ]);
    expect(results(same.workflowId)).toEqual([
      {
        text: "Here's the content of /memories/profile.md with line numbers:\n     1\tlikes tea",
        error: false,
      },
    ]);
  });

  it('writes once when the activity is retried after its write', async () => {
    const handle = await converse(backend, undefined, [
      call('log', { command: 'create', path: '/memories/log.md', file_text: 'first' }),
      call('flaky', { command: 'insert', path: '/memories/log.md', insert_line: 1, insert_text: 'second' }),
      call('check', { command: 'view', path: '/memories/log.md' }),
      reply.text('Logged.'),
    ]);
    await handle.result();
    expect(attempts.get(`${handle.workflowId}/toolu_flaky`)).toBe(2);
    expect(results(handle.workflowId)).toEqual([
      { text: 'File created successfully at: /memories/log.md', error: false },
      { text: 'The file /memories/log.md has been edited.', error: false },
      {
        text: "Here's the content of /memories/log.md with line numbers:\n     1\tfirst\n     2\tsecond",
        error: false,
      },
    ]);
    // Temporal retried the activity: its second attempt answered from the write's record.
    const history = await handle.fetchHistory();
    const retried = history.events!.filter((e) => e.activityTaskStartedEventAttributes?.attempt === 2);
    expect(retried).toHaveLength(1);
  });
});

describe('memory on postgres, from another worker', () => {
  it('is the same memory for a worker with its own connections (and an empty local directory)', async () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'memory-other-'));
    const other = new MemoryBackends({
      filesystem: new FilesystemMemoryStore({ dir: elsewhere }),
      postgres: new PostgresMemoryStore({ connectionString: pg.url }),
    });
    try {
      await t.restartWorker({ memory: other });
      const handle = await converse('postgres', 'acme', [
        call('look', { command: 'view', path: '/memories/profile.md' }),
        call('more', {
          command: 'str_replace',
          path: '/memories/profile.md',
          old_str: 'tea',
          new_str: 'green tea',
        }),
        reply.text('Green tea.'),
      ]);
      await handle.result();
      expect(results(handle.workflowId).map((r) => r.text)).toEqual([
        "Here's the content of /memories/profile.md with line numbers:\n     1\tlikes tea",
        expect.stringMatching(/^The memory file has been edited\..*\n {5}1\tlikes green tea$/s),
      ]);
      // The filesystem agent on this worker has its own (empty) directory: memory there is per machine.
      const local = await converse('filesystem', 'acme', [
        call('look', { command: 'view', path: '/memories/profile.md' }),
        reply.text('Nothing here.'),
      ]);
      await local.result();
      expect(results(local.workflowId)[0]).toEqual({
        text: 'Tool memory failed: The path /memories/profile.md does not exist. Please provide a valid path.',
        error: true,
      });
    } finally {
      await t.restartWorker({ memory });
      await other.close();
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });
});

it('replays every conversation it ran', async () => {
  expect(await t.replayHistories()).toBeGreaterThanOrEqual(9);
});
