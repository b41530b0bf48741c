import type { LiveMessage } from './protocol';

export interface SubscribeOptions {
  /** The ops server's base URL. */
  url: string;
  token: string;
  workflowId: string;
  signal?: AbortSignal;
  /** The id of the last message seen before a reconnect: the server sends what came after it. */
  lastEventId?: string;
  /** Hears each message's event id (keep the last one to reconnect from it). */
  onEventId?: (eventId: string) => void;
}

/**
 * The live stream of one conversation from the ops server, message by message (a snapshot first).
 * Ends when `signal` aborts or the server closes the stream; throws with what to do when it cannot connect.
 */
export async function* subscribeLive(options: SubscribeOptions): AsyncGenerator<LiveMessage> {
  const res = await fetch(
    `${options.url.replace(/\/$/, '')}/api/conversations/${encodeURIComponent(options.workflowId)}/live`,
    {
      headers: {
        authorization: `Bearer ${options.token}`,
        accept: 'text/event-stream',
        ...(options.lastEventId && { 'last-event-id': options.lastEventId }),
      },
      signal: options.signal,
    },
  ).catch((err: unknown) => {
    if (options.signal?.aborted) return undefined;
    throw new Error(
      `cannot reach the ops server at ${options.url} (${String(err)}): start it (\`npm run ops\`, or \`npm start\`) or set OPS_URL`,
    );
  });
  if (!res) return;
  if (res.status === 401) throw new Error('the ops server refused the token: set OPS_TOKEN');
  if (!res.ok || !res.body) throw new Error(`the ops server answered ${res.status}`);
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const lines = buffer.slice(0, end).split('\n');
        const data = lines.find((l) => l.startsWith('data: '));
        const id = lines.find((l) => l.startsWith('id: '));
        buffer = buffer.slice(end + 2);
        if (id) options.onEventId?.(id.slice(4));
        if (data) yield JSON.parse(data.slice(6)) as LiveMessage;
      }
    }
  } catch (err) {
    if (!options.signal?.aborted) throw err;
  }
}
