/**
 * The memory tool's pure parts and its backends: path checks, each command's semantics (one table,
 * run against the filesystem backend and a PostgreSQL server this file starts), a write applied once
 * per key, tenants kept apart, symlinks refused, a crashed filesystem write completed by its retry.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { validateRequest } from '../../src/testing/fake-claude/validate';
import { keyHash } from '../../src/tools/idempotent-write';
import { MemoryCommandSchema, runMemoryCommand, type MemoryCommand } from '../../src/memory/commands';
import { FilesystemMemoryStore } from '../../src/memory/filesystem';
import { memoryPath } from '../../src/memory/paths';
import { MemoryError, type MemoryScope, type MemoryStore } from '../../src/memory/store';
import { memoryBackendsForSuite } from '../support/memory-backends';

describe('memoryPath', () => {
  it.each([
    ['/memories', ''],
    ['/memories/', ''],
    ['/memories/notes.md', 'notes.md'],
    ['/memories//a///b.md/', 'a/b.md'],
    ['/memories/a b/ü.md', 'a b/ü.md'],
    ['/memories/...md', '...md'],
  ])('accepts %j as %j', (path, relative) => {
    expect(memoryPath(path)).toBe(relative);
  });

  it.each([
    ['', /must not be empty/],
    ['notes.md', /must start with \/memories/],
    ['/etc/passwd', /must start with \/memories/],
    ['/memoriesX/a', /must start with \/memories/],
    ['/memories/../etc/passwd', /would escape \/memories/],
    ['/memories/a/../../x', /would escape \/memories/],
    ['/memories/./a', /would escape \/memories/],
    ['/memories/a\\..\\..\\x', /backslashes/],
    ['/memories/a\u0000b', /control characters/],
    ['/memories/a\nb', /control characters/],
    [`/memories/${'x'.repeat(256)}`, /longer than 255 bytes/],
    [`/memories/${'a/'.repeat(600)}`, /longer than 1024 characters/],
  ])('refuses %j', (path, message) => {
    expect(() => memoryPath(path)).toThrow(MemoryError);
    expect(() => memoryPath(path)).toThrow(message);
  });
});

describe('the command schema', () => {
  it('takes the SDK command shapes and refuses others', () => {
    expect(MemoryCommandSchema.safeParse({ command: 'view', path: '/memories' }).success).toBe(true);
    expect(
      MemoryCommandSchema.safeParse({ command: 'rename', old_path: '/memories/a', new_path: '/memories/b' })
        .success,
    ).toBe(true);
    expect(MemoryCommandSchema.safeParse({ command: 'format', path: '/memories' }).success).toBe(false);
    expect(MemoryCommandSchema.safeParse({ command: 'insert', path: '/memories/a' }).success).toBe(false);
    expect(
      MemoryCommandSchema.safeParse({ command: 'insert', path: '/m', insert_line: -1, insert_text: '' })
        .success,
    ).toBe(false);
  });
});

describe('the fake Messages API', () => {
  const body = (tool: unknown) => ({
    model: 'claude-sonnet-5-5',
    max_tokens: 100,
    messages: [{ role: 'user', content: 'Hi' }],
    tools: [tool],
  });
  it('accepts the memory tool as the API does, and refuses another name or extra fields', () => {
    expect(validateRequest(body({ type: 'memory_20250818', name: 'memory' }), 'messages')).toEqual({
      ok: true,
    });
    expect(
      validateRequest(
        body({ type: 'memory_20250818', name: 'memory', cache_control: { type: 'ephemeral' } }),
        'messages',
      ),
    ).toEqual({ ok: true });
    expect(validateRequest(body({ type: 'memory_20250818', name: 'notes' }), 'messages')).toEqual({
      ok: false,
      message: "tools.0.memory_20250818.name: Input should be 'memory'",
    });
    expect(
      validateRequest(
        body({ type: 'memory_20250818', name: 'memory', input_schema: { type: 'object' } }),
        'messages',
      ),
    ).toEqual({ ok: false, message: 'tools.0.memory_20250818.input_schema: Extra inputs are not permitted' });
  });
});

/** One step of a scenario: a command, and the text it answers (or the error it refuses with). */
type Step = [MemoryCommand, string | RegExp | { error: string | RegExp }];

