import { describe, expect, it } from '@jest/globals';
import type { MessageParam } from '@anthropic-ai/sdk/resources/messages';
import { TranscriptCache, type TranscriptReader } from '../../src/activities/transcript-cache';
import { appendMessage, digestsOf, EMPTY_DIGEST, tailStart } from '../../src/api/transcript';

/** A conversation as the workflow holds it. */
class FakeWorkflow {
  readonly messages: MessageParam[] = [];
  readonly digests: string[] = [];

  append(message: MessageParam): this {
    appendMessage(this.messages, this.digests, message);
    return this;
  }

  get count(): number {
    return this.messages.length;
  }

  get digest(): string {
    return this.digests.at(-1) ?? EMPTY_DIGEST;
  }
}

/** A reader over fake workflows that records each query's range; answers are copies, as over the wire. */
function fakeReader(workflows: Record<string, FakeWorkflow>) {
  const calls: Array<[string, number, number]> = [];
  const read: TranscriptReader = async (workflowId, from, to) => {
    calls.push([workflowId, from, to]);
    const wf = workflows[workflowId];
    if (!wf) throw new Error(`no workflow ${workflowId}`);
    return { messages: structuredClone(wf.messages.slice(from, to)) };
  };
  return { read, calls };
}

const user = (text: string): MessageParam => ({ role: 'user', content: text });
const assistant = (text: string): MessageParam => ({ role: 'assistant', content: [{ type: 'text', text }] });

function conversation(turns: number, prefix = ''): FakeWorkflow {
  const wf = new FakeWorkflow();
  for (let i = 0; i < turns; i++) {
    wf.append(user(`${prefix}question ${i}`));
    wf.append(assistant(`${prefix}answer ${i}`));
  }
  return wf;
}

/** What the workflow sends with a call: the messages after the last answer. */
function tailOf(wf: FakeWorkflow) {
  const from = tailStart(wf.messages);
  return { from, messages: structuredClone(wf.messages.slice(from)) };
}

