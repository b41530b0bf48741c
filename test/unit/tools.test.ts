import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ToolContext } from '../../src/tools/define-tool';
import { builtinTools } from '../../src/tools/builtin';
import { getWeather } from '../../src/tools/get-weather';
import { IdempotentStore, idempotentWrite } from '../../src/tools/idempotent-write';
import { createSaveArticleTool, listArticles } from '../../src/tools/save-article';

const tempDirs: string[] = [];
afterAll(() => tempDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tools-test-'));
  tempDirs.push(dir);
  return dir;
}

function context(toolUseId = 'toolu_1', workflowId = 'wf-1'): ToolContext {
  return {
    idempotencyKey: `${workflowId}/${toolUseId}`,
    workflowId,
    toolUseId,
    signal: new AbortController().signal,
    heartbeat: () => {},
    attempt: 1,
  };
}

/** An effect that counts its runs. */
function counter<T>(value: T): { effect: () => Promise<T>; runs: () => number } {
  let runs = 0;
  return {
    effect: async () => {
      runs += 1;
      return value;
    },
    runs: () => runs,
  };
}

describe('IdempotentStore', () => {
  it('runs the effect once per key, even across a restarted worker (a second store on the same dir)', async () => {
    const dir = tempDir();
    const { effect, runs } = counter({ charged: 42 });

    const first = await new IdempotentStore({ dir }).once('wf-1/toolu_1', effect);
    expect(first).toEqual({ result: { charged: 42 }, replayed: false });

    const restarted = new IdempotentStore({ dir });
    const second = await restarted.once('wf-1/toolu_1', effect);
    expect(second).toEqual({ result: { charged: 42 }, replayed: true });
    expect(runs()).toBe(1);
    await expect(restarted.get('wf-1/toolu_1')).resolves.toEqual({ charged: 42 });
  });

  it('shares one run between concurrent calls with the same key', async () => {
    const store = new IdempotentStore({ dir: tempDir() });
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const effect = async () => {
      runs += 1;
      await gate;
      return 'done';
    };
    const calls = [
      store.once('k', effect),
      store.once('k', effect),
      new IdempotentStore({ dir: store.dir }).once('k', effect),
    ];
    release();
    const results = await Promise.all(calls);
    expect(runs).toBe(1);
    expect(results.map((r) => r.result)).toEqual(['done', 'done', 'done']);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
  });

  it('runs different keys separately', async () => {
    const store = new IdempotentStore({ dir: tempDir() });
    const { effect, runs } = counter(1);
    await store.once('wf-1/toolu_1', effect);
    await store.once('wf-1/toolu_2', effect);
    await store.once('wf-2/toolu_1', effect);
    expect(runs()).toBe(3);
  });

  it('records nothing when the effect throws, so a retry runs it again', async () => {
    const store = new IdempotentStore({ dir: tempDir() });
    await expect(store.once('k', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(store.get('k')).resolves.toBeUndefined();
    expect(readdirSync(store.dir).filter((name) => name.endsWith('.json'))).toHaveLength(0);

    await expect(store.once('k', async () => 'ok')).resolves.toEqual({ result: 'ok', replayed: false });
  });

  it('names record files by a hash of the key and leaves no temp files', async () => {
    const store = new IdempotentStore({ dir: tempDir() });
    await store.once('wf-1/toolu_1', async () => null);
    expect(readdirSync(store.dir)).toEqual([expect.stringMatching(/^[0-9a-f]{64}\.json$/)]);
  });

  it('idempotentWrite uses the context key and hands it to the effect', async () => {
    const store = new IdempotentStore({ dir: tempDir() });
    const keys: string[] = [];
    const effect = async (key: string) => {
      keys.push(key);
      return { ok: true };
    };
    await idempotentWrite(store, context(), effect);
    const again = await idempotentWrite(store, context(), effect);
    expect(again.replayed).toBe(true);
    expect(keys).toEqual(['wf-1/toolu_1']);
  });
});

describe('save_article', () => {
  const input = {
    abstract: 'Durable agents survive crashes.',
    meta: { word_count: 1200, review: 'Clear and useful.' },
  };

  it('sends a JSON schema with the required fields', () => {
    const schema = createSaveArticleTool({ dir: tempDir() }).toApiTool().input_schema as {
      required?: string[];
      properties: Record<string, { required?: string[]; properties?: Record<string, unknown> }>;
    };
    expect(schema.required).toEqual(expect.arrayContaining(['abstract', 'meta']));
    expect(schema.properties.abstract).toMatchObject({
      type: 'string',
      minLength: 1,
      description: 'The abstract of the article',
    });
    expect(schema.properties.meta.required).toEqual(expect.arrayContaining(['word_count', 'review']));
    expect(schema.properties.meta.properties?.word_count).toMatchObject({ type: 'integer', minimum: 0 });
  });

  it('saves one article for a retried call (same key), and answers the retry exactly like the first attempt', async () => {
    const dir = tempDir();
    const tool = createSaveArticleTool({ dir });
    const first = await tool.run(input, context());
    const retry = await createSaveArticleTool({ dir }).run(input, { ...context(), attempt: 2 });

    expect(first).toMatchObject({ saved: true, id: expect.stringMatching(/^article_/) });
    // The model must not learn that a worker crashed in between: the same answer, byte for byte.
    expect(retry).toEqual(first);
    const articles = await listArticles(dir);
    expect(articles).toHaveLength(1);
    expect(articles[0]).toMatchObject({
      id: (first as { id: string }).id,
      idempotencyKey: 'wf-1/toolu_1',
      workflowId: 'wf-1',
      toolUseId: 'toolu_1',
      abstract: input.abstract,
      meta: input.meta,
    });
    expect(readdirSync(join(dir, 'articles'))).toHaveLength(1);
  });

  it('saves separate articles for different calls', async () => {
    const dir = tempDir();
    const tool = createSaveArticleTool({ dir });
    const a = await tool.run(input, context('toolu_1'));
    const b = await tool.run(input, context('toolu_2'));
    expect((a as { id: string }).id).not.toBe((b as { id: string }).id);
    expect(await listArticles(dir)).toHaveLength(2);
  });

  it('needs approval, and an empty store lists no articles', async () => {
    const dir = tempDir();
    expect(createSaveArticleTool({ dir }).needsApproval(input)).toBe(true);
    await expect(listArticles(dir)).resolves.toEqual([]);
  });

  it('rejects invalid input', () => {
    const tool = createSaveArticleTool({ dir: tempDir() });
    expect(tool.input.safeParse({ abstract: '', meta: { word_count: 1, review: 'x' } }).success).toBe(false);
    expect(tool.input.safeParse({ abstract: 'a', meta: { word_count: -1, review: 'x' } }).success).toBe(
      false,
    );
    expect(tool.input.safeParse({ abstract: 'a', meta: { word_count: 1.5, review: 'x' } }).success).toBe(
      false,
    );
  });
});

describe('get_weather', () => {
  it('is deterministic per location', async () => {
    const parsed = getWeather.input.parse({ location: 'Paris' });
    expect(parsed.unit).toBe('celsius');
    const a = await getWeather.run(parsed, context());
    const b = await getWeather.run(parsed, context('toolu_2'));
    expect(a).toEqual(b);
    expect(a).toMatchObject({
      location: 'Paris',
      unit: 'celsius',
      temperature: expect.any(Number),
      conditions: expect.any(String),
    });
  });

  it('converts to fahrenheit', async () => {
    const c = (await getWeather.run({ location: 'Oslo', unit: 'celsius' }, context())) as {
      temperature: number;
    };
    const f = (await getWeather.run({ location: 'Oslo', unit: 'fahrenheit' }, context())) as {
      temperature: number;
    };
    expect(f.temperature).toBeCloseTo((c.temperature * 9) / 5 + 32, 0);
  });

  it('needs no approval and rejects invalid input', () => {
    expect(getWeather.needsApproval(getWeather.input.parse({ location: 'Paris' }))).toBe(false);
    expect(getWeather.input.safeParse({ location: '' }).success).toBe(false);
    expect(getWeather.input.safeParse({}).success).toBe(false);
    expect(getWeather.input.safeParse({ location: 'Paris', unit: 'kelvin' }).success).toBe(false);
  });

  it('throws when the call is aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      getWeather.run({ location: 'Paris', unit: 'celsius' }, { ...context(), signal: controller.signal }),
    ).rejects.toThrow();
  });
});

describe('builtinTools', () => {
  it('has get_weather and save_article', () => {
    expect(builtinTools({ dataDir: tempDir() }).map((t) => t.name)).toEqual(['get_weather', 'save_article']);
  });
});
