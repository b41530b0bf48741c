/**
 * Encryption at rest: with a key set, no plaintext of the conversation is in the server's history; the
 * right key reads it back; a wrong or missing key fails with a clear error; keys rotate; the ops server's
 * codec endpoints round-trip for the Temporal UI, authenticated, CORS for the UI's origin only.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { decideToolCallUpdate } from '../../src/api/approvals';
import { AgentClient } from '../../src/client';
import { EncryptionCodec } from '../../src/codec';
import { FakeClaude, reply } from '../../src/testing/fake-claude';
import { createOpsServer } from '../../src/ops/server';
import { installQuietRuntime, startDevServer, workflowBundle } from '../../src/testing';
import { builtinTools } from '../../src/tools/builtin';
import { anthropicClient, createAgentWorker } from '../../src/worker';

const SECRET = 'CUSTOMER-SECRET-7f3a9';
const k1 = randomBytes(32);
const codec = new EncryptionCodec({ keys: { k1 }, activeKeyId: 'k1' });
let env: TestWorkflowEnvironment;
let fake: FakeClaude;
let dataDir: string;
const workers: Array<{ worker: Worker; running: Promise<void> }> = [];

async function startWorker(taskQueue: string, withCodec: boolean) {
  const worker = await createAgentWorker({
    connection: env.nativeConnection,
    taskQueue,
    anthropic: anthropicClient({ apiKey: 'k', baseURL: fake.url }),
    tools: builtinTools({ dataDir }),
    workflowBundle: await workflowBundle(),
    ...(withCodec && { codec }),
  });
  workers.push({ worker, running: worker.run() });
}

const client = (c?: EncryptionCodec) =>
  new AgentClient({
    client: new Client({ connection: env.connection, dataConverter: c ? { payloadCodecs: [c] } : undefined }),
    taskQueue: 'codec',
  });

beforeAll(async () => {
  installQuietRuntime('ERROR');
  env = await startDevServer();
  fake = await FakeClaude.start();
  dataDir = mkdtempSync(join(tmpdir(), 'codec-'));
  await startWorker('codec', true);
  await startWorker('plain', false);
});
afterAll(async () => {
  for (const { worker, running } of workers) {
    worker.shutdown();
    await running;
  }
  await fake?.close();
  await env?.teardown();
  rmSync(dataDir, { recursive: true, force: true });
});

async function conversation(agent: AgentClient, workflowId: string): Promise<Buffer> {
  fake.script(workflowId, [
    reply.toolUse(
      {
        name: 'save_article',
        id: 'toolu_s',
        input: { abstract: `About ${SECRET}.`, meta: { word_count: 3, review: SECRET } },
      },
      { text: `Saving ${SECRET}.` },
    ),
    reply.text(`Saved ${SECRET}.`),
  ]);
  await agent.startConversation(
    {
      model: 'claude-sonnet-5-5',
      message: `Please save ${SECRET}`,
      tools: ['save_article'],
      singleTurn: true,
    },
    { workflowId },
  );
  const handle = agent.client.workflow.getHandle(workflowId);
  for (let i = 0; i < 200; i++) {
    const state = await agent.getState(workflowId, { from: 0, to: 0 }).catch(() => undefined);
    if (state?.status === 'awaiting_approval') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await handle.executeUpdate(decideToolCallUpdate, {
    args: [
      {
        toolUseId: 'toolu_s',
        decision: 'edit',
        input: { abstract: `Edited ${SECRET}`, meta: { word_count: 2, review: 'ok' } },
        decidedBy: 'ops',
      },
    ],
  });
  await handle.result();
  // The raw history, as the server stores it (read with no codec).
  const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
  return Buffer.from(temporal.api.history.v1.History.encode(history).finish());
}

describe('payload encryption', () => {
  it('keeps every payload of the conversation encrypted in history; the right key reads it', async () => {
    const control = new AgentClient({
      client: new Client({ connection: env.connection }),
      taskQueue: 'plain',
    });
    expect((await conversation(control, `plain-${Date.now()}`)).includes(SECRET)).toBe(true); // the check can fail

    const agent = client(codec);
    const id = `encrypted-${Date.now()}`;
    const raw = await conversation(agent, id);
    expect(raw.includes(SECRET)).toBe(false);
    expect(raw.includes('binary/encrypted')).toBe(true);
    const state = await agent.getState(id);
    expect(JSON.stringify(state.messages)).toContain(`Saved ${SECRET}.`);
    expect(state.decisions[0].input).toEqual({
      abstract: `Edited ${SECRET}`,
      meta: { word_count: 2, review: 'ok' },
    });

    // A wrong key, or none that matches, fails with a clear error.
    const wrong = client(new EncryptionCodec({ keys: { k1: randomBytes(32) }, activeKeyId: 'k1' }));
    await expect(wrong.client.workflow.getHandle(id).result()).rejects.toThrow(
      /cannot decrypt a payload with key "k1": the key is wrong/,
    );
    const other = client(new EncryptionCodec({ keys: { k2: randomBytes(32) }, activeKeyId: 'k2' }));
    await expect(other.client.workflow.getHandle(id).result()).rejects.toThrow(
      /encrypted with key "k1", which this process does not have/,
    );
    // Rotation: a process with the old key listed reads old payloads while writing with the new one.
    const rotated = client(new EncryptionCodec({ keys: { k1, k2: randomBytes(32) }, activeKeyId: 'k2' }));
    expect((await rotated.client.workflow.getHandle(id).result()).lastText).toBe(`Saved ${SECRET}.`);
  });

  it('refuses keys of the wrong size', () => {
    expect(() => new EncryptionCodec({ keys: { k: randomBytes(16) }, activeKeyId: 'k' })).toThrow(/32 bytes/);
  });
});

describe('ops codec endpoints', () => {
  let ops: FastifyInstance;
  let base: string;
  const TOKEN = 'codec-token-0123456789abcdef';
  beforeAll(async () => {
    ops = await createOpsServer({
      agent: client(codec),
      token: TOKEN,
      namespace: 'default',
      codec,
      codecCorsOrigin: 'http://localhost:8233',
    });
    base = await ops.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await ops?.close();
  });

  it('encode then decode gives back the payloads; the token is required; CORS only for the UI origin', async () => {
    const payloads = [
      {
        metadata: { encoding: Buffer.from('json/plain').toString('base64') },
        data: Buffer.from(JSON.stringify({ secret: SECRET })).toString('base64'),
      },
    ];
    const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...headers },
        body: JSON.stringify(body),
      });
    const encoded = (await (await post('/codec/encode', { payloads })).json()) as {
      payloads: Array<{ data: string }>;
    };
    expect(Buffer.from(encoded.payloads[0].data, 'base64').includes(SECRET)).toBe(false);
    const decoded = (await (await post('/codec/decode', encoded)).json()) as { payloads: unknown[] };
    expect(decoded.payloads).toEqual(payloads);

    expect(
      (
        await fetch(`${base}/codec/decode`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(encoded),
        })
      ).status,
    ).toBe(401);
    const preflight = await fetch(`${base}/codec/decode`, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:8233', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('http://localhost:8233');
    const fromUi = await post('/codec/decode', encoded, { origin: 'http://localhost:8233' });
    expect(fromUi.status).toBe(200);
    expect((await post('/codec/decode', encoded, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await post('/api/approvals', {}, { origin: 'http://localhost:8233' })).status).toBe(403);
  });
});
