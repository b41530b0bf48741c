import type { Message, Usage } from '@anthropic-ai/sdk/resources/messages';
import type { CacheUsage } from './prompt-cache';
import type { ContainerInfo } from './code-execution';
import type { FakeBlock, FakeMessageReply } from './types';
import { estimateTokens, newId } from './basics';

/** One server-sent event as the Messages API frames it: an `event:` line and one `data:` JSON line. */
export interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

/** Frames one event exactly like the API: `event: X\ndata: {...}\n\n`. */
export function encodeEvent(event: SseEvent): string {
  return `event: ${event.event}\ndata: ${JSON.stringify(event.data)}\n\n`;
}

/** A small seeded PRNG (mulberry32), so a given request's chunking is reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Cuts `text` into pieces whose sizes vary within `size` (a number, or a `[min, max]` range). */
export function chunk(text: string, size: number | [number, number], random: () => number): string[] {
  const [min, max] = typeof size === 'number' ? [size, size] : size;
  const pieces: string[] = [];
  let at = 0;
  while (at < text.length) {
    const n = Math.max(1, min + Math.floor(random() * (max - min + 1)));
    pieces.push(text.slice(at, at + n));
    at += n;
  }
  return pieces;
}

function toolInputJson(block: Extract<FakeBlock, { type: 'tool_use' | 'server_tool_use' }>): string {
  return block.rawInput ?? JSON.stringify(block.input ?? {});
}

/** Fills in what a script may leave out: ids of the message and of tool_use blocks. */
export function completeBlocks(content: FakeBlock[]): FakeBlock[] {
  return content.map((block) => {
    if ((block.type === 'tool_use' || block.type === 'server_tool_use') && !('id' in block && block.id)) {
      return { ...block, id: newId(block.type === 'tool_use' ? 'toolu' : 'srvtoolu') } as FakeBlock;
    }
    return block;
  });
}

/** Context a reply is rendered in. */
export interface RenderContext {
  id: string;
  model: string;
  /** Input usage: uncached tokens, and cache reads and writes (see prompt-cache.ts). */
  input: CacheUsage;
  random: () => number;
  /** `usage.iterations`, when the answer had a compaction step (or is one). */
  iterations?: Array<Record<string, unknown>>;
  /** The response's `context_management` (`{applied_edits}`), when the request set `context_management`. */
  contextManagement?: { applied_edits: unknown[] };
  /** The code execution container the answer ran in (see code-execution.ts). */
  container?: ContainerInfo;
}

function baseUsage(input: CacheUsage, overrides: Partial<Usage> | undefined): Usage {
  return {
    ...input,
    output_tokens: 1,
    server_tool_use: null,
    service_tier: 'standard',
    ...overrides,
  } as Usage;
}

function outputTokens(reply: FakeMessageReply, content: FakeBlock[]): number {
  return reply.usage?.output_tokens ?? estimateTokens(content);
}

/** The final message a reply stands for, as a non-streamed answer carries it. */
export function renderMessage(reply: FakeMessageReply, ctx: RenderContext): Message {
  const content = completeBlocks(reply.content);
  const blocks = content.map((block) => {
    if (block.type === 'tool_use' || block.type === 'server_tool_use') {
      const { rawInput, input, ...rest } = block;
      return { ...rest, input: parseObjectOr(rawInput, input ?? {}) };
    }
    return block;
  });
  return {
    id: reply.id ?? ctx.id,
    type: 'message',
    role: 'assistant',
    model: reply.model ?? ctx.model,
    content: blocks,
    stop_reason: reply.stop_reason,
    stop_sequence: reply.stop_sequence ?? null,
    stop_details: (reply.stop_details ?? null) as Message['stop_details'],
    usage: {
      ...baseUsage(ctx.input, reply.usage),
      output_tokens: outputTokens(reply, content),
      ...(ctx.iterations && { iterations: ctx.iterations }),
    },
    ...(ctx.contextManagement && { context_management: ctx.contextManagement }),
    ...(ctx.container && { container: ctx.container }),
  } as unknown as Message;
}