const LISTING = "Here're the files and directories up to 2 levels deep in";

/** The semantics table, run as is against every backend. */
const SCENARIOS: Array<[string, Step[]]> = [
  [
    'create, view, str_replace, insert',
    [
      [
        { command: 'create', path: '/memories/notes.md', file_text: 'alpha\nbeta\ngamma' },
        'File created successfully at: /memories/notes.md',
      ],
      [
        { command: 'view', path: '/memories/notes.md' },
        "Here's the content of /memories/notes.md with line numbers:\n     1\talpha\n     2\tbeta\n     3\tgamma",
      ],
      [
        { command: 'view', path: '/memories/notes.md', view_range: [2, -1] },
        "Here's the content of /memories/notes.md with line numbers:\n     2\tbeta\n     3\tgamma",
      ],
      [
        { command: 'str_replace', path: '/memories/notes.md', old_str: 'beta', new_str: 'BETA' },
        'The memory file has been edited. Here is the snippet showing the change (with line numbers):\n     1\talpha\n     2\tBETA\n     3\tgamma',
      ],
      [
        { command: 'insert', path: '/memories/notes.md', insert_line: 0, insert_text: 'top\n' },
        'The file /memories/notes.md has been edited.',
      ],
      [
        { command: 'view', path: '/memories/notes.md', view_range: [1, 2] },
        "Here's the content of /memories/notes.md with line numbers:\n     1\ttop\n     2\talpha",
      ],
    ],
  ],
  [
    'refusals',
    [
      [{ command: 'create', path: '/memories/a.md', file_text: 'x x' }, /created/],
      [
        { command: 'create', path: '/memories/a.md', file_text: 'y' },
        { error: 'File /memories/a.md already exists' },
      ],
      [
        { command: 'str_replace', path: '/memories/a.md', old_str: 'x', new_str: 'z' },
        { error: /Multiple occurrences of old_str `x` in lines: 1, 1/ },
      ],
      [
        { command: 'str_replace', path: '/memories/a.md', old_str: 'q', new_str: 'z' },
        { error: 'No replacement was performed, old_str `q` did not appear verbatim in /memories/a.md.' },
      ],
      [
        { command: 'insert', path: '/memories/a.md', insert_line: 5, insert_text: 'z' },
        {
          error:
            /Invalid `insert_line` parameter: 5. It should be within the range of lines of the file: \[0, 1\]/,
        },
      ],
      [
        { command: 'view', path: '/memories/missing.md' },
        { error: 'The path /memories/missing.md does not exist. Please provide a valid path.' },
      ],
      [
        { command: 'create', path: '/memories/a.md/b.md', file_text: '' },
        { error: 'The path /memories/a.md is not a directory.' },
      ],
      [{ command: 'delete', path: '/memories' }, { error: 'Cannot delete the /memories directory itself' }],
      [{ command: 'delete', path: '/memories/nope' }, { error: 'The path /memories/nope does not exist' }],
      [
        { command: 'view', path: '/memories/../../etc/passwd' },
        { error: 'Path /memories/../../etc/passwd would escape /memories directory' },
      ],
      [
        { command: 'create', path: '/etc/cron.d/x', file_text: '' },
        { error: 'Path must start with /memories, got: /etc/cron.d/x' },
      ],
    ],
  ],
  [
    'directories: listing, rename, delete',
    [
      [{ command: 'create', path: '/memories/projects/a/plan.md', file_text: '12345' }, /created/],
      [{ command: 'create', path: '/memories/projects/b.md', file_text: '123' }, /created/],
      [{ command: 'create', path: '/memories/.hidden', file_text: 'secret' }, /created/],
      [{ command: 'create', path: '/memories/projects/a/deep/x/y.md', file_text: '1' }, /created/],
      [
        { command: 'view', path: '/memories' },
        `${LISTING} /memories, excluding hidden items and node_modules:\n9B\t/memories\n9B\t/memories/projects/\n6B\t/memories/projects/a/\n3B\t/memories/projects/b.md`,
      ],
      [
        { command: 'rename', old_path: '/memories/projects/a', new_path: '/memories/archive/a' },
        'Successfully renamed /memories/projects/a to /memories/archive/a',
      ],
      [
        { command: 'view', path: '/memories/archive/a/plan.md' },
        "Here's the content of /memories/archive/a/plan.md with line numbers:\n     1\t12345",
      ],
      [
        { command: 'rename', old_path: '/memories/archive', new_path: '/memories/projects/b.md' },
        { error: 'The destination /memories/projects/b.md already exists' },
      ],
      [
        { command: 'rename', old_path: '/memories/archive', new_path: '/memories/archive/inner' },
        { error: /into itself/ },
      ],
      [{ command: 'delete', path: '/memories/archive' }, 'Successfully deleted /memories/archive'],
      [{ command: 'view', path: '/memories/archive/a/plan.md' }, { error: /does not exist/ }],
      [
        { command: 'view', path: '/memories' },
        `${LISTING} /memories, excluding hidden items and node_modules:\n3B\t/memories\n3B\t/memories/projects/\n3B\t/memories/projects/b.md`,
      ],
    ],
  ],
];

