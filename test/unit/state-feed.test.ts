/**
 * The ops server's push feeds without a server: change detection (visibility key, hub events, updates),
 * fan-out to every subscriber from one read, `Last-Event-ID`, the gate between queries and updates,
 * backpressure on a slow SSE subscriber, and the live stream's replay from the last event id.
 */
import { describe, expect, it } from '@jest/globals';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { AGENT_LAST_ACTIVITY, AGENT_STATUS } from '../../src/api/search-attributes';
import { AgentError, type AgentClient } from '../../src/client';
import { ConversationGate } from '../../src/ops/conversation-gate';
import { SseStream, type SseEvent } from '../../src/ops/sse';
import { StateFeed, type VisibilityRow } from '../../src/ops/state-feed';
import { StreamHub } from '../../src/streaming/hub';
import type { LiveMessage } from '../../src/streaming/protocol';

const tick = () => new Promise((r) => setTimeout(r, 5));

/** A conversation as the fake agent and the fake visibility store see it. */
class World {
  status = 'awaiting_approval';
  activity = new Date('2026-12-01T00:00:00Z');
  transcript = ['hello'];
  queries = 0;
  lists = 0;
  /** While set, queries wait for it (a worker that is not there). */
  hold?: Promise<void>;

  readonly agent = {
    getState: async (workflowId: string) => {
      this.queries++;
      await this.hold;
      return { workflowId, status: this.status, messages: [...this.transcript] };
    },
  } as unknown as AgentClient;

  readonly list = (ids: string[]): AsyncIterable<VisibilityRow> => {
    this.lists++;
    const rows = ids.map((workflowId) => ({
      workflowId,
      runId: 'run-1',
      startTime: new Date(0),
      status: { name: 'RUNNING' },
      typedSearchAttributes: {
        get: (key: never) =>
          (key as unknown) === AGENT_STATUS
            ? this.status
            : (key as unknown) === AGENT_LAST_ACTIVITY
              ? this.activity
              : undefined,
      },
    }));
    return (async function* () {
      yield* rows;
    })();
  };

  feed(hub?: StreamHub): StateFeed {
    // A long poll: the test drives the rounds itself (tick()).
    return new StateFeed({ agent: this.agent, list: this.list, pollMs: 60_000, hub, hubDelayMs: 0 });
  }
}

function subscribers(feed: StateFeed, id: string, n: number): SseEvent[][] {
  return Array.from({ length: n }, () => {
    const seen: SseEvent[] = [];
    feed.subscribe(id, (e) => seen.push(e));
    return seen;
  });
}

