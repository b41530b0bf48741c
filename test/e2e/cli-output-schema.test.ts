/**
 * `agent start --output-schema` as a real process against a real dev server, worker and the scripted
 * fake Messages API: the schema file is sent with the conversation, `--wait` prints the parsed output
 * as JSON (and `--json` carries it typed); a bad schema file exits 2 before anything connects.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { reply } from '../../src/testing/fake-claude';
import { startAgentEnv, type AgentEnv } from '../support/agent-env';
import { cliAgainst } from '../support/cli';

let t: AgentEnv;
beforeAll(async () => {
  t = await startAgentEnv();
}, 120_000);
afterAll(async () => {
  await t?.teardown();
});

const dir = mkdtempSync(join(tmpdir(), 'cli-output-schema-'));
function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}
const rating = {
  type: 'object',
  properties: { title: { type: 'string' }, stars: { type: 'integer', minimum: 1, maximum: 5 } },
  required: ['title', 'stars'],
};

const { cli, ok } = cliAgainst(() => t);

describe('agent start --output-schema', () => {
  it('--wait prints the parsed output; --json carries it with its status', async () => {
    const schema = file('rating.json', rating);
    const id = `cli-output-${process.pid}`;
    t.fake.script(id, [reply.text('{"title":"Dune","stars":5}')]);
    const run = ok(
      await cli(['start', 'Rate Dune', '--output-schema', schema, '--single-turn', '--wait', '--id', id]),
    );
    expect(run.stdout).toBe('\n{\n  "title": "Dune",\n  "stars": 5\n}\n[completed: single turn done]\n');
    expect(t.requests(id)[0].body.output_config?.format?.schema).toMatchObject({
      additionalProperties: false,
    });

    const jsonId = `${id}-json`;
    t.fake.script(jsonId, [
      reply.text('{"title":"Dune","stars":9}'),
      reply.text('{"title":"Dune","stars":7}'),
    ]);
    const json = ok(
      await cli([
        'start',
        'Rate Dune',
        '--output-schema',
        schema,
        '--single-turn',
        '--wait',
        '--json',
        '--id',
        jsonId,
      ]),
    );
    expect(JSON.parse(json.stdout)).toMatchObject({
      workflowId: jsonId,
      outputStatus: 'invalid',
      outputReason: 'the answer does not match the schema: stars: Too big: expected number to be <=5',
    });
  });

  it('a bad schema file exits 2, with Temporal unreachable', async () => {
    const unreachable = '127.0.0.1:1';
    for (const [path, message] of [
      [join(dir, 'missing.json'), /cannot be read: ENOENT/],
      [file('list.json', { type: 'array' }), /an output schema must be an object schema/],
      [file('broken.json', '{'), /is not valid JSON/],
    ] as const) {
      const run = await cli(['start', 'Rate Dune', '--output-schema', path], unreachable);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(message);
    }
  });
});