function parseObjectOr(raw: string | undefined, fallback: Record<string, unknown>): Record<string, unknown> {
  if (raw === undefined) return fallback;
  try {
    const parsed: unknown = JSON.parse(raw);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : {};
  } catch {
    // A non-streamed answer always carries an object; invalid raw JSON can only stream.
    return {};
  }
}

/**
 * The SSE events of a streamed reply, in the API's order: `message_start`, per block
 * `content_block_start` / `content_block_delta`* / `content_block_stop` (a `ping` after the first
 * start, as the API sends), `message_delta` with the stop reason and usage, `message_stop`.
 */
export function renderEvents(reply: FakeMessageReply, ctx: RenderContext): SseEvent[] {
  const content = completeBlocks(reply.content);
  const size = reply.chunkSize ?? [1, 24];
  const events: SseEvent[] = [];
  const usage = baseUsage(ctx.input, reply.usage);
  events.push({
    event: 'message_start',
    data: {
      type: 'message_start',
      message: {
        id: reply.id ?? ctx.id,
        type: 'message',
        role: 'assistant',
        model: reply.model ?? ctx.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        stop_details: null,
        usage: { ...usage, output_tokens: 1 },
      },
    },
  });
  content.forEach((block, index) => {
    const delta = (d: Record<string, unknown>) =>
      events.push({ event: 'content_block_delta', data: { type: 'content_block_delta', index, delta: d } });
    const start = (b: unknown) =>
      events.push({
        event: 'content_block_start',
        data: { type: 'content_block_start', index, content_block: b },
      });
    switch (block.type) {
      case 'text':
        start({ type: 'text', text: '' });
        for (const text of chunk(block.text, size, ctx.random)) delta({ type: 'text_delta', text });
        break;
      case 'thinking':
        start({ type: 'thinking', thinking: '', signature: '' });
        for (const thinking of chunk(block.thinking, size, ctx.random))
          delta({ type: 'thinking_delta', thinking });
        delta({ type: 'signature_delta', signature: block.signature ?? '' });
        break;
      case 'compaction':
        // Signature and tool changes in the start, the summary in one delta: what BetaMessageStream reads.
        start({ ...block, content: null, encrypted_content: null });
        delta({
          type: 'compaction_delta',
          content: block.content,
          encrypted_content: block.encrypted_content,
        });
        break;
      case 'tool_use':
      case 'server_tool_use': {
        start({
          type: block.type,
          id: block.id,
          name: block.name,
          input: {},
          ...(block.type === 'tool_use' && block.caller && { caller: block.caller }),
        });
        // The API's first input_json_delta is often empty; then pieces cut anywhere, mid-token included.
        delta({ type: 'input_json_delta', partial_json: '' });
        for (const piece of chunk(toolInputJson(block), size, ctx.random)) {
          delta({ type: 'input_json_delta', partial_json: piece });
        }
        break;
      }
      default:
        start(block);
    }
    events.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index } });
    if (index === 0) events.push({ event: 'ping', data: { type: 'ping' } });
  });
  const finalUsage: Record<string, unknown> = {
    output_tokens: outputTokens(reply, content),
    ...(ctx.iterations && { iterations: ctx.iterations }),
  };
  for (const key of [
    'input_tokens',
    'cache_creation_input_tokens',
    'cache_read_input_tokens',
    'server_tool_use',
  ] as const) {
    if (reply.usage?.[key] !== undefined) finalUsage[key] = reply.usage[key];
  }
  events.push({
    event: 'message_delta',
    data: {
      type: 'message_delta',
      delta: {
        stop_reason: reply.stop_reason,
        stop_sequence: reply.stop_sequence ?? null,
        stop_details: reply.stop_details ?? null,
        ...(ctx.container && { container: ctx.container }),
      },
      usage: finalUsage,
      ...(ctx.contextManagement && { context_management: ctx.contextManagement }),
    },
  });
  events.push({ event: 'message_stop', data: { type: 'message_stop' } });
  return events;
}

