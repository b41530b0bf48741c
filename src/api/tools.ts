/** Facts about tools that the contract, the registry and the fake API share. Workflow-safe. */

/** The API's rule for a tool name: `^[a-zA-Z0-9_-]{1,64}$`. */
export const TOOL_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

/** What running a tool does to the world: only reads it, or changes it (shown to operators). */
export const TOOL_EFFECTS = ['read', 'write'] as const;
export type ToolEffect = (typeof TOOL_EFFECTS)[number];
