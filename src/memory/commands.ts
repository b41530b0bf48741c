/**
 * The memory tool's six commands (`memory_20250818`: view, create, str_replace, insert, delete, rename)
 * over any {@link MemoryStore}. Input shapes are the SDK's `BetaMemoryTool20250818Command`; result and
 * error texts are those of the SDK's `BetaLocalFilesystemMemoryTool`, so the model reads what it was
 * trained on, whatever the backend. Where this differs from the SDK, it says why.
 */
import type { BetaMemoryTool20250818Command } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import { z } from 'zod';
import { ancestorsOf, displayPath, isWithin, memoryPath, MAX_PATH_CHARS } from './paths';
import { MemoryError, type MemoryPlan, type MemoryScope, type MemoryStore, type MemoryView } from './store';

/** Largest file the model may write, in characters (a memory file is notes, not a data set). */
export const MAX_FILE_CHARS = 1_000_000;
const MAX_LINES = 999_999;
const LINE_NUMBER_WIDTH = String(MAX_LINES).length;

const path = z.string().min(1).max(MAX_PATH_CHARS);
const text = z.string().max(MAX_FILE_CHARS);

/** The commands' input, checked before anything runs (an invalid one is an `is_error` result). */
export const MemoryCommandSchema = z.discriminatedUnion('command', [
  z.object({
    command: z.literal('view'),
    path,
    view_range: z.array(z.number().int()).length(2).optional(),
  }),
  z.object({ command: z.literal('create'), path, file_text: text }),
  z.object({ command: z.literal('str_replace'), path, old_str: text.min(1), new_str: text }),
  z.object({
    command: z.literal('insert'),
    path,
    insert_line: z.number().int().min(0),
    insert_text: text,
  }),
  z.object({ command: z.literal('delete'), path }),
  z.object({ command: z.literal('rename'), old_path: path, new_path: path }),
]) satisfies z.ZodType<BetaMemoryTool20250818Command>;
export type MemoryCommand = z.output<typeof MemoryCommandSchema>;

/** Whether a command writes (and so goes through the store's once-per-key write). */
export function isWrite(command: MemoryCommand): boolean {
  return command.command !== 'view';
}

/**
 * Runs one command in `scope`. Writes are applied once per `key` (the tool call's idempotency key): a
 * retried call gets the recorded text back. A refused command throws {@link MemoryError}.
 */
export async function runMemoryCommand(
  store: MemoryStore,
  scope: MemoryScope,
  key: string,
  command: MemoryCommand,
): Promise<string> {
  if (command.command === 'view') return view(store.view(scope), command);
  const { result } = await store.write(scope, key, (state) => plan(state, command));
  return result;
}

async function view(
  state: MemoryView,
  command: Extract<MemoryCommand, { command: 'view' }>,
): Promise<string> {
  const at = memoryPath(command.path);
  const shown = displayPath(at);
  const node = await state.get(at);
  if (!node) throw new MemoryError(`The path ${shown} does not exist. Please provide a valid path.`);
  if (node.kind === 'dir') {
    // Sizes: a directory shows the bytes of the files under it, the same on every backend (the SDK
    // shows the file system's directory size, which says nothing and differs between backends).
    const all = (await state.descendants(at)).filter((e) => !hidden(relativeTo(e.path, at)));
    const total = (dir: string) =>
      all.filter((e) => e.kind === 'file' && isWithin(e.path, dir)).reduce((n, e) => n + e.size, 0);
    const lines = [`${formatSize(total(at))}\t${shown}`];
    for (const entry of all.sort((a, b) => (a.path < b.path ? -1 : 1))) {
      if (relativeTo(entry.path, at).split('/').length > 2) continue;
      const size = entry.kind === 'dir' ? total(entry.path) : entry.size;
      lines.push(`${formatSize(size)}\t${displayPath(entry.path)}${entry.kind === 'dir' ? '/' : ''}`);
    }
    return `Here're the files and directories up to 2 levels deep in ${shown}, excluding hidden items and node_modules:\n${lines.join('\n')}`;
  }
  const lines = node.content.split('\n');
  if (lines.length > MAX_LINES) {
    throw new MemoryError(
      `File ${shown} has too many lines (${lines.length}). Maximum is ${MAX_LINES.toLocaleString('en-US')} lines.`,
    );
  }
  let shownLines = lines;
  let start = 1;
  if (command.view_range) {
    const [from, to] = command.view_range;
    const first = Math.max(1, from) - 1;
    shownLines = lines.slice(first, to === -1 ? lines.length : to);
    start = first + 1;
  }
  return `Here's the content of ${shown} with line numbers:\n${numbered(shownLines, start)}`;
}