describe('TranscriptCache without reads: answers it recorded, tails the workflow sent', () => {
  it('serves a tool loop and new turns with no query at all', async () => {
    const wf = new FakeWorkflow().append(user('question 0'));
    const { read, calls } = fakeReader({ wf1: wf });
    const cache = new TranscriptCache(read);
    for (let round = 0; round < 5; round++) {
      const got = await cache.messages('wf1', wf.count, wf.digest, tailOf(wf));
      expect(got).toEqual(wf.messages);
      // The model answers; the worker records it, the workflow appends it; then a tool result or a new question.
      const answer = [
        { type: 'tool_use', id: `toolu_${round}`, name: 'get_weather', input: { location: 'Paris' } },
      ];
      cache.recordAnswer('wf1', wf.count, answer);
      wf.append({ role: 'assistant', content: answer } as MessageParam);
      wf.append(
        round % 2
          ? user(`question ${round + 1}`)
          : ({
              role: 'user',
              content: [{ type: 'tool_result', tool_use_id: `toolu_${round}`, content: '18' }],
            } as MessageParam),
      );
    }
    expect(calls).toEqual([]);
    expect(cache.stats).toMatchObject({ tailHits: 5, partialReads: 0, fullReads: 0 });
  });

  it('follows a pause_turn continuation merged into the last answer, and an empty answer placeholder', async () => {
    const wf = new FakeWorkflow().append(user('search'));
    const { read, calls } = fakeReader({ wf1: wf });
    const cache = new TranscriptCache(read);
    await cache.messages('wf1', wf.count, wf.digest, tailOf(wf));
    const paused = [{ type: 'text', text: 'Searching...' }];
    cache.recordAnswer('wf1', wf.count, paused);
    wf.append({ role: 'assistant', content: paused } as MessageParam);
    expect(await cache.messages('wf1', wf.count, wf.digest, tailOf(wf))).toEqual(wf.messages);
    const more = [{ type: 'text', text: 'Found it.' }];
    cache.recordAnswer('wf1', wf.count, more);
    wf.append({ role: 'assistant', content: more } as MessageParam);
    wf.append(user('and?'));
    expect(await cache.messages('wf1', wf.count, wf.digest, tailOf(wf))).toEqual(wf.messages);
    cache.recordAnswer('wf1', wf.count, []);
    wf.append({ role: 'assistant', content: [{ type: 'text', text: '(no answer)' }] });
    wf.append(user('hello?'));
    expect(await cache.messages('wf1', wf.count, wf.digest, tailOf(wf))).toEqual(wf.messages);
    expect(calls).toEqual([]);
  });

  it('reads when the workflow did not keep a recorded answer (a retried call) or the tail does not fit', async () => {
    const wf = new FakeWorkflow().append(user('question'));
    const { read, calls } = fakeReader({ wf1: wf });
    const cache = new TranscriptCache(read);
    await cache.messages('wf1', wf.count, wf.digest, tailOf(wf));
    // The answer was cut by max_tokens and the workflow retries the same call: the cache still serves it.
    cache.recordAnswer('wf1', wf.count, [{ type: 'text', text: 'cut' }]);
    expect(await cache.messages('wf1', wf.count, wf.digest, tailOf(wf))).toEqual(wf.messages);
    // The retry's answer is kept by the workflow; the cache had recorded the first one, then this one.
    cache.recordAnswer('wf1', wf.count, [{ type: 'text', text: 'whole answer' }]);
    wf.append(assistant('whole answer')).append(user('thanks'));
    expect(await cache.messages('wf1', wf.count, wf.digest, tailOf(wf))).toEqual(wf.messages);
    expect(calls).toEqual([]);
    // A worker that never saw the conversation: the tail alone does not cover it, so it reads.
    const other = new TranscriptCache(read);
    expect(await other.messages('wf1', wf.count, wf.digest, tailOf(wf))).toEqual(wf.messages);
    expect(calls).toHaveLength(1);
    // A tail that does not chain onto what the cache holds (the answer it recorded was not kept): a read.
    cache.recordAnswer('wf1', wf.count, [{ type: 'text', text: 'never kept' }]);
    wf.append(assistant('something else')).append(user('again'));
    expect(await cache.messages('wf1', wf.count, wf.digest, tailOf(wf))).toEqual(wf.messages);
    expect(calls.length).toBeGreaterThan(1);
  });
});

