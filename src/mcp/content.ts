/** From an MCP `tools/call` result to tool_result content for the Messages API. Pure. */
import type {
  Base64ImageSource,
  ImageBlockParam,
  TextBlockParam,
} from '@anthropic-ai/sdk/resources/messages';
import type { CallToolResult, ContentBlock } from '@modelcontextprotocol/sdk/types.js';
import type { McpCallResult } from './types';

type Block = TextBlockParam | ImageBlockParam;

/** The image types the Messages API accepts inline; other images become a note. */
const IMAGE_TYPES: readonly string[] = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'];

/** Said to the model when a result has nothing to show: the API refuses empty text blocks. */
export const EMPTY_RESULT = '(no content)';

/**
 * Maps a call's result: text → text; an image the API can take → an image block; audio and other
 * kinds → a short note; an embedded resource → its text (an image blob as an image, another blob as
 * a note); a resource link → its URI; no content but `structuredContent` → that, as JSON. A single
 * text block comes back as a string. `isError` is kept.
 */
export function toCallResult(
  result: Pick<CallToolResult, 'content' | 'structuredContent' | 'isError'>,
): McpCallResult {
  const blocks = (result.content ?? []).flatMap(toBlocks);
  if (blocks.length === 0 && result.structuredContent !== undefined)
    blocks.push(text(JSON.stringify(result.structuredContent)));
  const isError = result.isError === true;
  if (blocks.length === 0) return { content: EMPTY_RESULT, isError };
  if (blocks.length === 1 && blocks[0].type === 'text') return { content: blocks[0].text, isError };
  return { content: blocks, isError };
}

function toBlocks(block: ContentBlock): Block[] {
  switch (block.type) {
    case 'text':
      return block.text ? [text(block.text)] : [];
    case 'image':
      return [image(block.data, block.mimeType)];
    case 'audio':
      return [text(`[audio (${block.mimeType}, ${base64Bytes(block.data)} bytes) not shown]`)];
    case 'resource': {
      const { resource } = block;
      if ('text' in resource) return resource.text ? [text(resource.text)] : [];
      return [image(resource.blob, resource.mimeType ?? 'application/octet-stream', resource.uri)];
    }
    case 'resource_link': {
      const about = [block.mimeType, block.description].filter(Boolean).join('; ');
      return [text(`[resource ${block.name}: ${block.uri}${about ? ` (${about})` : ''}]`)];
    }
    default:
      return [text(`[unsupported MCP content of type ${JSON.stringify((block as { type: unknown }).type)}]`)];
  }
}

/** An image block when the API can take it; otherwise a note saying what was left out. */
function image(data: string, mimeType: string, uri?: string): Block {
  if (IMAGE_TYPES.includes(mimeType))
    return {
      type: 'image',
      source: { type: 'base64', media_type: mimeType as Base64ImageSource['media_type'], data },
    };
  const what = uri ? `resource ${uri}` : 'content';
  return text(`[${what} (${mimeType}, ${base64Bytes(data)} bytes) not shown]`);
}

function text(value: string): TextBlockParam {
  return { type: 'text', text: value };
}

function base64Bytes(data: string): number {
  const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
  return Math.max(0, Math.floor((data.length * 3) / 4) - padding);
}
