import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

/**
 * Lints `code` as if it were a file of src/workflows, with the project's own eslint binary and
 * config (a child process: eslint's ESM config cannot load inside jest's module sandbox).
 */
async function violations(code: string): Promise<string[]> {
  const run = spawnSync(
    join(root, 'node_modules/.bin/eslint'),
    ['--stdin', '--stdin-filename', 'src/workflows/probe.ts', '--format', 'json'],
    { cwd: root, input: code, encoding: 'utf8' },
  );
  if (run.status === 2 || !run.stdout) throw new Error(`eslint failed: ${run.stderr}`);
  const [result] = JSON.parse(run.stdout) as Array<{
    messages: Array<{ ruleId: string | null; message: string }>;
  }>;
  return result.messages.map((m) => m.ruleId ?? m.message);
}

describe('the workflow sandbox fence (eslint)', () => {
  it.each([
    [
      "import { readFileSync } from 'node:fs'; readFileSync('x');",
      '@typescript-eslint/no-restricted-imports',
    ],
    ["import * as path from 'path'; path.join('a');", '@typescript-eslint/no-restricted-imports'],
    [
      "import Anthropic from '@anthropic-ai/sdk'; new Anthropic();",
      '@typescript-eslint/no-restricted-imports',
    ],
    [
      "import { APIError } from '@anthropic-ai/sdk/error'; console.log(APIError);",
      '@typescript-eslint/no-restricted-imports',
    ],
    ['export const key = process.env.ANTHROPIC_API_KEY;', 'no-restricted-globals'],
    ['export const t = Date.now();', 'no-restricted-properties'],
    ['export const r = Math.random();', 'no-restricted-properties'],
  ])('rejects %s', async (code, rule) => {
    expect(await violations(code)).toContain(rule);
  });

  it('accepts type-only SDK imports and the workflow API', async () => {
    const code = [
      "import type { Message } from '@anthropic-ai/sdk/resources/messages';",
      "import { sleep } from '@temporalio/workflow';",
      'export async function w(m: Message): Promise<string> { await sleep(1); return m.id; }',
    ].join('\n');
    expect(await violations(code)).toEqual([]);
  });
});