describe('TranscriptCache reads', () => {
  it('reads the whole transcript on the first call', async () => {
    const wf = conversation(2).append(user('next'));
    const { read, calls } = fakeReader({ wf1: wf });
    const cache = new TranscriptCache(read);
    const got = await cache.messages('wf1', wf.count, wf.digest);
    expect(got).toEqual(wf.messages);
    expect(calls).toEqual([['wf1', 0, 5]]);
    expect(cache.stats).toEqual({ hits: 0, tailHits: 0, partialReads: 0, fullReads: 1, messagesRead: 5 });
  });

  it('answers the same count and digest from the cache without reading', async () => {
    const wf = conversation(1).append(user('next'));
    const { read, calls } = fakeReader({ wf1: wf });
    const cache = new TranscriptCache(read);
    await cache.messages('wf1', wf.count, wf.digest);
    calls.length = 0;
    const got = await cache.messages('wf1', wf.count, wf.digest);
    expect(got).toEqual(wf.messages);
    expect(calls).toEqual([]);
    expect(cache.stats.hits).toBe(1);
    expect(cache.stats.fullReads).toBe(1);
  });

  it('answers a shorter prefix from the cache too', async () => {
    const wf = conversation(3);
    const { read, calls } = fakeReader({ wf1: wf });
    const cache = new TranscriptCache(read);
    await cache.messages('wf1', wf.count, wf.digest);
    calls.length = 0;
    expect(await cache.messages('wf1', 3, wf.digests[2])).toEqual(wf.messages.slice(0, 3));
    expect(await cache.messages('wf1', 0, EMPTY_DIGEST)).toEqual([]);
    expect(calls).toEqual([]);
    expect(cache.stats.hits).toBe(2);
  });

  it('reads only the new messages plus the last cached one after the transcript grew', async () => {
    const wf = conversation(1).append(user('q1'));
    const { read, calls } = fakeReader({ wf1: wf });
    const cache = new TranscriptCache(read);
    await cache.messages('wf1', wf.count, wf.digest);
    const cachedCount = wf.count;
    wf.append(assistant('a1')).append(user('q2'));
    calls.length = 0;
    const got = await cache.messages('wf1', wf.count, wf.digest);
    expect(got).toEqual(wf.messages);
    expect(calls).toEqual([['wf1', cachedCount - 1, cachedCount + 2]]);
    expect(cache.stats.partialReads).toBe(1);
    expect(cache.stats.fullReads).toBe(1);
    expect(cache.stats.messagesRead).toBe(cachedCount + 3);
    // The cache now holds the grown transcript: the next call is a hit.
    calls.length = 0;
    expect(await cache.messages('wf1', wf.count, wf.digest)).toEqual(wf.messages);
    expect(calls).toEqual([]);
    expect(cache.stats.hits).toBe(1);
  });

  it('picks up a last message that was extended (pause_turn continuation) through the partial read', async () => {
    const wf = new FakeWorkflow().append(user('search the web')).append({
      role: 'assistant',
      content: [
        { type: 'text', text: 'Searching.' },
        { type: 'server_tool_use', id: 'srv_1', name: 'web_search', input: { query: 'x' } },
      ],
    });
    const { read, calls } = fakeReader({ wf1: wf });
    const cache = new TranscriptCache(read);
    await cache.messages('wf1', wf.count, wf.digest);
    const cachedLast = structuredClone(wf.messages[1]);
    // The continuation merges into message 1, then the user answers.
    wf.append(assistant('Here is what I found.')).append(user('thanks'));
    expect(wf.count).toBe(3);
    expect(wf.messages[1]).not.toEqual(cachedLast);
    calls.length = 0;
    const got = await cache.messages('wf1', wf.count, wf.digest);
    expect(got).toEqual(wf.messages);
    expect(got[1].content).toHaveLength(3);
    expect(calls).toEqual([['wf1', 1, 3]]);
    expect(cache.stats.partialReads).toBe(1);
    expect(cache.stats.fullReads).toBe(1);
  });

  it('picks up a merge into the last message even when the count did not change', async () => {
    const wf = conversation(1);
    const { read, calls } = fakeReader({ wf1: wf });
    const cache = new TranscriptCache(read);
    await cache.messages('wf1', wf.count, wf.digest);
    wf.append(assistant('more'));
    expect(wf.count).toBe(2);
    calls.length = 0;
    expect(await cache.messages('wf1', wf.count, wf.digest)).toEqual(wf.messages);
    expect(calls).toEqual([['wf1', 1, 2]]);
    expect(cache.stats.partialReads).toBe(1);
  });

  it('reads everything again when an earlier message differs (a reset), and the result is right', async () => {
    const wf = conversation(2);
    const { read, calls } = fakeReader({ wf1: wf });
    const cache = new TranscriptCache(read);
    await cache.messages('wf1', wf.count, wf.digest);
    // Replace the history under the cache: message 0 differs, so the digest chain from the cache's
    // prefix cannot match.
    const replaced = new FakeWorkflow()
      .append(user('other start'))
      .append(assistant('answer 0'))
      .append(user('question 1'))
      .append(assistant('answer 1'))
      .append(user('q'));
    wf.messages.splice(0, wf.messages.length, ...replaced.messages);
    wf.digests.splice(0, wf.digests.length, ...replaced.digests);
    calls.length = 0;
    const got = await cache.messages('wf1', wf.count, wf.digest);
    expect(got).toEqual(wf.messages);
    expect(calls).toEqual([
      ['wf1', 3, 5],
      ['wf1', 0, 5],
    ]);
    expect(cache.stats.partialReads).toBe(0);
    expect(cache.stats.fullReads).toBe(2);
  });

  it('throws a clear error when the digest matches nothing', async () => {
    const wf = conversation(1);
    const { read } = fakeReader({ wf1: wf });
    const cache = new TranscriptCache(read);
    await expect(cache.messages('wf1', wf.count, 'ffffffffffffffff')).rejects.toThrow(
      'transcript of wf1 read from the workflow does not match its digest (2 messages)',
    );
    // Also when something is cached already (partial, then full read, both fail).
    await cache.messages('wf1', wf.count, wf.digest);
    wf.append(user('q'));
    await expect(cache.messages('wf1', wf.count, 'ffffffffffffffff')).rejects.toThrow(
      /does not match its digest \(3 messages\)/,
    );
    // A failed read leaves the cached copy usable.
    expect(await cache.messages('wf1', 2, wf.digests[1])).toEqual(wf.messages.slice(0, 2));
  });

  it('returns an empty transcript for count 0 without reading', async () => {
    const { read, calls } = fakeReader({ wf1: new FakeWorkflow() });
    const cache = new TranscriptCache(read);
    expect(await cache.messages('wf1', 0, EMPTY_DIGEST)).toEqual([]);
    expect(calls).toEqual([]);
  });

  it('keeps conversations apart', async () => {
    const a = conversation(1, 'A ');
    const b = conversation(2, 'B ');
    const { read, calls } = fakeReader({ a, b });
    const cache = new TranscriptCache(read);
    expect(await cache.messages('a', a.count, a.digest)).toEqual(a.messages);
    expect(await cache.messages('b', b.count, b.digest)).toEqual(b.messages);
    expect(calls).toEqual([
      ['a', 0, 2],
      ['b', 0, 4],
    ]);
    expect(cache.size.conversations).toBe(2);
    // Asking for a with b's digest fails: the chains differ.
    await expect(cache.messages('a', 2, b.digests[1])).rejects.toThrow(/does not match/);
  });
});

