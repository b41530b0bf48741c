/** The example scripts under examples/ run against a real stack (worker process, ops hub, dev server). */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { reply } from '../../src/testing/fake-claude';
import { createOpsServer } from '../../src/ops/server';
import { CrashStack, until } from '../support/stack';

const ROOT = join(__dirname, '..', '..');
const TOKEN = 'examples-token-0123456789abcdef';
let stack: CrashStack;
let ops: FastifyInstance;
let base: string;

beforeAll(async () => {
  stack = await CrashStack.start();
  ops = await createOpsServer({ agent: stack.agent, token: TOKEN, namespace: 'default' });
  base = await ops.listen({ host: '127.0.0.1', port: 0 });
  stack.extraEnv = { AGENT_STREAM_URL: base, OPS_TOKEN: TOKEN };
  await stack.startWorker();
}, 120_000);
afterAll(async () => {
  await ops?.close();
  await stack?.close();
});

function runExample(
  name: string,
  args: string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'examples', name), ...args],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: stack.address,
          AGENT_TASK_QUEUE: 'crash-test',
          OPS_URL: base,
          OPS_TOKEN: TOKEN,
        },
      },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('examples/', () => {
  it('start-and-stream.ts starts a conversation and streams it live', async () => {
    stack.fake.script('*', (request) => {
      const last = request.body.messages.at(-1)!;
      const answered = Array.isArray(last.content) && last.content.some((b) => b.type === 'tool_result');
      return answered
        ? reply.text('It is mild in Paris today.', { chunkSize: 4 })
        : reply.toolUse({ name: 'get_weather', input: { location: 'Paris' } }, { text: 'Let me check.' });
    });
    const { code, stdout, stderr } = await runExample('start-and-stream.ts', ['Weather in Paris?']);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/conversation conversation-/);
    expect(stdout).toContain('>>> Tool Call: "get_weather"');
    expect(stdout).toContain('final answer: It is mild in Paris today.');
  }, 60_000);

  it('list-pending.ts and approve-from-script.ts find and decide waiting calls', async () => {
    const short = { abstract: 'Short.', meta: { word_count: 1, review: 'ok' } };
    const long = { abstract: 'x'.repeat(600), meta: { word_count: 600, review: 'long' } };
    for (const [id, input] of [
      ['example-short', short],
      ['example-long', long],
    ] as const) {
      stack.fake.script(id, [
        reply.toolUse({ name: 'save_article', input, id: 'toolu_ex' }),
        reply.text('Handled.'),
      ]);
      await stack.agent.startConversation(
        { model: 'claude-sonnet-5-5', message: 'Save', tools: ['save_article'], singleTurn: true },
        { workflowId: id },
      );
    }
    await until('both to wait', async () => (await stack.agent.listPendingApprovals()).length === 2);
    const listed = await runExample('list-pending.ts');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain('2 pending');
    expect(listed.stdout).toMatch(/example-short toolu_ex save_article/);

    const decided = await runExample('approve-from-script.ts');
    expect(decided.code).toBe(0);
    expect(decided.stdout).toContain('approve example-short toolu_ex');
    expect(decided.stdout).toContain('reject example-long toolu_ex');
    await stack.agent.client.workflow.getHandle('example-short').result();
    await stack.agent.client.workflow.getHandle('example-long').result();
    expect(await stack.articles('example-short')).toHaveLength(1);
    expect(await stack.articles('example-long')).toHaveLength(0);
  }, 60_000);
});
