/**
 * Tenants: a conversation names the tenant it works for, and tenant-scoped state (the memory tool's
 * files) is kept apart by it. Workflow-safe.
 */

/**
 * A tenant's name: a letter or digit, then up to 63 letters, digits, `_` or `-`. Safe as a directory
 * name and a database key as it is (no dots, no slashes, nothing to escape).
 */
export const TENANT_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/i;

/** The tenant of a conversation that names none. */
export const DEFAULT_TENANT = 'default';