describe('TranscriptCache paging', () => {
  it('splits a full read into pages of pageSize', async () => {
    const wf = conversation(3).append(user('last'));
    const { read, calls } = fakeReader({ wf1: wf });
    const cache = new TranscriptCache(read, 1024 * 1024, 3);
    expect(await cache.messages('wf1', wf.count, wf.digest)).toEqual(wf.messages);
    expect(calls).toEqual([
      ['wf1', 0, 3],
      ['wf1', 3, 6],
      ['wf1', 6, 7],
    ]);
    expect(cache.stats.messagesRead).toBe(7);
  });

  it('splits a partial read into pages too', async () => {
    const wf = conversation(1);
    const { read, calls } = fakeReader({ wf1: wf });
    const cache = new TranscriptCache(read, 1024 * 1024, 2);
    await cache.messages('wf1', wf.count, wf.digest);
    for (let i = 0; i < 2; i++) wf.append(user(`more ${i}`)).append(assistant(`reply ${i}`));
    calls.length = 0;
    expect(await cache.messages('wf1', wf.count, wf.digest)).toEqual(wf.messages);
    expect(calls).toEqual([
      ['wf1', 1, 3],
      ['wf1', 3, 5],
      ['wf1', 5, 6],
    ]);
  });
});

describe('TranscriptCache bounds', () => {
  const bytesOf = (wf: FakeWorkflow) => wf.messages.reduce((n, m) => n + JSON.stringify(m).length, 0);

  it('counts the bytes it holds', async () => {
    const wf = conversation(2);
    const cache = new TranscriptCache(fakeReader({ wf1: wf }).read);
    await cache.messages('wf1', wf.count, wf.digest);
    expect(cache.size).toEqual({ conversations: 1, bytes: bytesOf(wf) });
  });

  it('drops the least recently used conversation past maxBytes', async () => {
    const a = conversation(2, 'A ');
    const b = conversation(2, 'B ');
    const c = conversation(2, 'C ');
    const { read, calls } = fakeReader({ a, b, c });
    // Room for two conversations, not three.
    const cache = new TranscriptCache(read, bytesOf(a) + bytesOf(b) + Math.floor(bytesOf(c) / 2));
    await cache.messages('a', a.count, a.digest);
    await cache.messages('b', b.count, b.digest);
    expect(cache.size).toEqual({ conversations: 2, bytes: bytesOf(a) + bytesOf(b) });
    await cache.messages('c', c.count, c.digest);
    expect(cache.size).toEqual({ conversations: 2, bytes: bytesOf(b) + bytesOf(c) });
    // b and c are hits; a was dropped and is read in full again.
    calls.length = 0;
    await cache.messages('b', b.count, b.digest);
    await cache.messages('c', c.count, c.digest);
    expect(calls).toEqual([]);
    await cache.messages('a', a.count, a.digest);
    expect(calls).toEqual([['a', 0, 4]]);
    // Reading a dropped b, the least recently used one by then.
    expect(cache.size).toEqual({ conversations: 2, bytes: bytesOf(c) + bytesOf(a) });
  });

  it('a hit counts as a use', async () => {
    const a = conversation(2, 'A ');
    const b = conversation(2, 'B ');
    const c = conversation(2, 'C ');
    const { read, calls } = fakeReader({ a, b, c });
    const cache = new TranscriptCache(read, bytesOf(a) + bytesOf(b) + Math.floor(bytesOf(c) / 2));
    await cache.messages('a', a.count, a.digest);
    await cache.messages('b', b.count, b.digest);
    await cache.messages('a', a.count, a.digest); // a is now the most recently used
    await cache.messages('c', c.count, c.digest); // so b goes
    calls.length = 0;
    await cache.messages('a', a.count, a.digest);
    expect(calls).toEqual([]);
    await cache.messages('b', b.count, b.digest);
    expect(calls).toEqual([['b', 0, 4]]);
  });

  it('keeps a single conversation larger than maxBytes (it is needed now) but nothing else', async () => {
    const a = conversation(1, 'A ');
    const big = conversation(5, 'BIG ');
    const cache = new TranscriptCache(fakeReader({ a, big }).read, bytesOf(a) + 10);
    await cache.messages('a', a.count, a.digest);
    expect(await cache.messages('big', big.count, big.digest)).toEqual(big.messages);
    expect(cache.size).toEqual({ conversations: 1, bytes: bytesOf(big) });
  });

  it('updates its size after a partial read and after forget', async () => {
    const wf = conversation(1);
    const cache = new TranscriptCache(fakeReader({ wf1: wf }).read);
    await cache.messages('wf1', wf.count, wf.digest);
    wf.append(assistant('continued')).append(user('and then'));
    await cache.messages('wf1', wf.count, wf.digest);
    expect(cache.stats.partialReads).toBe(1);
    expect(cache.size).toEqual({ conversations: 1, bytes: bytesOf(wf) });
    cache.forget('wf1');
    cache.forget('never-seen');
    expect(cache.size).toEqual({ conversations: 0, bytes: 0 });
  });
});

describe('TranscriptCache against digestsOf', () => {
  it('accepts exactly the digest chain digestsOf computes', async () => {
    const messages = [user('a'), assistant('b'), user('c')];
    const wf = new FakeWorkflow();
    for (const m of messages) wf.append(m);
    expect(wf.digests).toEqual(digestsOf(messages));
    const cache = new TranscriptCache(fakeReader({ wf1: wf }).read);
    expect(await cache.messages('wf1', 3, digestsOf(messages)[2])).toEqual(messages);
  });
});
