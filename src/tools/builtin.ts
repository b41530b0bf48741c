import type { ToolDefinition } from './define-tool';
import { getWeather } from './get-weather';
import { createSaveArticleTool } from './save-article';

/** Where the built-in tools keep their data. */
export interface BuiltinToolsOptions {
  /** The data directory (`save_article` writes to `dataDir/articles/`). */
  dataDir: string;
}

/** The tools every worker has: `get_weather` (read) and `save_article` (write). */
export function builtinTools(options: BuiltinToolsOptions): ToolDefinition[] {
  return [getWeather, createSaveArticleTool({ dir: options.dataDir })];
}
