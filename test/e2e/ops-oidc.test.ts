/**
 * OpenID Connect sign-in in Chromium: a real OpenID provider (oidc-provider, test/support/oidc-provider.mjs)
 * and the real ops server process (`npm run ops`: openid-client is an ES module, loaded there as Node
 * loads it) over a real dev server, worker process and fake Messages API. The operator signs in at the
 * provider (authorization code + PKCE), approves a call, and the decision is recorded under the
 * provider's identity, with its groups, never a typed name.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { stateQuery } from '../../src/api/conversation';
import { reply } from '../../src/testing/fake-claude';
import { freePort } from '../../src/testing/ports';
import { CrashStack } from '../support/stack';
import { launchChromium } from '../support/chromium';

const ROOT = join(__dirname, '..', '..');
const TOKEN = 'oidc-e2e-token-0123456789abcdef';
let stack: CrashStack;
let provider: ChildProcess;
let ops: ChildProcess;
let base: string;
let browser: Browser;

/** Starts a process and resolves with the first stdout line matching `ready`. */
function startProcess(
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: RegExp,
): Promise<[ChildProcess, string]> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready: ${out}\n${err}`)), 60_000);
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = ready.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve([child, match[1]]);
      }
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}\n${err}`)));
  });
}

beforeAll(async () => {
  stack = await CrashStack.start();
  await stack.startWorker();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  let issuer: string;
  [provider, issuer] = await startProcess(
    [
      join(ROOT, 'test', 'support', 'oidc-provider.mjs'),
      `${base}/auth/oidc/callback`,
      'approver',
      'finance,ops',
    ],
    process.env,
    /"issuer":"([^"]+)"/,
  );
  [ops] = await startProcess(
    ['--import', 'tsx', join(ROOT, 'src', 'ops', 'main.ts')],
    {
      ...process.env,
      TEMPORAL_ADDRESS: stack.address,
      AGENT_TASK_QUEUE: stack.agent.taskQueue,
      OPS_HOST: '127.0.0.1',
      OPS_PORT: String(port),
      OPS_TOKEN: TOKEN,
      OPS_PUBLIC_URL: base,
      OPS_OIDC_ISSUER: issuer,
      OPS_OIDC_CLIENT_ID: 'ops',
      OPS_OIDC_CLIENT_SECRET: 'ops-secret-0123456789',
      // The tests below play several clients behind one proxy (X-Forwarded-For).
      OPS_TRUSTED_PROXIES: '127.0.0.1',
      AGENT_STATE_DIR: mkdtempSync(join(tmpdir(), 'ops-oidc-')),
    },
    /ops: (http\S+)/,
  );
  browser = await launchChromium();
}, 180_000);
afterAll(async () => {
  await browser?.close();
  ops?.kill();
  provider?.kill();
  await stack?.close();
});

describe('OpenID Connect sign-in in Chromium', () => {
  it('signs in at the provider, approves a call; decidedBy is the OIDC identity', async () => {
    const workflowId = `oidc-${process.pid}`;
    const toolUseId = 'toolu_oidc_1';
    stack.fake.script(workflowId, [
      reply.toolUse({
        name: 'save_article',
        input: { abstract: 'Signed in elsewhere.', meta: { word_count: 3, review: 'ok' } },
        id: toolUseId,
      }),
      reply.text('Saved.'),
    ]);
    await stack.agent.startConversation(
      { model: 'claude-haiku-4-5', message: 'Save it', tools: ['save_article'], singleTurn: true },
      { workflowId },
    );
    const page = await browser.newPage();
    await page.goto(`${base}/`);
    await page.getByTestId('login-oidc').click();
    // oidc-provider's development login form, then its consent form.
    await page.locator('input[name="login"]').fill('alice@corp');
    await page.locator('input[name="password"]').fill('anything');
    await page.locator('button[type="submit"]').click();
    const consent = page.locator('button[type="submit"]');
    await page.waitForURL((url) => url.origin === base || /interaction/.test(url.pathname));
    if (new URL(page.url()).origin !== base) await consent.click();
    await page.locator('#who').filter({ hasText: 'Signed in as alice@corp (approver)' }).waitFor();
    const card = page.locator(`[data-testid="approval-card"][data-tool-use-id="${toolUseId}"]`);
    await card.waitFor({ timeout: 20_000 });
    await card.getByTestId('approve').click();
    await card.waitFor({ state: 'detached', timeout: 15_000 });
    const state = await stack.agent.client.workflow.getHandle(workflowId).query(stateQuery, { from: -1 });
    expect(state.decisions[0]).toMatchObject({
      decision: 'approve',
      // The provider's subject is the person; the name it gave is the label after the slash.
      decidedBy: 'oidc:alice%40corp/alice@corp',
      groups: ['finance', 'ops'],
      channel: 'ops',
    });
  });
});

describe('sign-in limits with OpenID Connect (second probe, finding 1)', () => {
  it('callbacks with a state nobody started cost nobody anything: no lockout of tokens or sign-ins', async () => {
    // What an <img src=".../auth/oidc/callback?state=junk"> on any page makes a browser send.
    for (let i = 0; i < 12; i++) {
      const res = await fetch(`${base}/auth/oidc/callback?state=junk-${i}`, { redirect: 'manual' });
      // Back to the page, which says what went wrong (and nothing is counted against anyone).
      expect(res.status).toBe(303);
      expect(decodeURIComponent(res.headers.get('location') ?? '')).toMatch(/expired or was not started/);
    }
    // Not counted as failed sign-ins: a wrong token is a plain 401 (the 11th failure would be 429) ...
    const wrong = await fetch(`${base}/api/session`, { headers: { authorization: 'Bearer not-a-token' } });
    expect(wrong.status).toBe(401);
    // ... and the right one gets in.
    const right = await fetch(`${base}/api/session`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(right.status).toBe(200);
  });

  it("one client starting sign-ins without end cannot block anyone else's (finding 6)", async () => {
    const start = (client: string) =>
      fetch(`${base}/auth/oidc/login`, { redirect: 'manual', headers: { 'x-forwarded-for': client } });
    // More than the whole table holds (10,000), from one address: it keeps only its 20 newest.
    let next = 0;
    const lane = async () => {
      for (let i = next++; i < 10_050; i = next++) {
        const res = await start('203.0.113.66');
        expect(res.status).toBe(303);
        await res.arrayBuffer();
      }
    };
    await Promise.all(Array.from({ length: 16 }, lane));
    const other = await start('198.51.100.7');
    expect(other.status).toBe(303);
    expect(other.headers.get('location')).toContain('/auth?');
  }, 120_000);
});
