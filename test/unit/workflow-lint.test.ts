import { beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

/**
 * Lints each probe as if it were a file of src/workflows, with the project's own eslint and config, all
 * in one child process (eslint's ESM config cannot load inside jest's module sandbox; one process loads
 * the TypeScript project once for the type-aware rules).
 */
const LINT_PROBES = `
  const { ESLint } = require('eslint');
  const probes = JSON.parse(require('fs').readFileSync(0, 'utf8'));
  (async () => {
    const eslint = new ESLint();
    const out = [];
    for (const code of probes) {
      const [result] = await eslint.lintText(code, { filePath: 'src/workflows/probe.ts' });
      out.push(result.messages.map((m) => m.ruleId ?? m.message));
    }
    process.stdout.write(JSON.stringify(out));
  })().catch((err) => { console.error(err); process.exit(2); });
`;

let results: Map<string, string[]> | undefined;
function lintAll(probes: string[]): Map<string, string[]> {
  const run = spawnSync(process.execPath, ['-e', LINT_PROBES], {
    cwd: root,
    input: JSON.stringify(probes),
    encoding: 'utf8',
  });
  if (run.status !== 0 || !run.stdout) throw new Error(`eslint failed: ${run.stderr}`);
  const found = JSON.parse(run.stdout) as string[][];
  return new Map(probes.map((code, i) => [code, found[i]]));
}

const REJECTED: Array<[string, string]> = [
  ["import { readFileSync } from 'node:fs'; readFileSync('x');", '@typescript-eslint/no-restricted-imports'],
  ["import * as path from 'path'; path.join('a');", '@typescript-eslint/no-restricted-imports'],
  ["import Anthropic from '@anthropic-ai/sdk'; new Anthropic();", '@typescript-eslint/no-restricted-imports'],
  [
    "import { APIError } from '@anthropic-ai/sdk/error'; console.log(APIError);",
    '@typescript-eslint/no-restricted-imports',
  ],
  ['export const key = process.env.ANTHROPIC_API_KEY;', 'no-restricted-globals'],
  ['export const t = Date.now();', 'no-restricted-properties'],
  ['export const r = Math.random();', 'no-restricted-properties'],
  // Workflow time is read one way, through clock.ts.
  ['export const t = new Date().getTime();', 'no-restricted-syntax'],
  // A patch goes through the registry (src/workflows/patches.ts), where it has its history.
  [
    "import { patched } from '@temporalio/workflow'; export const p = patched('x');",
    '@typescript-eslint/no-restricted-imports',
  ],
  ["import * as wf from '@temporalio/workflow'; export const p = wf.patched('x');", 'no-restricted-syntax'],
  // Type-aware: a forgotten await on a workflow API, a promise where a callback's result is ignored.
  [
    "import { sleep } from '@temporalio/workflow'; export function w(): void { sleep(1); }",
    '@typescript-eslint/no-floating-promises',
  ],
  [
    "import { sleep } from '@temporalio/workflow'; export function w(): void { [1].forEach(async (n) => sleep(n)); }",
    '@typescript-eslint/no-misused-promises',
  ],
];

const ACCEPTED = [
  "import type { Message } from '@anthropic-ai/sdk/resources/messages';",
  "import { sleep } from '@temporalio/workflow';",
  'export async function w(m: Message): Promise<string> { await sleep(1); return m.id; }',
].join('\n');

describe('the workflow sandbox fence (eslint)', () => {
  beforeAll(() => {
    results = lintAll([...REJECTED.map(([code]) => code), ACCEPTED]);
  });

  it.each(REJECTED)('rejects %s', (code, rule) => {
    expect(results!.get(code)).toContain(rule);
  });

  it('accepts type-only SDK imports and the workflow API', () => {
    expect(results!.get(ACCEPTED)).toEqual([]);
  });
});
