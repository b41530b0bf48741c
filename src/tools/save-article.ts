import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { defineTool, type ToolDefinition } from './define-tool';
import { IdempotentStore, keyHash } from './idempotent-write';

/** Where `save_article` keeps its data. */
export interface SaveArticleOptions {
  /** The data directory; articles go to `dir/articles/`. */
  dir: string;
}

/** An article as stored: one JSON file per call, named by the hash of its idempotency key. */
export interface SavedArticle {
  id: string;
  idempotencyKey: string;
  workflowId: string;
  toolUseId: string;
  /** ISO 8601, when the first attempt saved it. */
  savedAt: string;
  abstract: string;
  meta: { word_count: number; review: string };
}

const saveArticleInput = z.object({
  abstract: z.string().min(1).describe('The abstract of the article'),
  meta: z.object({
    word_count: z.number().int().nonnegative().describe('Word count of the article'),
    review: z.string().describe('A short review of the article'),
  }),
});

function articlesDir(dir: string): string {
  return join(dir, 'articles');
}

/**
 * The `save_article` tool: a write tool (approval: always) that stores an abstract and its review
 * metadata durably. A retried call (same idempotency key) finds its article already saved and returns
 * the same answer as the first attempt, without saving a second one: the article file is itself the
 * idempotency record. The model never learns that a worker crashed in between.
 */
export function createSaveArticleTool(options: SaveArticleOptions): ToolDefinition<typeof saveArticleInput> {
  const store = new IdempotentStore({ dir: articlesDir(options.dir) });
  return defineTool({
    name: 'save_article',
    description: "Save an article's abstract and review metadata to the article store.",
    input: saveArticleInput,
    effect: 'write',
    async run({ abstract, meta }, ctx) {
      ctx.signal.throwIfAborted();
      const { result } = await store.once<SavedArticle>(ctx.idempotencyKey, async () => ({
        // Derived from the key, so the id is the same whichever attempt ends up saving it.
        id: `article_${keyHash(ctx.idempotencyKey).slice(0, 16)}`,
        idempotencyKey: ctx.idempotencyKey,
        workflowId: ctx.workflowId,
        toolUseId: ctx.toolUseId,
        savedAt: new Date().toISOString(),
        abstract,
        meta: { word_count: meta.word_count, review: meta.review },
      }));
      return { saved: true, id: result.id, savedAt: result.savedAt };
    },
  });
}

/** Every article saved under data directory `dir`, oldest first; none if nothing was saved yet. */
export async function listArticles(dir: string): Promise<SavedArticle[]> {
  const articles = articlesDir(dir);
  let names: string[];
  try {
    names = await readdir(articles);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  // Only whole records: a crash mid-write leaves a `*.tmp` file, which is not an article.
  const files = names.filter((name) => name.endsWith('.json'));
  const saved = await Promise.all(
    files.map(async (name) => JSON.parse(await readFile(join(articles, name), 'utf8')) as SavedArticle),
  );
  return saved.sort((a, b) => a.savedAt.localeCompare(b.savedAt) || a.id.localeCompare(b.id));
}