const stores: Record<string, MemoryStore> = memoryBackendsForSuite('memory-unit');

let keys = 0;
const run = (store: MemoryStore, scope: MemoryScope, command: MemoryCommand, key = `wf/toolu_${++keys}`) =>
  runMemoryCommand(store, scope, key, command);

describe.each(['filesystem', 'postgres'])('the %s backend', (backend) => {
  const store = () => stores[backend];

  it.each(SCENARIOS)('%s', async (name, steps) => {
    const scope = { agent: 'keeper', tenant: `t-${name.replace(/\W+/g, '-')}` };
    for (const [command, expected] of steps) {
      const outcome: { text?: string; error?: string } = await run(store(), scope, command).then(
        (text) => ({ text }),
        (err: unknown) => {
          if (!(err instanceof MemoryError)) throw err;
          return { error: err.message };
        },
      );
      if (typeof expected === 'object' && 'error' in expected) {
        expect({ command, error: outcome.error }).toEqual({
          command,
          error: typeof expected.error === 'string' ? expected.error : expect.stringMatching(expected.error),
        });
      } else {
        expect({ command, text: outcome.text }).toEqual({
          command,
          text: typeof expected === 'string' ? expected : expect.stringMatching(expected),
        });
      }
    }
  });

  it('applies a write once per key: the same key answers the first result and changes nothing', async () => {
    const scope = { agent: 'keeper', tenant: 'once' };
    await run(store(), scope, { command: 'create', path: '/memories/log.md', file_text: 'one' });
    const insert: MemoryCommand = {
      command: 'insert',
      path: '/memories/log.md',
      insert_line: 1,
      insert_text: 'two',
    };
    const first = await run(store(), scope, insert, 'wf-1/toolu_insert');
    expect(await run(store(), scope, insert, 'wf-1/toolu_insert')).toBe(first);
    // Replayed before it is applied again, so even a command that now fails answers its first text.
    await run(store(), scope, { command: 'create', path: '/memories/x', file_text: '' });
    const deleted = await run(store(), scope, { command: 'delete', path: '/memories/x' }, 'wf-1/toolu_del');
    expect(await run(store(), scope, { command: 'delete', path: '/memories/x' }, 'wf-1/toolu_del')).toBe(
      deleted,
    );
    expect(await run(store(), scope, { command: 'view', path: '/memories/log.md' })).toBe(
      "Here's the content of /memories/log.md with line numbers:\n     1\tone\n     2\ttwo",
    );
  });

  it('keeps tenants and agents apart', async () => {
    await run(
      store(),
      { agent: 'keeper', tenant: 'acme' },
      { command: 'create', path: '/memories/acme.md', file_text: 'a' },
    );
    for (const scope of [
      { agent: 'keeper', tenant: 'globex' },
      { agent: 'other', tenant: 'acme' },
    ]) {
      expect(await run(store(), scope, { command: 'view', path: '/memories' })).toBe(
        `${LISTING} /memories, excluding hidden items and node_modules:\n0B\t/memories`,
      );
    }
    // Tenant names are case-insensitive: one tree, whatever the case.
    expect(
      await run(store(), { agent: 'keeper', tenant: 'ACME' }, { command: 'view', path: '/memories' }),
    ).toMatch(/\/memories\/acme\.md/);
  });

  it('serialises concurrent writes of one scope (no lost update)', async () => {
    const scope = { agent: 'keeper', tenant: 'busy' };
    await run(store(), scope, { command: 'create', path: '/memories/count.md', file_text: '' });
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        run(store(), scope, {
          command: 'insert',
          path: '/memories/count.md',
          insert_line: 0,
          insert_text: `line ${i}`,
        }),
      ),
    );
    const text = await run(store(), scope, { command: 'view', path: '/memories/count.md' });
    expect(text.split('\n').filter((l) => /\tline \d$/.test(l))).toHaveLength(8);
  });
});