/**
 * Parses an SSE body (a recorded fixture, or what a client received). Tolerates what real streams
 * carry: CRLF line ends, trailing spaces after the JSON, comment lines, multi-line `data:`.
 */
export function parseSse(text: string): SseEvent[] {
  const events: SseEvent[] = [];
  for (const frame of text.replace(/\r\n?/g, '\n').split(/\n\n+/)) {
    let name = 'message';
    const data: string[] = [];
    for (const line of frame.split('\n')) {
      if (line.startsWith(':') || line.trim() === '') continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') name = value.trim();
      else if (field === 'data') data.push(value);
    }
    if (data.length === 0) continue;
    events.push({ event: name, data: JSON.parse(data.join('\n')) as Record<string, unknown> });
  }
  return events;
}

/**
 * Accumulates stream events into the final message, strictly: an event out of the API's order
 * throws. Tool input is parsed from the raw JSON; incomplete JSON leaves `input` as `{}` and keeps
 * the raw text in the returned `rawToolInputs` (index → raw JSON).
 */
export function accumulateEvents(events: SseEvent[]): {
  message: Message;
  rawToolInputs: Map<number, string>;
} {
  let message: (Message & { content: Array<Record<string, unknown>> }) | undefined;
  const raw = new Map<number, string>();
  let stopped = false;
  for (const { event, data } of events) {
    if (event === 'ping') continue;
    if (event === 'error') throw new Error(`stream error event: ${JSON.stringify(data)}`);
    if (event === 'message_start') {
      if (message) throw new Error('message_start received twice');
      message = structuredClone(data.message) as typeof message;
      continue;
    }
    if (!message) throw new Error(`${event} before message_start`);
    if (stopped) throw new Error(`${event} after message_stop`);
    switch (event) {
      case 'content_block_start':
        message.content[data.index as number] = structuredClone(data.content_block) as never;
        break;
      case 'content_block_delta': {
        const index = data.index as number;
        const block = message.content[index];
        const delta = data.delta as Record<string, string>;
        if (!block) throw new Error(`content_block_delta for block ${index} before its content_block_start`);
        if (delta.type === 'text_delta') block.text = `${block.text as string}${delta.text}`;
        else if (delta.type === 'thinking_delta')
          block.thinking = `${block.thinking as string}${delta.thinking}`;
        else if (delta.type === 'signature_delta') block.signature = delta.signature;
        else if (delta.type === 'compaction_delta') {
          block.content = delta.content;
          block.encrypted_content = delta.encrypted_content;
        } else if (delta.type === 'input_json_delta')
          raw.set(index, (raw.get(index) ?? '') + delta.partial_json);
        else if (delta.type !== 'citations_delta') throw new Error(`unknown delta type ${delta.type}`);
        break;
      }
      case 'content_block_stop': {
        const index = data.index as number;
        if (!message.content[index]) throw new Error(`content_block_stop for unknown block ${index}`);
        break;
      }
      case 'message_delta': {
        const delta = data.delta as Record<string, unknown>;
        message.stop_reason = delta.stop_reason as Message['stop_reason'];
        message.stop_sequence = (delta.stop_sequence ?? null) as string | null;
        message.stop_details = (delta.stop_details ?? null) as Message['stop_details'];
        Object.assign(message.usage, data.usage);
        if (data.context_management != null)
          (message as unknown as Record<string, unknown>).context_management = data.context_management;
        if (delta.container != null)
          (message as unknown as Record<string, unknown>).container = delta.container;
        break;
      }
      case 'message_stop':
        stopped = true;
        break;
      default:
        // The API may add events; clients ignore unknown ones, and so do we.
        break;
    }
  }
  if (!message || !stopped) throw new Error('stream ended without message_stop');
  for (const [index, json] of raw) {
    message.content[index].input = parseObjectOr(json, {});
  }
  return { message: message as Message, rawToolInputs: raw };
}
