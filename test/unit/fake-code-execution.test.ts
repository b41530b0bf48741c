/** The fake's code execution rules: containers and the answers to programmatic tool calls. */
import { describe, expect, it } from '@jest/globals';
import { Containers, programmaticCallProblem } from '../../src/testing/fake-claude/code-execution';

const CODE = { type: 'code_execution_20250825', name: 'code_execution' };
const price = (allowed?: string[]) => ({
  name: 'price',
  input_schema: { type: 'object' },
  ...(allowed && { allowed_callers: allowed }),
});
const call = {
  type: 'tool_use',
  id: 'toolu_1',
  name: 'price',
  input: {},
  caller: { type: 'code_execution_20250825', tool_id: 'srvtoolu_1' },
};
const result = { type: 'tool_result', tool_use_id: 'toolu_1', content: '120' };
const body = (answer: unknown[], extra: Record<string, unknown> = {}) => ({
  tools: [CODE, price(['code_execution_20250825'])],
  messages: [
    { role: 'user', content: 'Sum' },
    {
      role: 'assistant',
      content: [{ type: 'server_tool_use', id: 'srvtoolu_1', name: 'code_execution', input: {} }, call],
    },
    { role: 'user', content: answer },
  ],
  ...extra,
});

describe('answering programmatic tool calls', () => {
  it('needs the container, tool results only, and a tool that allows the caller', () => {
    expect(programmaticCallProblem(body([result], { container: 'container_1' }))).toBeUndefined();
    expect(programmaticCallProblem(body([result]))).toMatch(/^container: .* must name the container/);
    expect(
      programmaticCallProblem(body([result, { type: 'text', text: 'and?' }], { container: 'c' })),
    ).toMatch(/^messages\.2\.content\.1: .* may hold only `tool_result` blocks$/);
    const notAllowed = { ...body([result], { container: 'c' }), tools: [CODE, price()] };
    expect(programmaticCallProblem(notAllowed)).toMatch(/`price` was called by `code_execution_20250825`/);
  });

  it('leaves direct calls and conversations without code alone', () => {
    const direct = { ...call, caller: { type: 'direct' } };
    const plain = {
      messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', content: [direct] },
        { role: 'user', content: [result, { type: 'text', text: 'more' }] },
      ],
    };
    expect(programmaticCallProblem(plain)).toBeUndefined();
    expect(programmaticCallProblem({ messages: [{ role: 'user', content: 'hi' }] })).toBeUndefined();
  });
});

describe('containers', () => {
  it('are made for a request with code execution, reused by id until they expire', () => {
    let now = 1_000_000;
    const containers = new Containers(() => now, 1000);
    expect(containers.forRequest({ tools: [] })).toEqual({});
    const { container } = containers.forRequest({ tools: [CODE] });
    expect(container).toMatchObject({ id: expect.stringMatching(/^container_/), skills: null });
    expect(container!.expires_at).toBe(new Date(now + 1000).toISOString());
    now += 900;
    expect(containers.forRequest({ tools: [CODE], container: container!.id }).container?.id).toBe(
      container!.id,
    );
    now += 1500;
    expect(containers.forRequest({ tools: [CODE], container: container!.id }).problem).toMatch(
      /has expired$/,
    );
    expect(containers.forRequest({ tools: [CODE], container: 'nope' }).problem).toMatch(/was not found$/);
    const other = containers.forRequest({ tools: [CODE] }).container!;
    containers.expire(other.id);
    expect(containers.forRequest({ container: { id: other.id } }).problem).toMatch(/has expired$/);
  });
});
