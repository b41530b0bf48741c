import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import type { DecideToolCallInput } from '../../src/api/approvals';
import { ApprovalBook } from '../../src/workflows/approvals';

const schema = z.toJSONSchema(
  z.object({
    abstract: z.string().min(1),
    meta: z.object({ word_count: z.number().int().nonnegative(), review: z.string() }),
  }),
) as Record<string, unknown>;

const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-01T00:05:00.000Z';
const T2 = '2026-01-01T00:10:00.000Z';

const validInput = { abstract: 'A summary.', meta: { word_count: 2, review: 'ok' } };

function pending(toolUseId: string, withSchema = true) {
  return {
    toolUseId,
    name: 'save_article',
    input: { abstract: 'draft', meta: { word_count: 1, review: 'none' } },
    turn: 1,
    requestedAt: T0,
    deadline: '2026-01-01T01:00:00.000Z',
    effect: 'write' as const,
    ...(withSchema && { schema }),
  };
}

function book(...ids: string[]): ApprovalBook {
  const b = new ApprovalBook();
  for (const id of ids) b.request(pending(id));
  return b;
}

/** Checks and applies, as the update handler does. */
function decide(b: ApprovalBook, input: DecideToolCallInput, at = T1) {
  return b.apply(b.check(input), 'update', at);
}

describe('ApprovalBook: requests', () => {
  it('lists requested calls as pending, without their schema', () => {
    const b = book('tu_1', 'tu_2');
    expect(b.pending.map((p) => p.toolUseId)).toEqual(['tu_1', 'tu_2']);
    expect(b.pending[0]).toEqual({
      toolUseId: 'tu_1',
      name: 'save_article',
      input: { abstract: 'draft', meta: { word_count: 1, review: 'none' } },
      turn: 1,
      requestedAt: T0,
      deadline: '2026-01-01T01:00:00.000Z',
      effect: 'write',
    });
    expect('schema' in b.pending[0]).toBe(false);
    expect(b.decisions).toEqual([]);
    expect(b.decisionFor('tu_1')).toBeUndefined();
  });
});

describe('ApprovalBook.check refuses', () => {
  it('an unknown id', () => {
    expect(() =>
      book('tu_1').check({ toolUseId: 'tu_nope', decision: 'approve', decidedBy: 'alice' }),
    ).toThrow(/unknown tool_use_id tu_nope/);
  });

  it('an empty or blank decidedBy', () => {
    const b = book('tu_1');
    expect(() => b.check({ toolUseId: 'tu_1', decision: 'approve', decidedBy: '' })).toThrow(
      /invalid decision: decidedBy: decidedBy is required/,
    );
    expect(() => b.check({ toolUseId: 'tu_1', decision: 'approve', decidedBy: '   ' })).toThrow(/decidedBy/);
  });

  it('an unknown decision kind', () => {
    expect(() =>
      book('tu_1').check({
        toolUseId: 'tu_1',
        decision: 'maybe',
        decidedBy: 'alice',
      } as unknown as DecideToolCallInput),
    ).toThrow(/invalid decision/);
  });

  it('the same id twice in one request', () => {
    const b = book('tu_1');
    expect(() =>
      b.check({
        decisions: [
          { toolUseId: 'tu_1', decision: 'approve', decidedBy: 'alice' },
          { toolUseId: 'tu_1', decision: 'reject', decidedBy: 'alice' },
        ],
      }),
    ).toThrow('tool_use_id tu_1 appears twice in one request');
  });

  it('an edit without an input', () => {
    expect(() => book('tu_1').check({ toolUseId: 'tu_1', decision: 'edit', decidedBy: 'alice' })).toThrow(
      'an edit of tu_1 needs the input to run',
    );
  });

  it('an input with an approve (or a reject)', () => {
    const b = book('tu_1');
    expect(() =>
      b.check({ toolUseId: 'tu_1', decision: 'approve', decidedBy: 'alice', input: validInput }),
    ).toThrow('only an edit carries an input (tu_1 is a approve)');
    expect(() =>
      b.check({ toolUseId: 'tu_1', decision: 'reject', decidedBy: 'alice', input: validInput }),
    ).toThrow(/only an edit carries an input/);
  });

  it('an edit whose input fails the tool schema, naming the field', () => {
    const b = book('tu_1');
    const bad = { abstract: 'A summary.', meta: { word_count: -3, review: 'ok' } };
    expect(() => b.check({ toolUseId: 'tu_1', decision: 'edit', decidedBy: 'alice', input: bad })).toThrow(
      /the edited input of tu_1 does not match the save_article schema: meta\.word_count: /,
    );
    expect(() =>
      b.check({
        toolUseId: 'tu_1',
        decision: 'edit',
        decidedBy: 'alice',
        input: { meta: { word_count: 1, review: 'x' } },
      }),
    ).toThrow(/abstract: /);
    expect(() =>
      b.check({
        toolUseId: 'tu_1',
        decision: 'edit',
        decidedBy: 'alice',
        input: { ...validInput, abstract: '' },
      }),
    ).toThrow(/abstract: /);
    // Nothing was recorded by the refused checks.
    expect(b.decisions).toEqual([]);
    expect(b.pending).toHaveLength(1);
  });

  it('nothing of a request when one of its decisions is bad (check is all or nothing)', () => {
    const b = book('tu_1', 'tu_2');
    expect(() =>
      b.check({
        decisions: [
          { toolUseId: 'tu_1', decision: 'approve', decidedBy: 'alice' },
          { toolUseId: 'tu_unknown', decision: 'approve', decidedBy: 'alice' },
        ],
      }),
    ).toThrow(/unknown tool_use_id tu_unknown/);
    expect(b.pending).toHaveLength(2);
    expect(b.decisions).toEqual([]);
  });

  it('a conflicting repeat after a decision, saying who decided what and when', () => {
    const b = book('tu_1');
    decide(b, { toolUseId: 'tu_1', decision: 'approve', decidedBy: 'X' }, T1);
    expect(() => b.check({ toolUseId: 'tu_1', decision: 'reject', decidedBy: 'X' })).toThrow(
      `tool call tu_1 is already decided: approve by X at ${T1}`,
    );
    expect(() => b.check({ toolUseId: 'tu_1', decision: 'approve', decidedBy: 'Y' })).toThrow(
      /already decided: approve by X at/,
    );
    expect(() =>
      b.check({ toolUseId: 'tu_1', decision: 'approve', decidedBy: 'X', reason: 'different' }),
    ).toThrow(/already decided/);
  });
});

