import type { ContentBlock, Message, RawMessageStreamEvent } from '@anthropic-ai/sdk/resources/messages';

/** A block being streamed: the block, its raw tool-input JSON, and whether it stopped. */
interface OpenBlock {
  block: Record<string, unknown>;
  json: string;
  stopped: boolean;
}

/** The accumulated answer: the message, and per block the raw input JSON and whether it was stopped. */
export interface Accumulated {
  message: Message;
  rawInputs: Map<number, string>;
  stopped: Set<number>;
}

/**
 * Accumulates raw Messages API stream events into the final message, strictly: an event out of the
 * API's order throws (a stream that ends early is caught by {@link finish}). Tool inputs are kept as
 * the raw JSON text the model wrote, not parsed here: the caller parses it strictly, because a cut or
 * invalid input must never be mistaken for a whole one.
 */
export class MessageAccumulator {
  private message: Message | undefined;
  private readonly blocks: OpenBlock[] = [];
  private done = false;

  push(event: RawMessageStreamEvent): void {
    if (this.done) throw new Error(`stream event ${event.type} after message_stop`);
    switch (event.type) {
      case 'message_start':
        if (this.message) throw new Error('message_start received twice');
        this.message = { ...event.message, content: [] };
        return;
      case 'content_block_start': {
        const message = this.started(event.type);
        if (this.blocks[event.index]) throw new Error(`content_block_start for block ${event.index} twice`);
        this.blocks[event.index] = { block: { ...event.content_block }, json: '', stopped: false };
        message.content.length = Math.max(message.content.length, event.index + 1);
        return;
      }
      case 'content_block_delta': {
        const open = this.open(event.index, event.type);
        const { delta } = event;
        switch (delta.type) {
          case 'text_delta':
            open.block.text = `${(open.block.text as string) ?? ''}${delta.text}`;
            return;
          case 'input_json_delta':
            open.json += delta.partial_json;
            return;
          case 'thinking_delta':
            open.block.thinking = `${(open.block.thinking as string) ?? ''}${delta.thinking}`;
            return;
          case 'signature_delta':
            open.block.signature = delta.signature;
            return;
          case 'citations_delta':
            open.block.citations = [...((open.block.citations as unknown[]) ?? []), delta.citation];
            return;
          default:
            if ((delta as { type: string }).type === 'compaction_delta') {
              // A compaction block (beta): the delta carries its final value, assigned as the SDK's
              // BetaMessageStream does; its signature and tool_changes came with content_block_start.
              const compaction = delta as unknown as { content: string | null; encrypted_content?: unknown };
              open.block.content = compaction.content;
              if ('encrypted_content' in compaction)
                open.block.encrypted_content = compaction.encrypted_content;
            }
            // A delta type newer than this code: keep the stream going, as the SDK does.
            return;
        }
      }
      case 'content_block_stop':
        this.open(event.index, event.type).stopped = true;
        return;
      case 'message_delta': {
        const message = this.started(event.type);
        message.stop_reason = event.delta.stop_reason;
        // Context editing (beta): what the API cleared, reported with the final delta.
        const managed = (event as { context_management?: unknown }).context_management;
        if (managed != null) (message as { context_management?: unknown }).context_management = managed;
        // Code execution: the container the answer ran in.
        const { container } = event.delta as { container?: unknown };
        if (container != null) (message as { container?: unknown }).container = container;
        message.stop_sequence = event.delta.stop_sequence;
        (message as { stop_details?: unknown }).stop_details =
          (event.delta as { stop_details?: unknown }).stop_details ?? null;
        // Usage in message_delta is cumulative: overwrite what it carries, keep the rest.
        for (const [key, value] of Object.entries(event.usage)) {
          if (value !== null && value !== undefined)
            (message.usage as unknown as Record<string, unknown>)[key] = value;
        }
        return;
      }
      case 'message_stop':
        this.started(event.type);
        this.done = true;
        return;
      default:
        // Unknown event types are ignored, as the SDK ignores them.
        return;
    }
  }

  /** The final message; throws if the stream ended before `message_stop`. */
  finish(): Accumulated {
    if (!this.message || !this.done) throw new Error('the stream ended before message_stop');
    const rawInputs = new Map<number, string>();
    const stopped = new Set<number>();
    // Array.from visits holes too (map skips them): a block index the stream skipped must throw.
    this.message.content = Array.from(this.blocks, (open, index) => {
      if (!open) throw new Error(`block ${index} never started`);
      if (open.stopped) stopped.add(index);
      if (open.block.type === 'tool_use' || open.block.type === 'server_tool_use')
        rawInputs.set(index, open.json);
      return open.block as unknown as ContentBlock;
    });
    return { message: this.message, rawInputs, stopped };
  }

  private started(type: string): Message {
    if (!this.message) throw new Error(`${type} before message_start`);
    return this.message;
  }

  private open(index: number, type: string): OpenBlock {
    this.started(type);
    const open = this.blocks[index];
    if (!open) throw new Error(`${type} for block ${index} before its content_block_start`);
    if (open.stopped) throw new Error(`${type} for block ${index} after its content_block_stop`);
    return open;
  }
}
