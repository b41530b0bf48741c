import type { LiveCall, LiveMessage } from '../streaming/protocol';
import { subscribeLive } from '../streaming/subscribe';
import { forTerminal, jsonForTerminal } from './sanitize';

export interface WatchOptions {
  /** The ops server's base URL. */
  url: string;
  token: string;
  workflowId: string;
  /** One JSON line per message instead of the rendered stream. */
  json: boolean;
  /** Where the output goes; it is already safe for a terminal (see src/cli/sanitize.ts). */
  write: (text: string) => void;
  /** Resolves when watching should stop (e.g. the conversation closed). */
  until: Promise<void>;
}

/**
 * Follows a conversation's live model stream from the ops server and renders it as it arrives, like
 * the seeds' notebook: text as it is written, `>>> Tool Call: "name"` then the arguments as they come,
 * thinking marked, a retry announced (its partial output is void).
 */
export async function watch(options: WatchOptions): Promise<void> {
  const controller = new AbortController();
  void options.until.then(() => controller.abort());
  const render = renderer(options.write);
  for await (const message of subscribeLive({
    url: options.url,
    token: options.token,
    workflowId: options.workflowId,
    signal: controller.signal,
  })) {
    if (options.json) options.write(`${jsonForTerminal(message)}\n`);
    else render(message);
  }
}

/**
 * Renders live messages as text. The model writes the text, the tool names and the inputs, and a
 * worker the error: all of it goes to `write` through forTerminal, piece by piece (an escape sequence
 * split across deltas still loses its ESC).
 */
export function renderer(writeRaw: (text: string) => void): (message: LiveMessage) => void {
  const write = (text: string) => writeRaw(forTerminal(text));
  const types = new Map<number, string>();
  const startBlock = (index: number, type: string, name?: string) => {
    types.set(index, type);
    if (type === 'tool_use' || type === 'server_tool_use')
      write(
        `\n>>> ${type === 'server_tool_use' ? 'Server Tool' : 'Tool'} Call: ${JSON.stringify(name ?? '')}\n`,
      );
    else if (type === 'thinking') write('\n[thinking] ');
    else if (type !== 'text') write(`\n[${type}]`);
  };
  const replay = (call: LiveCall) => {
    for (const block of call.blocks.filter(Boolean)) {
      startBlock(block.index, block.type, block.name);
      write(block.text);
      if (block.done) write('\n');
    }
  };
  return (message) => {
    switch (message.type) {
      case 'snapshot':
        if (message.call && !message.call.ended) replay(message.call);
        return;
      case 'reset':
        write(
          `\n[the model call is retried (attempt ${message.attempt}): discard the partial output above]\n`,
        );
        return;
      case 'block_start':
        startBlock(message.index, message.blockType, message.name);
        return;
      case 'delta':
        write(message.text);
        return;
      case 'block_stop':
        if (types.get(message.index) !== 'text') write('\n');
        return;
      case 'end':
        write(
          message.ok ? `\n[${message.stopReason ?? 'done'}]\n` : `\n[failed: ${message.error ?? 'error'}]\n`,
        );
        return;
    }
  };
}