describe('ApprovalBook.check accepts', () => {
  it('a valid edit', () => {
    const requests = book('tu_1').check({
      toolUseId: 'tu_1',
      decision: 'edit',
      decidedBy: 'alice',
      input: validInput,
    });
    expect(requests).toEqual([
      { toolUseId: 'tu_1', decision: 'edit', decidedBy: 'alice', input: validInput },
    ]);
  });

  it('any edit when the call has no schema', () => {
    const b = new ApprovalBook();
    b.request(pending('tu_1', false));
    expect(() =>
      b.check({ toolUseId: 'tu_1', decision: 'edit', decidedBy: 'alice', input: { anything: true } }),
    ).not.toThrow();
  });
});

describe('ApprovalBook.apply', () => {
  it('records a decision and removes the call from pending', () => {
    const b = book('tu_1', 'tu_2');
    const [d] = decide(b, { toolUseId: 'tu_1', decision: 'reject', decidedBy: 'alice', reason: 'no' }, T1);
    expect(d).toEqual({
      toolUseId: 'tu_1',
      name: 'save_article',
      decision: 'reject',
      decidedBy: 'alice',
      decidedAt: T1,
      reason: 'no',
      originalInput: { abstract: 'draft', meta: { word_count: 1, review: 'none' } },
      via: 'update',
      // No channel named: an update straight through Temporal, an administrator's.
      channel: 'admin',
    });
    expect('input' in d).toBe(false);
    expect(b.pending.map((p) => p.toolUseId)).toEqual(['tu_2']);
    expect(b.decisionFor('tu_1')).toEqual(d);
  });

  it('records the edited input next to the original one', () => {
    const b = book('tu_1');
    const [d] = b.apply(
      b.check({ toolUseId: 'tu_1', decision: 'edit', decidedBy: 'alice', input: validInput }),
      'signal',
      T1,
    );
    expect(d.decision).toBe('edit');
    expect(d.input).toEqual(validInput);
    expect(d.originalInput).toEqual({ abstract: 'draft', meta: { word_count: 1, review: 'none' } });
    expect(d.via).toBe('signal');
    expect('reason' in d).toBe(false);
  });

  it('applies several decisions at once', () => {
    const b = book('tu_1', 'tu_2', 'tu_3');
    const result = decide(b, {
      decisions: [
        { toolUseId: 'tu_1', decision: 'approve', decidedBy: 'alice' },
        { toolUseId: 'tu_3', decision: 'reject', decidedBy: 'alice', reason: 'dup' },
      ],
    });
    expect(result.map((d) => [d.toolUseId, d.decision])).toEqual([
      ['tu_1', 'approve'],
      ['tu_3', 'reject'],
    ]);
    expect(b.pending.map((p) => p.toolUseId)).toEqual(['tu_2']);
    expect(b.decisions).toHaveLength(2);
  });

  it('answers an identical repeat with the originally recorded decision, without adding one', () => {
    const b = book('tu_1');
    const [first] = decide(
      b,
      { toolUseId: 'tu_1', decision: 'edit', decidedBy: 'alice', reason: 'fix', input: validInput },
      T1,
    );
    const repeat = {
      toolUseId: 'tu_1',
      decision: 'edit' as const,
      decidedBy: 'alice',
      reason: 'fix',
      input: { ...validInput },
    };
    const checked = b.check(repeat);
    const [again] = b.apply(checked, 'signal', T2);
    expect(again).toEqual(first);
    expect(again.decidedAt).toBe(T1);
    expect(again.via).toBe('update');
    expect(b.decisions).toHaveLength(1);
  });

  it('treats an identical approve repeat the same way', () => {
    const b = book('tu_1');
    const [first] = decide(b, { toolUseId: 'tu_1', decision: 'approve', decidedBy: 'alice' }, T1);
    expect(decide(b, { toolUseId: 'tu_1', decision: 'approve', decidedBy: 'alice' }, T2)).toEqual([first]);
    expect(b.decisions).toEqual([first]);
  });
});

