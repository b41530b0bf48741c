import type { LiveCall, LiveMessage } from '../streaming/protocol';

export interface WatchOptions {
  /** The ops server's base URL. */
  url: string;
  token: string;
  workflowId: string;
  /** One JSON line per message instead of the rendered stream. */
  json: boolean;
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
  const res = await fetch(`${options.url.replace(/\/$/, '')}/api/conversations/${encodeURIComponent(options.workflowId)}/live`, {
    headers: { authorization: `Bearer ${options.token}`, accept: 'text/event-stream' },
    signal: controller.signal,
  }).catch((err: unknown) => {
    if (controller.signal.aborted) return undefined;
    throw new Error(`cannot reach the ops server at ${options.url} (${String(err)}): start it (\`npm run ops\`, or \`npm start\`) or set OPS_URL`);
  });
  if (!res) return;
  if (res.status === 401) throw new Error('the ops server refused the token: set OPS_TOKEN');
  if (!res.ok || !res.body) throw new Error(`the ops server answered ${res.status}`);
  const render = renderer(options.write);
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = frame.split('\n').find((l) => l.startsWith('data: '));
        if (!data) continue;
        const message = JSON.parse(data.slice(6)) as LiveMessage;
        if (options.json) options.write(`${JSON.stringify(message)}\n`);
        else render(message);
      }
    }
  } catch (err) {
    if (!controller.signal.aborted) throw err;
  }
}

/** Renders live messages as text. */
export function renderer(write: (text: string) => void): (message: LiveMessage) => void {
  const types = new Map<number, string>();
  const startBlock = (index: number, type: string, name?: string) => {
    types.set(index, type);
    if (type === 'tool_use' || type === 'server_tool_use') write(`\n>>> ${type === 'server_tool_use' ? 'Server Tool' : 'Tool'} Call: ${JSON.stringify(name ?? '')}\n`);
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
        write(`\n[the model call is retried (attempt ${message.attempt}): discard the partial output above]\n`);
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
        write(message.ok ? `\n[${message.stopReason ?? 'done'}]\n` : `\n[failed: ${message.error ?? 'error'}]\n`);
        return;
    }
  };
}
