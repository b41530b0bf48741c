import { DEFAULT_LIMITS } from '../api/conversation';
import { FROM_STDIN } from './args';
import { UsageError } from './parse';

/**
 * The largest message the CLI sends: a conversation's default `maxMessageBytes`. The workflow measures
 * a message as its JSON; we count that JSON's UTF-8 bytes, never less than the workflow's count, so a
 * message that passes here is not refused there for its size.
 */
export const MAX_MESSAGE_BYTES = DEFAULT_LIMITS.maxMessageBytes;

/**
 * The text of a prompt or message: the argument itself, or stdin for `-`. Stdin is read up to the
 * limit and no further (a stream of gigabytes is not buffered to be refused), and must be UTF-8.
 */
export async function messageText(
  arg: string,
  what: string,
  stdin: AsyncIterable<Buffer | string> = process.stdin,
): Promise<string> {
  const text = arg === FROM_STDIN ? await readBounded(stdin, what) : arg;
  if (!text.trim()) throw new UsageError(`${what} is empty`);
  const bytes = Buffer.byteLength(JSON.stringify(text));
  if (bytes > MAX_MESSAGE_BYTES)
    throw new UsageError(
      `${what} is ${bytes} bytes as JSON; a message may be at most ${MAX_MESSAGE_BYTES} (maxMessageBytes)`,
    );
  return text;
}

async function readBounded(stdin: AsyncIterable<Buffer | string>, what: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Leaving the loop early (the throw) destroys the stream: nothing more is read.
  for await (const chunk of stdin) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buffer.length;
    if (size > MAX_MESSAGE_BYTES)
      throw new UsageError(
        `${what} on stdin is over ${MAX_MESSAGE_BYTES} bytes, the most a message may be (maxMessageBytes)`,
      );
    chunks.push(buffer);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new UsageError(`${what} on stdin is not valid UTF-8`);
  }
}