describe('ApprovalBook.expire', () => {
  it('rejects at the deadline as system:deadline', () => {
    const b = book('tu_1', 'tu_2');
    const d = b.expire('tu_1', 'deadline', 'no decision within 1h', T2);
    expect(d).toMatchObject({
      toolUseId: 'tu_1',
      decision: 'reject',
      decidedBy: 'system:deadline',
      reason: 'no decision within 1h',
      decidedAt: T2,
      via: 'deadline',
    });
    expect(b.pending.map((p) => p.toolUseId)).toEqual(['tu_2']);
  });

  it('rejects at the end as system:end', () => {
    const b = book('tu_1');
    const d = b.expire('tu_1', 'end', 'conversation ended', T2);
    expect(d).toMatchObject({
      decision: 'reject',
      decidedBy: 'system:end',
      via: 'end',
      reason: 'conversation ended',
    });
    expect(b.pending).toEqual([]);
    expect(b.decisionFor('tu_1')).toEqual(d);
  });

  it('keeps an earlier operator decision instead of overriding it', () => {
    const b = book('tu_1');
    const [op] = decide(b, { toolUseId: 'tu_1', decision: 'approve', decidedBy: 'alice' }, T1);
    expect(b.expire('tu_1', 'deadline', 'late', T2)).toEqual(op);
  });
});

describe('ApprovalBook.snapshot', () => {
  it('restores pending calls (with schema) and decisions in a new book', () => {
    const b = book('tu_1', 'tu_2', 'tu_3');
    const [d1] = decide(b, { toolUseId: 'tu_1', decision: 'approve', decidedBy: 'alice' }, T1);
    const snap = structuredClone(b.snapshot());
    const restored = new ApprovalBook(snap);
    expect(restored.pending).toEqual(b.pending);
    expect(restored.decisions).toEqual([d1]);
    expect(restored.decisionFor('tu_1')).toEqual(d1);
    // The schema survived: a bad edit is still refused.
    expect(() =>
      restored.check({
        toolUseId: 'tu_2',
        decision: 'edit',
        decidedBy: 'bob',
        input: { abstract: 'a', meta: { word_count: 1.5, review: 'r' } },
      }),
    ).toThrow(/meta\.word_count/);
    // A decided call stays decided.
    expect(() => restored.check({ toolUseId: 'tu_1', decision: 'reject', decidedBy: 'bob' })).toThrow(
      /already decided: approve by alice/,
    );
    // And the restored book works on.
    decide(restored, { toolUseId: 'tu_2', decision: 'reject', decidedBy: 'bob' }, T2);
    expect(restored.pending.map((p) => p.toolUseId)).toEqual(['tu_3']);
    expect(restored.decisions).toHaveLength(2);
    // The original book is untouched by the restored one.
    expect(b.pending).toHaveLength(2);
  });

  it('an empty book snapshots to empty lists', () => {
    expect(new ApprovalBook().snapshot()).toEqual({ pending: [], decisions: [] });
    expect(new ApprovalBook(undefined).pending).toEqual([]);
  });
});
