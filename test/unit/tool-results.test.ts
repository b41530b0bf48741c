import { describe, expect, it } from '@jest/globals';
import type { ToolCallInfo } from '../../src/api/activity-contract';
import type { RecordedDecision } from '../../src/api/approvals';
import {
  editedResult,
  failedResult,
  notRunResult,
  rejectedResult,
  toolResult,
} from '../../src/workflows/tool-results';

function call(overrides: Partial<ToolCallInfo> = {}): ToolCallInfo {
  return { index: 1, id: 'toolu_1', name: 'make_file', runnable: false, needsApproval: false, ...overrides };
}

function decision(overrides: Partial<RecordedDecision> = {}): RecordedDecision {
  return {
    toolUseId: 'toolu_1',
    name: 'save_article',
    decision: 'reject',
    decidedBy: 'alice',
    decidedAt: '2026-01-01T00:00:00.000Z',
    originalInput: { title: 'x' },
    via: 'update',
    ...overrides,
  };
}

describe('toolResult', () => {
  it('omits is_error when false', () => {
    const r = toolResult('toolu_1', 'fine', false);
    expect(r).toEqual({ type: 'tool_result', tool_use_id: 'toolu_1', content: 'fine' });
    expect('is_error' in r).toBe(false);
  });

  it('sets is_error when true and keeps block content as is', () => {
    const content = [{ type: 'text' as const, text: 'bad' }];
    expect(toolResult('toolu_2', content, true)).toEqual({
      type: 'tool_result',
      tool_use_id: 'toolu_2',
      content,
      is_error: true,
    });
  });
});

describe('notRunResult', () => {
  it('says a truncated input was cut off at max_tokens, naming the limit', () => {
    const r = notRunResult(call({ problem: 'truncated' }), 1024);
    expect(r.tool_use_id).toBe('toolu_1');
    expect(r.is_error).toBe(true);
    expect(r.content).toContain('cut off');
    expect(r.content).toContain('max_tokens (1024)');
    expect(r.content).toContain('shorter input');
    expect(r.content).not.toContain('not valid JSON');
  });

  it('says an invalid_json input was not valid JSON', () => {
    const r = notRunResult(call({ problem: 'invalid_json' }), 1024);
    expect(r.is_error).toBe(true);
    expect(r.content).toBe(
      'Your tool input was not valid JSON, so the tool was not run. Call it again with a valid JSON object.',
    );
  });
});

describe('failedResult', () => {
  it('names the tool and the reason', () => {
    expect(failedResult(call(), 'timed out')).toEqual({
      type: 'tool_result',
      tool_use_id: 'toolu_1',
      content: 'The tool make_file could not be run: timed out',
      is_error: true,
    });
  });
});

describe('rejectedResult', () => {
  it('via update without a reason', () => {
    const r = rejectedResult(decision());
    expect(r).toEqual({
      type: 'tool_result',
      tool_use_id: 'toolu_1',
      content: 'An operator (alice) rejected this call. It was not run.',
      is_error: true,
    });
  });

  it('via update with a reason adds a full stop', () => {
    expect(rejectedResult(decision({ reason: 'too risky' })).content).toBe(
      'An operator (alice) rejected this call: too risky. It was not run.',
    );
  });

  it('via update with a reason already ending in punctuation adds no second one', () => {
    expect(rejectedResult(decision({ reason: 'too risky.' })).content).toBe(
      'An operator (alice) rejected this call: too risky. It was not run.',
    );
    expect(rejectedResult(decision({ reason: '  why?  ' })).content).toBe(
      'An operator (alice) rejected this call: why? It was not run.',
    );
  });

  it('via signal reads like via update', () => {
    expect(rejectedResult(decision({ via: 'signal', decidedBy: 'bob' })).content).toBe(
      'An operator (bob) rejected this call. It was not run.',
    );
  });

  it('via deadline quotes the reason', () => {
    const r = rejectedResult(
      decision({ via: 'deadline', decidedBy: 'system:deadline', reason: 'no decision within 1h' }),
    );
    expect(r.content).toBe('This call was not approved in time (no decision within 1h); it was not run.');
    expect(r.is_error).toBe(true);
  });

  it('via end', () => {
    const r = rejectedResult(decision({ via: 'end', decidedBy: 'system:end', reason: 'conversation ended' }));
    expect(r.content).toBe('The conversation ended before this call was approved; it was not run.');
    expect(r.is_error).toBe(true);
  });
});

describe('editedResult', () => {
  const edited = decision({ decision: 'edit', input: { title: 'better' } });

  it('prefixes string content with a note naming the operator and the input that ran', () => {
    const r = editedResult(edited, { content: 'saved', isError: false, durationMs: 3 });
    expect(r.tool_use_id).toBe('toolu_1');
    expect('is_error' in r).toBe(false);
    expect(r.content).toBe(
      'An operator (alice) edited the input before the call ran. The input that ran: {"title":"better"}\n\nResult:\nsaved',
    );
  });

  it('includes the reason when there is one', () => {
    const r = editedResult(
      { ...edited, reason: 'typo' },
      { content: 'saved', isError: false, durationMs: 3 },
    );
    expect(r.content).toContain('edited the input before the call ran (typo). ');
  });

  it('prepends a text block to block content and keeps is_error', () => {
    const blocks = [
      { type: 'text' as const, text: 'part 1' },
      { type: 'text' as const, text: 'part 2' },
    ];
    const r = editedResult(edited, { content: blocks, isError: true, durationMs: 3 });
    expect(r.is_error).toBe(true);
    expect(Array.isArray(r.content)).toBe(true);
    const content = r.content as Array<{ type: string; text: string }>;
    expect(content).toHaveLength(3);
    expect(content[0].type).toBe('text');
    expect(content[0].text).toContain('The input that ran: {"title":"better"}');
    expect(content.slice(1)).toEqual(blocks);
  });
});
