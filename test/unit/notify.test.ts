/**
 * Notifications' pure parts: the JSON and Slack bodies (links, escaping, bounds), the signature a
 * receiver checks, the configuration rules, and the `notify` activity's decisions (what is retried,
 * what a retry skips) against a real HTTP receiver under MockActivityEnvironment.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { ApplicationFailure } from '@temporalio/common';
import { loadConfig } from '../../src/config';
import {
  MAX_INPUT_SUMMARY_CHARS,
  summarizeInput,
  type ApprovalWaitingEvent,
  type NeedsAttentionEvent,
} from '../../src/api/notifications';
import { targetKey, webhookConfig, type WebhookConfig } from '../../src/notify/config';
import { createNotify, deliveryId, retryAfter, webhookBody } from '../../src/notify/deliver';
import { conversationLink, escapeMrkdwn, slackCode, slackPayload } from '../../src/notify/payload';
import { signBody, verifySignature } from '../../src/notify/signature';

const waiting: ApprovalWaitingEvent = {
  kind: 'approval.waiting',
  workflowId: 'conv <!channel> & co',
  agent: 'support',
  toolUseId: 'toolu_1',
  tool: 'refund',
  ...summarizeInput({ orderId: 'A4', note: '<https://evil.example|click here> <@U123> ```x``` & more' }),
  turn: 2,
  requestedAt: '2026-01-01T00:00:00.000Z',
  deadline: '2026-01-02T00:00:00.000Z',
};
const parked: NeedsAttentionEvent = {
  kind: 'conversation.needs_attention',
  workflowId: 'conv-2',
  reason: 'api_error',
  message: 'invalid x-api-key <!here>',
  at: '2026-01-01T00:00:00.000Z',
};

describe('payloads', () => {
  it('links to the conversation view of the ops page, the id encoded', () => {
    expect(conversationLink('https://ops.example.com/', 'a/b c#d')).toBe(
      'https://ops.example.com/#/conversations/a%2Fb%20c%23d',
    );
    expect(conversationLink('https://ops.example.com/base', 'x')).toBe(
      'https://ops.example.com/base/#/conversations/x',
    );
  });

  it('the JSON body carries the call, the deadline, the link and the delivery id', () => {
    const body = JSON.parse(
      webhookBody({ publicUrl: 'https://ops.example.com' }, { url: 'http://r', format: 'json' }, waiting),
    ) as Record<string, unknown>;
    expect(body).toEqual({
      version: 1,
      event: 'approval.waiting',
      deliveryId: deliveryId(waiting),
      conversationId: waiting.workflowId,
      agent: 'support',
      link: `https://ops.example.com/#/conversations/${encodeURIComponent(waiting.workflowId)}`,
      toolUseId: 'toolu_1',
      tool: 'refund',
      inputSummary: waiting.inputSummary,
      inputTruncated: false,
      turn: 2,
      requestedAt: waiting.requestedAt,
      deadline: waiting.deadline,
    });
  });

  it('the input summary is bounded (and says it was cut)', () => {
    const big = summarizeInput({ text: 'x'.repeat(100_000) });
    expect(big.inputSummary).toHaveLength(MAX_INPUT_SUMMARY_CHARS);
    expect(big.truncated).toBe(true);
    // A surrogate pair is never cut in two.
    const emoji = summarizeInput('😀'.repeat(10), 6);
    expect(emoji.inputSummary).toBe('"😀😀');
    const body = webhookBody(
      { publicUrl: 'https://o' },
      { url: 'http://r', format: 'slack' },
      { ...waiting, ...big },
    );
    expect(body.length).toBeLessThan(4 * 1024);
  });

  it('the delivery id is stable for one event and differs between events', () => {
    expect(deliveryId(waiting)).toBe(deliveryId({ ...waiting }));
    expect(deliveryId(waiting)).not.toBe(deliveryId({ ...waiting, toolUseId: 'toolu_2' }));
    expect(deliveryId(parked)).not.toBe(deliveryId({ ...parked, at: '2026-01-01T00:00:01.000Z' }));
    expect(deliveryId(parked)).toMatch(/^dlv_[0-9a-f]{32}$/);
  });

  it('Slack: user and model text cannot add links, mentions or break out of its code block', () => {
    expect(escapeMrkdwn('<!channel> & <https://x|y>')).toBe('&lt;!channel&gt; &amp; &lt;https://x|y&gt;');
    expect(slackCode('a`b')).toBe('`aˋb`');
    const link = conversationLink('https://ops.example.com', waiting.workflowId);
    const slack = slackPayload(waiting, link);
    const all = JSON.stringify(slack);
    // The only `<` in the whole body opens our own link.
    const opened = [...all.matchAll(/</g)].length;
    const ours = [
      ...all.matchAll(/<https:\/\/ops\.example\.com\/#\/conversations\/conv%20%3C!channel%3E%20%26%20co\|/g),
    ].length;
    expect(opened).toBe(ours);
    expect(ours).toBe(2); // in `text` and in the blocks
    expect(slack.text).toContain('`conv &lt;!channel&gt; &amp; co`');
    expect(all).toContain('&lt;https://evil.example|click here&gt; &lt;@U123&gt; ˋˋˋxˋˋˋ &amp; more');
    expect(slack.blocks.map((b) => b.type)).toEqual(['section', 'section', 'context', 'section']);
    const attention = JSON.stringify(slackPayload(parked, 'https://o/#/conversations/conv-2'));
    expect(attention).toContain('invalid x-api-key &lt;!here&gt;');
    expect(attention).not.toContain('<!here>');
  });
});

describe('signature', () => {
  const secret = 'a-secret-of-32-characters-length';
  const body = '{"a":1}';

  it('verifies a fresh signature of the same body with the same secret, and nothing else', () => {
    const header = signBody(secret, body, 1_000_000);
    expect(header).toMatch(/^t=1000000,v1=[0-9a-f]{64}$/);
    expect(verifySignature(secret, header, body, { now: 1_000_100 })).toBe(true);
    expect(verifySignature(secret, header, Buffer.from(body), { now: 1_000_100 })).toBe(true);
    expect(verifySignature(secret, header, '{"a":2}', { now: 1_000_100 })).toBe(false);
    expect(verifySignature('another-secret-of-some-length', header, body, { now: 1_000_100 })).toBe(false);
    expect(verifySignature(secret, undefined, body)).toBe(false);
    expect(verifySignature(secret, 'v1=abc', body)).toBe(false);
    expect(verifySignature(secret, header.replace(/.$/, '0'), body, { now: 1_000_000 })).toBe(
      header.endsWith('0'),
    );
  });

  it('refuses a replay older than the tolerance (and one from too far in the future)', () => {
    const header = signBody(secret, body, 1_000_000);
    expect(verifySignature(secret, header, body, { now: 1_000_301 })).toBe(false);
    expect(verifySignature(secret, header, body, { now: 999_699 })).toBe(false);
    expect(verifySignature(secret, header, body, { now: 1_000_301, toleranceSeconds: 600 })).toBe(true);
    // The timestamp is signed: moving it forward breaks the signature.
    expect(verifySignature(secret, header.replace('t=1000000', 't=1000300'), body, { now: 1_000_301 })).toBe(
      false,
    );
  });
});

describe('configuration', () => {
  const base = { ANTHROPIC_API_KEY: 'k' };

  it('reads one or several receivers, the format, the secret and the public URL', () => {
    const config = loadConfig({
      ...base,
      AGENT_WEBHOOK_URL: 'https://hooks.example.com/a, http://10.0.0.1:8080/b',
      AGENT_WEBHOOK_FORMAT: 'slack',
      AGENT_WEBHOOK_SECRET: 'sixteen-chars-ok',
      OPS_PUBLIC_URL: 'https://ops.example.com',
    });
    expect(webhookConfig(config)).toEqual({
      targets: [
        { url: 'https://hooks.example.com/a', format: 'slack' },
        { url: 'http://10.0.0.1:8080/b', format: 'slack' },
      ],
      publicUrl: 'https://ops.example.com',
      secret: 'sixteen-chars-ok',
    });
    expect(webhookConfig(loadConfig(base))).toBeUndefined();
    expect(
      webhookConfig(
        loadConfig({
          ...base,
          AGENT_WEBHOOK_URL: 'https://h',
          OPS_PUBLIC_URL: 'https://o',
          AGENT_WEBHOOK_FORMAT: '',
        }),
      )?.targets,
    ).toEqual([{ url: 'https://h', format: 'json' }]);
  });

  it.each([
    [{ AGENT_WEBHOOK_URL: 'ftp://x/y', OPS_PUBLIC_URL: 'https://o' }, /AGENT_WEBHOOK_URL.*http\(s\) URL/],
    [{ AGENT_WEBHOOK_URL: 'not a url', OPS_PUBLIC_URL: 'https://o' }, /AGENT_WEBHOOK_URL/],
    [{ AGENT_WEBHOOK_URL: ',', OPS_PUBLIC_URL: 'https://o' }, /AGENT_WEBHOOK_URL/],
    [
      { AGENT_WEBHOOK_URL: 'https://h', OPS_PUBLIC_URL: 'https://o', AGENT_WEBHOOK_FORMAT: 'xml' },
      /AGENT_WEBHOOK_FORMAT/,
    ],
    [
      { AGENT_WEBHOOK_URL: 'https://h', OPS_PUBLIC_URL: 'https://o', AGENT_WEBHOOK_SECRET: 'short' },
      /AGENT_WEBHOOK_SECRET must be at least 16/,
    ],
    [{ AGENT_WEBHOOK_URL: 'https://h', OPS_PUBLIC_URL: 'javascript:alert(1)' }, /OPS_PUBLIC_URL/],
  ])('refuses %j', (env, message) => {
    expect(() => loadConfig({ ...base, ...env })).toThrow(message);
  });

  it.each([
    [{ AGENT_WEBHOOK_URL: 'https://h' }, /OPS_PUBLIC_URL: required with AGENT_WEBHOOK_URL/],
    [{ AGENT_WEBHOOK_FORMAT: 'slack' }, /AGENT_WEBHOOK_FORMAT: is set, but AGENT_WEBHOOK_URL is not/],
    [
      { AGENT_WEBHOOK_SECRET: 'sixteen-chars-ok' },
      /AGENT_WEBHOOK_SECRET: is set, but AGENT_WEBHOOK_URL is not/,
    ],
  ])('refuses settings that only work together: %j', (env, message) => {
    expect(() => webhookConfig(loadConfig({ ...base, ...env }))).toThrow(message);
  });

  it('never puts the secret in a refusal', () => {
    expect(() => loadConfig({ ...base, AGENT_WEBHOOK_SECRET: 'tiny-secret' })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('tiny-secret') }),
    );
  });
});

describe('retry-after', () => {
  it('reads seconds and HTTP dates', () => {
    expect(retryAfter('7')).toBe(7000);
    expect(retryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(retryAfter('soon')).toBeUndefined();
    expect(retryAfter(null)).toBeUndefined();
  });
});

describe('the notify activity', () => {
  // Failed attempts are what these tests are about: keep the environment's warnings out of the output.
  const mockEnv = (info?: ConstructorParameters<typeof MockActivityEnvironment>[0]) =>
    new MockActivityEnvironment(info, { logger: new DefaultLogger('ERROR') });
  type Seen = { path: string; headers: IncomingMessage['headers']; body: string };
  const seen: Seen[] = [];
  const answers = new Map<string, number[]>(); // per path, the statuses to answer in turn (then 200)
  let server: Server;
  let base: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = req.url ?? '/';
        seen.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        const status = answers.get(path)?.shift() ?? 200;
        res.writeHead(status, status === 429 ? { 'retry-after': '3' } : {}).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const config = (...paths: string[]): WebhookConfig => ({
    targets: paths.map((p) => ({ url: `${base}${p}`, format: p.includes('slack') ? 'slack' : 'json' })),
    publicUrl: 'https://ops.example.com',
    secret: 'a-secret-of-32-characters-length',
  });
  const failure = async (p: Promise<unknown>) => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApplicationFailure);
    return err as ApplicationFailure;
  };

  it('without configuration does nothing', async () => {
    const result = await mockEnv().run(createNotify(undefined), waiting);
    expect(result).toEqual({ delivered: 0, refused: 0, deliveryId: deliveryId(waiting) });
  });

  it('posts signed bodies to every receiver in its format', async () => {
    seen.length = 0;
    const result = await mockEnv().run(createNotify(config('/a', '/slack')), waiting);
    expect(result).toMatchObject({ delivered: 2, refused: 0 });
    expect(seen.map((s) => s.path).sort()).toEqual(['/a', '/slack']);
    for (const s of seen) {
      expect(
        verifySignature('a-secret-of-32-characters-length', s.headers['x-agent-signature'] as string, s.body),
      ).toBe(true);
      expect(s.headers['x-agent-delivery']).toBe(deliveryId(waiting));
      expect(s.headers['x-agent-event']).toBe('approval.waiting');
      expect(s.headers['content-type']).toBe('application/json');
    }
    expect(JSON.parse(seen.find((s) => s.path === '/slack')!.body)).toHaveProperty('blocks');
  });

  it('5xx and 429 are retried (retry-after kept); a retry skips the receivers already served', async () => {
    seen.length = 0;
    answers.set('/flaky', [503, 429]);
    const env = mockEnv();
    const details: unknown[] = [];
    env.on('heartbeat', (d: unknown) => details.push(d));
    const notify = createNotify(config('/ok', '/flaky'));
    const first = await failure(env.run(notify, waiting));
    expect(first.nonRetryable).toBe(false);
    expect(first.message).toMatch(/^webhook 2 \(http:\/\/127\.0\.0\.1:\d+\): HTTP 503$/);
    expect(details.at(-1)).toEqual({ progress: { [targetKey(config('/ok').targets[0])]: 'delivered' } });
    // The next attempt starts from the last heartbeat's details, as Temporal hands them over.
    const again = mockEnv({ attempt: 2, heartbeatDetails: details.at(-1) });
    const second = await failure(again.run(notify, waiting));
    expect(second.nextRetryDelay).toBe(3000);
    const third = mockEnv({ attempt: 3, heartbeatDetails: details.at(-1) });
    expect(await third.run(notify, waiting)).toMatchObject({ delivered: 2 });
    // /ok once (the retries skipped it), /flaky on each attempt.
    expect(seen.map((s) => `${s.path} ${String(s.headers['x-agent-delivery-attempt'])}`).sort()).toEqual([
      '/flaky 1',
      '/flaky 2',
      '/flaky 3',
      '/ok 1',
    ]);
    expect(new Set(seen.map((s) => s.headers['x-agent-delivery'])).size).toBe(1);
  });

  it('a permanent refusal is not retried; a receiver that is not there is', async () => {
    answers.set('/gone', [410]);
    const refused = await failure(mockEnv().run(createNotify(config('/gone')), parked));
    expect(refused.nonRetryable).toBe(true);
    expect(refused.type).toBe('WebhookRefused');
    expect(refused.message).toMatch(/HTTP 410 \(not retried\)/);
    const down: WebhookConfig = {
      ...config(),
      targets: [{ url: 'http://127.0.0.1:1/hook?token=s3cret', format: 'json' }],
    };
    const unreachable = await failure(mockEnv().run(createNotify(down), parked));
    expect(unreachable.nonRetryable).toBe(false);
    expect(unreachable.message).toMatch(/^webhook 1 \(http:\/\/127\.0\.0\.1:1\): not reachable/);
    expect(unreachable.message).not.toContain('s3cret');
  });

  it('a receiver that does not answer in time is retried', async () => {
    const silent = createServer(() => undefined); // never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/`;
    try {
      const err = await failure(
        mockEnv().run(
          createNotify({ ...config(), targets: [{ url, format: 'json' }], timeoutMs: 200 }),
          parked,
        ),
      );
      expect(err.message).toMatch(/no answer in time/);
      expect(err.nonRetryable).toBe(false);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });
});
