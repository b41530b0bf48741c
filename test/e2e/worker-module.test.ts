/**
 * The worker process with a bad AGENT_MODULE: it refuses to start, saying which module and what is
 * wrong, before it connects to anything (no Temporal server runs here: the address is a dead port).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';

const ROOT = join(__dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'worker-module-'));
const src = (file: string) => JSON.stringify(join(ROOT, 'src', file));
const HEADER = `const { defineAgent } = require(${src('agents/define-agent.ts')});
const { defineTool } = require(${src('tools/define-tool.ts')});
const { z } = require(${JSON.stringify(require.resolve('zod'))});
const tool = () => defineTool({ name: 'twin', description: 't', input: z.object({}), effect: 'read', run: async () => 'x' });
`;

function worker(module: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'src', 'worker.ts')],
      {
        cwd: ROOT,
        timeout: 30_000,
        env: {
          ...process.env,
          AGENT_MODULE: module,
          ANTHROPIC_BASE_URL: 'http://127.0.0.1:1',
          TEMPORAL_ADDRESS: '127.0.0.1:1',
          AGENT_TEST_RUN: process.env.AGENT_TEST_RUN ?? '1',
        },
      },
      (err, _stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr }),
    );
  });
}

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('a worker with a bad AGENT_MODULE refuses to start, saying why', () => {
  it.each([
    ['a module that does not exist', () => join(dir, 'nope.js'), /AGENT_MODULE .*nope\.js: cannot load it/],
    [
      'a module that throws',
      () => write('throws.js', 'throw new Error("no CRM_URL set");'),
      /cannot load it: no CRM_URL set/,
    ],
    [
      'two different tools with one name',
      () =>
        write(
          'twins.js',
          `${HEADER}exports.a = defineAgent({ name: 'a', model: 'm', tools: [tool()] });
           exports.b = defineAgent({ name: 'b', model: 'm', tools: [tool()] });`,
        ),
      /two different tools are named twin \(agent a and agent b\)/,
    ],
    [
      'a sub-agent that names itself',
      () =>
        write('self.js', `${HEADER}exports.a = defineAgent({ name: 'a', model: 'm', subAgents: ['a'] });`),
      /agent a: it names itself as a sub-agent/,
    ],
    [
      'a sub-agent nobody defines',
      () =>
        write(
          'ghost.js',
          `${HEADER}exports.a = defineAgent({ name: 'a', model: 'm', subAgents: ['ghost'] });`,
        ),
      /agent a: sub-agent ghost is not defined/,
    ],
  ])('%s', async (_what, module, message) => {
    const { code, stderr } = await worker(module());
    expect(code).toBe(1);
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(/cannot reach the Temporal server/);
  });
});
