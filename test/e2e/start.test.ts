/**
 * `npm start` from the outside: it starts the dev server, the fake API in demo mode, the worker and the
 * ops server; the page is served; a demo conversation (a tool call, approved) completes; Ctrl-C (SIGINT
 * to the process group, as a terminal sends it) stops everything and leaves no process behind.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentClient } from '../../src/client';
import { freePort } from '../../src/testing/ports';
import { processesMatching } from '../support/processes';

const ROOT = join(__dirname, '..', '..');
const home = mkdtempSync(join(tmpdir(), 'npm-start-'));
let child: ChildProcess | undefined;

afterAll(() => {
  if (child?.pid && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
  rmSync(home, { recursive: true, force: true });
});

describe('npm start', () => {
  it('starts everything, runs a demo conversation, and stops cleanly on Ctrl-C', async () => {
    const [temporalPort, uiPort, opsPort] = [await freePort(), await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
      TEMPORAL_UI_PORT: String(uiPort),
      OPS_PORT: String(opsPort),
      AGENT_STATE_DIR: join(home, 'state'),
      AGENT_DATA_DIR: join(home, 'data'),
      AGENT_TASK_QUEUE: 'npm-start-test',
    };
    delete env.ANTHROPIC_API_KEY;
    delete env.ANTHROPIC_BASE_URL;
    // Its own process group, like a terminal's foreground job.
    child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'start.ts')], {
      cwd: ROOT,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const deadline = Date.now() + 60_000;
    while (!output.includes('[start] ready')) {
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`npm start did not become ready:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(output).toContain('DEMO MODE');
    const token = /token: (\S+)/.exec(output)![1];

    // The page and its API.
    let page: Response | undefined;
    for (let i = 0; i < 100 && !page?.ok; i++) {
      page = await fetch(`http://127.0.0.1:${opsPort}/`).catch(() => undefined);
      if (!page?.ok) await new Promise((r) => setTimeout(r, 200));
    }
    expect(page?.status).toBe(200);
    expect(
      (
        await fetch(`http://127.0.0.1:${opsPort}/api/session`, {
          headers: { authorization: `Bearer ${token}` },
        })
      ).status,
    ).toBe(200);

    // The README's first conversation, with the demo agent: the demo model calls refund (over $100:
    // it waits for approval); approve it; it completes.
    const agent = await AgentClient.connect({
      address: env.TEMPORAL_ADDRESS!,
      namespace: 'default',
      taskQueue: 'npm-start-test',
    });
    const { workflowId, agent: support } = await agent.startConversation({
      agent: 'support',
      message: 'Refund order A4: the tent arrived torn',
      singleTurn: true,
    });
    // Its tools: its own, the help center's (an MCP server the worker started) and a sub-agent.
    expect(support?.tools.map((t) => t.name)).toEqual([
      'lookup_order',
      'refund',
      'help__search_articles',
      'weather',
    ]);
    let pending: Awaited<ReturnType<AgentClient['listPendingApprovals']>> = [];
    for (let i = 0; i < 150 && pending.length === 0; i++) {
      pending = (await agent.listPendingApprovals().catch(() => [])).filter(
        (p) => p.workflowId === workflowId,
      );
      if (pending.length === 0) await new Promise((r) => setTimeout(r, 200));
    }
    expect(pending).toMatchObject([{ name: 'refund', input: { orderId: 'A4', amount: 349 } }]);
    await agent.decide(workflowId, {
      toolUseId: pending[0].toolUseId,
      decision: 'approve',
      decidedBy: 'smoke-test',
    });
    const result = await agent.client.workflow.getHandle(workflowId).result();
    expect(result).toMatchObject({
      status: 'completed',
      lastText: expect.stringContaining('refund returned'),
    });
    await agent.client.connection.close();

    // Ctrl-C.
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    process.kill(-child.pid!, 'SIGINT');
    expect(await exited).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    expect([...processesMatching([home]).values()]).toEqual([]);
  }, 120_000);
});