describe('StateFeed', () => {
  it('twenty subscribers cost one query; an unchanged visibility row costs none; a change costs one', async () => {
    const world = new World();
    const feed = world.feed();
    const pages = subscribers(feed, 'c1', 20);
    await tick();
    expect(world.queries).toBe(1);
    expect(pages.every((p) => p.length === 1 && p[0].event === 'state')).toBe(true);

    await feed.tick(); // learns the key
    await feed.tick();
    await tick();
    expect(world.queries).toBe(1);
    expect(world.lists).toBe(2); // one list call a round, for every page

    world.status = 'running';
    world.transcript.push('approved');
    await feed.tick();
    await tick();
    expect(world.queries).toBe(2);
    for (const p of pages) {
      expect(p).toHaveLength(2);
      expect(p[1].id).not.toBe(p[0].id);
      expect(p[1].data).toMatchObject({ type: 'state', state: { status: 'running' } });
    }

    // A changed key whose state reads the same: one query, nothing sent.
    world.activity = new Date('2026-12-01T00:00:05Z');
    await feed.tick();
    await tick();
    expect(world.queries).toBe(3);
    expect(pages[0]).toHaveLength(2);
    await feed.close();
  });

  it('a subscriber that comes back with the current event id gets nothing again; an older one gets the state', async () => {
    const world = new World();
    const feed = world.feed();
    const [first] = subscribers(feed, 'c1', 1);
    await tick();
    const current = first[0].id;
    const upToDate: SseEvent[] = [];
    feed.subscribe('c1', (e) => upToDate.push(e), current);
    const behind: SseEvent[] = [];
    feed.subscribe('c1', (e) => behind.push(e), 'old-epoch-1');
    expect(upToDate).toEqual([]);
    expect(behind.map((e) => e.id)).toEqual([current]);
    expect(world.queries).toBe(1);
    await feed.close();
  });

  it('a hub event (a model call ends) and an update answered here each trigger one read', async () => {
    const world = new World();
    const hub = new StreamHub();
    const feed = world.feed(hub);
    const [page] = subscribers(feed, 'c1', 5);
    await tick();
    hub.publish({ workflowId: 'c1', type: 'start', turn: 1, attempt: 1, at: 0 });
    world.transcript.push('answer');
    hub.publish({ workflowId: 'c1', type: 'end', ok: true, at: 0 });
    await tick();
    expect(world.queries).toBe(2);
    expect(page).toHaveLength(2);

    await feed.update('c1', async () => {
      world.transcript.push('decided');
    });
    await tick();
    expect(world.queries).toBe(3);
    expect(page).toHaveLength(3);
    await feed.close();
  });

  it('a read that fails keeps the last state on the pages and is retried', async () => {
    const world = new World();
    // Retried at the next round, whenever it comes: with a 1 ms wait, a busy machine ran the failed read
    // and the next round in the same millisecond, and the round found the retry not yet due.
    const feed = new StateFeed({ agent: world.agent, list: world.list, pollMs: 60_000, retryMs: 0 });
    const [page] = subscribers(feed, 'c1', 1);
    await tick();
    const failing = world.agent.getState;
    (world.agent as { getState: unknown }).getState = async () => {
      world.queries++;
      throw new Error('no worker');
    };
    feed.changed('c1');
    await tick();
    expect(page).toHaveLength(1); // still the last good state
    (world.agent as { getState: unknown }).getState = failing;
    world.transcript.push('back');
    await feed.tick();
    await tick();
    expect(page).toHaveLength(2);
    await feed.close();
  });

  it('a conversation that does not exist is read once, then again only when the visibility store lists it', async () => {
    const world = new World();
    let exists = false;
    const agent = {
      getState: async (workflowId: string) => {
        world.queries++;
        if (!exists) throw new AgentError('not_found', `no conversation with id ${workflowId}`);
        return { workflowId, status: world.status, messages: [...world.transcript] };
      },
    } as unknown as AgentClient;
    const list = (ids: string[]) => (exists ? world.list(ids) : world.list([]));
    const feed = new StateFeed({ agent, list, pollMs: 60_000, retryMs: 1, maxAgeMs: 0 });
    const [page] = subscribers(feed, 'c1', 1);
    await tick();
    expect(page.map((e) => e.data)).toEqual([expect.objectContaining({ type: 'error', code: 'not_found' })]);
    for (let i = 0; i < 5; i++) {
      await feed.tick();
      await tick();
    }
    expect(world.queries).toBe(1); // no retries, no re-reads by age
    exists = true; // started after the page opened: the listing shows it
    await feed.tick();
    await tick();
    expect(world.queries).toBe(2);
    expect(page.at(-1)?.data).toMatchObject({ type: 'state', state: { workflowId: 'c1' } });
    await feed.close();
  });

  it('close waits for the reads under way (a closed client must not have calls still retrying)', async () => {
    const world = new World();
    let release!: () => void;
    world.hold = new Promise<void>((r) => (release = r));
    const feed = world.feed();
    subscribers(feed, 'c1', 1);
    await tick();
    expect(world.queries).toBe(1);
    let closed = false;
    const closing = feed.close().then(() => (closed = true));
    await tick();
    expect(closed).toBe(false);
    release();
    await closing;
    expect(closed).toBe(true);
    // Nothing starts after it closed.
    feed.changed('c1');
    await tick();
    expect(world.queries).toBe(1);
  });

  it('the last subscriber leaving stops the feed of that conversation', async () => {
    const world = new World();
    const feed = world.feed();
    const off = feed.subscribe('c1', () => undefined);
    await tick();
    expect(feed.size.conversations).toBe(1);
    off();
    expect(feed.size.conversations).toBe(0);
    await feed.tick();
    expect(world.lists).toBe(0);
    await feed.close();
  });
});

