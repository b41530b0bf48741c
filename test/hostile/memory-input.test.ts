/**
 * Memory names and contents the model may not write (second probe, findings 15 and 16), on both
 * backends (the filesystem and a real PostgreSQL): a NUL or an unpaired surrogate in a file's content is
 * the model's error at once (before: PostgreSQL's refusal of the NUL was retried as an outage for 15 s);
 * a path with a C1 control (U+0085), a bidirectional control (the right-to-left override) or an unpaired
 * surrogate is refused (before: two different lone surrogates named the same file).
 */
import { describe, expect, it } from '@jest/globals';
import { runMemoryCommand, type MemoryCommand } from '../../src/memory/commands';
import { memoryPath } from '../../src/memory/paths';
import { MemoryError, type MemoryStore } from '../../src/memory/store';
import { memoryBackendsForSuite } from '../helpers/memory-backends';

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