describe('the filesystem backend on disk', () => {
  it('refuses paths through a symlink and leaves symlinks out of listings', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'memory-link-'));
    const outside = mkdtempSync(join(tmpdir(), 'memory-outside-'));
    try {
      const store = new FilesystemMemoryStore({ dir });
      const scope = { agent: 'keeper', tenant: 'links' };
      await run(store, scope, { command: 'create', path: '/memories/ok.md', file_text: 'ok' });
      writeFileSync(join(outside, 'secret.txt'), 'secret');
      const root = join(dir, 'keeper', 'links', 'memories');
      symlinkSync(outside, join(root, 'escape'));
      symlinkSync(join(outside, 'secret.txt'), join(root, 'secret.md'));
      for (const command of [
        { command: 'view', path: '/memories/escape/secret.txt' },
        { command: 'view', path: '/memories/secret.md' },
        { command: 'create', path: '/memories/escape/new.md', file_text: 'x' },
        { command: 'str_replace', path: '/memories/secret.md', old_str: 'secret', new_str: 'x' },
      ] as MemoryCommand[]) {
        await expect(run(store, scope, command)).rejects.toThrow(/via symlink/);
      }
      expect(await run(store, scope, { command: 'view', path: '/memories' })).toBe(
        `${LISTING} /memories, excluding hidden items and node_modules:\n2B\t/memories\n2B\t/memories/ok.md`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('completes a write whose process died after recording its plan, and answers its first text', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'memory-redo-'));
    try {
      const store = new FilesystemMemoryStore({ dir });
      const scope = { agent: 'keeper', tenant: 'redo' };
      await run(store, scope, { command: 'create', path: '/memories/a.md', file_text: 'a' });
      // What a crash between the record and the changes leaves: a pending record, nothing applied.
      const key = 'wf/toolu_crashed';
      mkdirSync(join(dir, 'keeper', 'redo', 'writes'), { recursive: true });
      writeFileSync(
        join(dir, 'keeper', 'redo', 'writes', `${keyHash(key)}.json`),
        JSON.stringify({
          state: 'pending',
          changes: [
            { op: 'put', path: 'a.md', content: 'a\nb' },
            { op: 'move', from: 'a.md', to: 'b.md' },
          ],
          result: 'The file /memories/a.md has been edited.',
        }),
      );
      const retried = await run(
        store,
        scope,
        { command: 'insert', path: '/memories/a.md', insert_line: 1, insert_text: 'b' },
        key,
      );
      expect(retried).toBe('The file /memories/a.md has been edited.');
      expect(await run(store, scope, { command: 'view', path: '/memories/b.md' })).toMatch(/1\ta\n {5}2\tb$/);
      await expect(run(store, scope, { command: 'view', path: '/memories/a.md' })).rejects.toThrow(
        /does not exist/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