describe('ConversationGate', () => {
  it('concurrent reads share one query; an update waits for the read; reads wait for the update', async () => {
    const gate = new ConversationGate();
    const order: string[] = [];
    let finishRead!: () => void;
    const slow = new Promise<void>((r) => (finishRead = r));
    const reads = [1, 2, 3].map(() =>
      gate.read('c1', async () => {
        order.push('read');
        await slow;
        return 'state';
      }),
    );
    const update = gate.update('c1', async () => {
      order.push('update');
      await tick();
      order.push('update done');
    });
    await tick();
    expect(order).toEqual(['read']); // the update waits
    finishRead();
    await Promise.all(reads);
    const later = gate.read('c1', async () => void order.push('read 2'));
    await update;
    await later;
    expect(order).toEqual(['read', 'update', 'update done', 'read 2']);
    expect(gate.stats).toEqual({ queries: 2, updates: 1 });
  });
});

/** A response whose socket never drains until told. */
class StuckResponse extends EventEmitter {
  written: string[] = [];
  writableLength = 0;
  destroyed = false;
  writeHead() {
    return this;
  }
  write(text: string) {
    this.written.push(text);
    this.writableLength += text.length;
    return false;
  }
  end() {}
  destroy() {
    this.destroyed = true;
    this.emit('close');
  }
  drain() {
    this.writableLength = 0;
    this.emit('drain');
  }
}

describe('SseStream', () => {
  it('a slow subscriber gets only the newest snapshot when it drains, and is dropped when it never does', async () => {
    const res = new StuckResponse();
    let closed = 0;
    const stream = new SseStream(res as unknown as ServerResponse, {
      highWaterBytes: 10,
      slowMs: 30,
      heartbeatMs: 10_000,
      onClose: () => closed++,
    });
    stream.send({ event: 'state', id: 'e-1', data: { n: 1 } });
    stream.send({ event: 'state', id: 'e-2', data: { n: 2 } });
    stream.send({ event: 'state', id: 'e-3', data: { n: 3 } });
    res.drain();
    expect(res.written.filter((w) => w.startsWith('id:'))).toEqual([
      'id: e-1\nevent: state\ndata: {"n":1}\n\n',
      'id: e-3\nevent: state\ndata: {"n":3}\n\n',
    ]);
    expect(stream.stats.coalesced).toBe(1);
    await new Promise((r) => setTimeout(r, 40));
    stream.send({ event: 'state', id: 'e-4', data: { n: 4 } });
    expect(res.destroyed).toBe(true);
    expect(closed).toBe(1);
  });
});

describe('StreamHub replay', () => {
  const delta = (text: string) => ({
    workflowId: 'c1',
    type: 'event' as const,
    at: 0,
    event: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } } as never,
  });

  it('an observer that reconnects with its last event id gets what it missed; a stale id gets a snapshot', () => {
    const hub = new StreamHub();
    const first: Array<[LiveMessage, string]> = [];
    const off = hub.subscribe('c1', (m, id) => first.push([m, id]));
    hub.publish({ workflowId: 'c1', type: 'start', turn: 1, attempt: 1, at: 0 });
    hub.publish({
      workflowId: 'c1',
      type: 'event',
      at: 0,
      event: { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } } as never,
    });
    hub.publish(delta('Hello'));
    off();
    const lastId = first[first.length - 1][1];
    hub.publish(delta(', world'));
    hub.publish(delta('!'));

    const resumed: LiveMessage[] = [];
    hub.subscribe('c1', (m) => resumed.push(m), lastId);
    expect(resumed.map((m) => (m.type === 'delta' ? m.text : m.type))).toEqual([', world', '!']);

    const stale: LiveMessage[] = [];
    hub.subscribe('c1', (m) => stale.push(m), 'another-hub-3');
    expect(stale).toHaveLength(1);
    expect(stale[0]).toMatchObject({ type: 'snapshot', call: { blocks: [{ text: 'Hello, world!' }] } });

    const upToDate: LiveMessage[] = [];
    hub.subscribe('c1', (m) => upToDate.push(m), `${hub.epoch}-5`);
    expect(upToDate).toEqual([]);
  });
});
