/**
 * Memory names and contents the model may not write (second probe, findings 15 and 16), on both
 * backends (the filesystem and a real PostgreSQL): a NUL or an unpaired surrogate in a file's content is
 * the model's error at once (before: PostgreSQL's refusal of the NUL was retried as an outage for 15 s);
 * a path with a C1 control (U+0085), a bidirectional control (the right-to-left override) or an unpaired
 * surrogate is refused (before: two different lone surrogates named the same file). And finding 14: the
 * filesystem backend checks the file it opened, so a directory swapped for a symlink after the path was
 * checked is refused.
 */
import { constants, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { runMemoryCommand, type MemoryCommand } from '../../src/memory/commands';
import { openedWithin } from '../../src/memory/filesystem';
import { memoryPath } from '../../src/memory/paths';
import { MemoryError, type MemoryStore } from '../../src/memory/store';
import { memoryBackendsForSuite } from '../support/memory-backends';

const stores: Record<string, MemoryStore> = memoryBackendsForSuite('memory-hostile');

let keys = 0;
const scope = { agent: 'keeper', tenant: 'hostile' };
const run = (backend: string, command: MemoryCommand) =>
  runMemoryCommand(stores[backend], scope, `wf/toolu_${++keys}`, command);

describe.each(['filesystem', 'postgres'])('the %s backend', (backend) => {
  it.each([
    ['a NUL in a new file', { command: 'create', path: '/memories/nul.md', file_text: 'a\u0000b' }, /NUL/],
    [
      'an unpaired surrogate in a new file',
      { command: 'create', path: '/memories/sur.md', file_text: 'a\ud800b' },
      /well-formed Unicode/,
    ],
    [
      'a NUL in a replacement',
      { command: 'str_replace', path: '/memories/ok.md', old_str: 'fine', new_str: '\u0000' },
      /NUL/,
    ],
    [
      'a NUL in an insertion',
      { command: 'insert', path: '/memories/ok.md', insert_line: 0, insert_text: 'x\u0000' },
      /NUL/,
    ],
  ] as const)(
    '%s is refused at once, as the model’s error, and nothing is written',
    async (_name, command, message) => {
      await run(backend, { command: 'create', path: '/memories/ok.md', file_text: 'fine' }).catch(
        () => undefined,
      );
      const started = Date.now();
      const failure = await run(backend, command as MemoryCommand).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(MemoryError);
      expect((failure as MemoryError).message).toMatch(message);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(await run(backend, { command: 'view', path: '/memories/ok.md' })).toMatch(/1\tfine/);
      await expect(run(backend, { command: 'view', path: '/memories/nul.md' })).rejects.toThrow(MemoryError);
    },
  );

  it('two different unpaired surrogates never name one file', async () => {
    for (const path of ['/memories/\ud800.md', '/memories/\udbff.md'])
      await expect(run(backend, { command: 'create', path, file_text: 'x' })).rejects.toThrow(/well-formed/);
  });
});

describe('memory paths', () => {
  it.each([
    ['a C1 control (NEL)', '/memories/a\u0085b.md', /control characters/],
    ['a C1 control (CSI)', '/memories/a\u009bb.md', /control characters/],
    ['the right-to-left override', '/memories/invoice\u202egpj.md', /control characters/],
    ['a right-to-left isolate', '/memories/a\u2067b.md', /control characters/],
    ['a left-to-right mark', '/memories/a\u200eb.md', /control characters/],
    ['a lone high surrogate', '/memories/a\ud800.md', /well-formed Unicode/],
    ['a lone low surrogate', '/memories/a\udc00.md', /well-formed Unicode/],
  ])('with %s are refused', (_name, path, message) => {
    expect(() => memoryPath(path)).toThrow(MemoryError);
    expect(() => memoryPath(path)).toThrow(message);
  });

  it('with emoji and other scripts are fine', () => {
    expect(memoryPath('/memories/😀/ü/日本.md')).toBe('😀/ü/日本.md');
  });
});

describe('the filesystem backend against a directory swapped for a symlink (finding 14)', () => {
  it('checks the file it opened, not the path it checked: one reached through a symlink is refused', async () => {
    const base = mkdtempSync(join(tmpdir(), 'memory-swap-'));
    try {
      const root = join(base, 'memories');
      mkdirSync(join(root, 'notes'), { recursive: true });
      writeFileSync(join(root, 'notes', 'a.md'), 'mine');
      expect(await withOpened(join(root, 'notes', 'a.md'), (h) => openedWithin(h, root, 'notes/a.md'))).toBe(
        'ok',
      );
      // After the walk checked notes/ as a directory, someone swaps it for a symlink to elsewhere: the
      // open (O_NOFOLLOW guards only the last name) reaches the other file.
      mkdirSync(join(base, 'elsewhere'));
      writeFileSync(join(base, 'elsewhere', 'a.md'), 'secret');
      rmSync(join(root, 'notes'), { recursive: true });
      symlinkSync(join(base, 'elsewhere'), join(root, 'notes'));
      const outcome = await withOpened(join(root, 'notes', 'a.md'), (h) =>
        openedWithin(h, root, 'notes/a.md'),
      );
      expect(outcome).toMatch(/would escape \/memories directory via symlink/);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});

/** Opens `file` as the backend does (O_NOFOLLOW) and runs `check` on it: 'ok' or the error's message. */
async function withOpened(file: string, check: (handle: FileHandle) => Promise<void>): Promise<string> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    await check(handle);
    return 'ok';
  } catch (err) {
    return (err as Error).message;
  } finally {
    await handle.close();
  }
}