/** What a write command changes, judged against the scope's current state. */
async function plan(
  state: MemoryView,
  command: Exclude<MemoryCommand, { command: 'view' }>,
): Promise<MemoryPlan> {
  for (const written of [
    'file_text' in command && command.file_text,
    'new_str' in command && command.new_str,
    'insert_text' in command && command.insert_text,
  ])
    if (typeof written === 'string') textProblem(written);
  switch (command.command) {
    case 'create': {
      const at = memoryPath(command.path);
      const shown = displayPath(at);
      if (at === '' || (await state.get(at))) throw new MemoryError(`File ${shown} already exists`);
      await parentsAreDirectories(state, at);
      return {
        changes: [{ op: 'put', path: at, content: command.file_text }],
        result: `File created successfully at: ${shown}`,
      };
    }
    case 'str_replace': {
      const [at, content] = await existingFile(state, command.path);
      const shown = displayPath(at);
      // Occurrences in the whole text (the SDK counts lines containing old_str, so a multi-line
      // old_str never matches and two on one line pass as one); each reported by its starting line.
      const starts: number[] = [];
      for (let i = content.indexOf(command.old_str); i >= 0; i = content.indexOf(command.old_str, i + 1))
        starts.push(content.slice(0, i).split('\n').length);
      if (starts.length === 0) {
        throw new MemoryError(
          `No replacement was performed, old_str \`${command.old_str}\` did not appear verbatim in ${shown}.`,
        );
      }
      if (starts.length > 1) {
        throw new MemoryError(
          `No replacement was performed. Multiple occurrences of old_str \`${command.old_str}\` in lines: ${starts.join(', ')}. Please ensure it is unique`,
        );
      }
      const updated = content.replace(command.old_str, () => command.new_str);
      tooLarge(updated, shown);
      const lines = updated.split('\n');
      const changed = starts[0] - 1;
      const from = Math.max(0, changed - 2);
      const snippet = numbered(lines.slice(from, Math.min(lines.length, changed + 3)), from + 1);
      return {
        changes: [{ op: 'put', path: at, content: updated }],
        result: `The memory file has been edited. Here is the snippet showing the change (with line numbers):\n${snippet}`,
      };
    }
    case 'insert': {
      const [at, content] = await existingFile(state, command.path);
      const shown = displayPath(at);
      const lines = content.split('\n');
      if (command.insert_line > lines.length) {
        throw new MemoryError(
          `Invalid \`insert_line\` parameter: ${command.insert_line}. It should be within the range of lines of the file: [0, ${lines.length}]`,
        );
      }
      lines.splice(command.insert_line, 0, command.insert_text.replace(/\n$/, ''));
      const updated = lines.join('\n');
      tooLarge(updated, shown);
      return {
        changes: [{ op: 'put', path: at, content: updated }],
        result: `The file ${shown} has been edited.`,
      };
    }
    case 'delete': {
      const at = memoryPath(command.path);
      const shown = displayPath(at);
      if (at === '') throw new MemoryError('Cannot delete the /memories directory itself');
      if (!(await state.get(at))) throw new MemoryError(`The path ${shown} does not exist`);
      return { changes: [{ op: 'remove', path: at }], result: `Successfully deleted ${shown}` };
    }
    case 'rename': {
      const from = memoryPath(command.old_path);
      const to = memoryPath(command.new_path);
      if (from === '') throw new MemoryError('Cannot rename the /memories directory itself');
      if (to === '' || (await state.get(to)))
        throw new MemoryError(`The destination ${displayPath(to)} already exists`);
      if (!(await state.get(from))) throw new MemoryError(`The path ${displayPath(from)} does not exist`);
      if (isWithin(to, from))
        throw new MemoryError(`Cannot move ${displayPath(from)} into itself (${displayPath(to)})`);
      await parentsAreDirectories(state, to);
      return {
        changes: [{ op: 'move', from, to }],
        result: `Successfully renamed ${displayPath(from)} to ${displayPath(to)}`,
      };
    }
  }
}

/** The file at the model's `path` and its content; refused when missing or a directory. */
async function existingFile(state: MemoryView, path: string): Promise<[string, string]> {
  const at = memoryPath(path);
  const node = await state.get(at);
  if (!node)
    throw new MemoryError(`The path ${displayPath(at)} does not exist. Please provide a valid path.`);
  if (node.kind !== 'file') throw new MemoryError(`The path ${displayPath(at)} is not a file.`);
  return [at, node.content];
}

/** A file cannot be written under another file. */
async function parentsAreDirectories(state: MemoryView, at: string): Promise<void> {
  for (const dir of ancestorsOf(at)) {
    const node = await state.get(dir);
    if (node?.kind === 'file') throw new MemoryError(`The path ${displayPath(dir)} is not a directory.`);
    if (!node) return; // created with the file, and so is everything below
  }
}

function tooLarge(content: string, shown: string): void {
  if (content.length > MAX_FILE_CHARS)
    throw new MemoryError(`File ${shown} would be larger than ${MAX_FILE_CHARS} characters.`);
}

/** A path relative to `dir` (which holds it). */
function relativeTo(path: string, dir: string): string {
  return dir === '' ? path : path.slice(dir.length + 1);
}

/** Hidden items (a segment starting with `.`) and `node_modules`, left out of listings as by the SDK. */
function hidden(relative: string): boolean {
  return relative.split('/').some((s) => s.startsWith('.') || s === 'node_modules');
}

function numbered(lines: string[], start: number): string {
  return lines.map((line, i) => `${String(i + start).padStart(LINE_NUMBER_WIDTH, ' ')}\t${line}`).join('\n');
}

/** The SDK's sizes: `0B`, `512B`, `1.5K`, `2M`. */
export function formatSize(bytes: number): string {
  if (bytes === 0) return '0B';
  const units = ['B', 'K', 'M', 'G'];
  const i = Math.min(units.length - 1, Math.floor(Math.log(bytes) / Math.log(1024)));
  const size = bytes / Math.pow(1024, i);
  return (size % 1 === 0 ? size.toString() : size.toFixed(1)) + units[i];
}

/**
 * Memory files are text, the same on every backend: a NUL (which PostgreSQL's text cannot hold) or an
 * unpaired surrogate (which UTF-8 cannot encode, so it would be stored changed) is the model's error at
 * once, never an outage to retry.
 */
function textProblem(text: string): void {
  if (text.includes('\u0000'))
    throw new MemoryError('File content must not contain NUL characters: memory files are text.');
  if (/\p{Cs}/u.test(text))
    throw new MemoryError('File content must be well-formed Unicode (it holds an unpaired surrogate).');
}
