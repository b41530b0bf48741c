/**
 * The JSON Schema subset of structured outputs, as the API enforces it on `output_config.format.schema`
 * and on the `input_schema` of a tool with `strict: true`. From the structured-outputs documentation
 * and the SDK's strict-mode transform (`lib/transform-json-schema`), which keeps exactly this subset
 * and moves everything else into descriptions:
 *
 * - every object has `additionalProperties: false` (nothing else there: no `patternProperties`,
 *   `propertyNames`, `minProperties` / `maxProperties`);
 * - no numeric constraints (`minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `multipleOf`);
 * - no string lengths (`minLength`, `maxLength`); `format` only one of {@link SUPPORTED_STRING_FORMATS};
 *   `pattern` is accepted;
 * - arrays: `minItems` 0 or 1 only; no `maxItems`, `uniqueItems`, `contains`, `prefixItems`;
 * - `anyOf` and `allOf`, not `oneOf`, `not` or `if` / `then` / `else`; `enum` of primitives only;
 * - `$ref` only to this schema's own `$defs` / `definitions` (`#/...`).
 *
 * The wording follows the API's style: the path, then what is not supported for which type.
 */

/** String formats the API supports in strict schemas (the SDK's transform keeps the same list). */
export const SUPPORTED_STRING_FORMATS = new Set([
  'date-time',
  'time',
  'date',
  'duration',
  'email',
  'hostname',
  'uri',
  'ipv4',
  'ipv6',
  'uuid',
]);

/** Keywords refused for a type (or for any schema under `*`). */
const UNSUPPORTED: Record<string, readonly string[]> = {
  number: ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'],
  integer: ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'],
  string: ['minLength', 'maxLength'],
  array: ['maxItems', 'uniqueItems', 'contains', 'minContains', 'maxContains', 'prefixItems'],
  object: ['patternProperties', 'propertyNames', 'minProperties', 'maxProperties', 'dependentRequired'],
  '*': ['oneOf', 'not', 'if', 'then', 'else', 'dependentSchemas', 'unevaluatedProperties'],
};

type Obj = Record<string, unknown>;
const isObject = (value: unknown): value is Obj =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isPrimitive = (value: unknown): boolean => value === null || typeof value !== 'object';

/**
 * The first feature of `schema` that strict mode does not support, as the API would word its 400, or
 * undefined when it is all supported. `path` is where the schema sits in the request
 * (`output_config.format.schema`, `tools.0.input_schema`).
 */
export function strictSchemaProblem(schema: unknown, path: string): string | undefined {
  return walk(schema, path, schema);
}

function walk(schema: unknown, path: string, root: unknown): string | undefined {
  if (typeof schema === 'boolean') return undefined;
  if (!isObject(schema)) return `${path}: Input should be a valid dictionary`;
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  for (const type of [...types, '*']) {
    if (typeof type !== 'string') continue;
    const found = (UNSUPPORTED[type] ?? []).filter((key) => schema[key] !== undefined);
    if (found.length > 0) {
      const what = type === '*' ? 'schemas' : `'${type}' type`;
      return `${path}: For ${what}, ${found.length > 1 ? 'properties' : 'property'} ${found.join(', ')} ${found.length > 1 ? 'are' : 'is'} not supported in strict mode`;
    }
  }
  if (types.includes('object') && schema.additionalProperties !== false) {
    return `${path}: For 'object' type, 'additionalProperties' must be explicitly set to false in strict mode`;
  }
  if (types.includes('string') && schema.format !== undefined) {
    if (typeof schema.format !== 'string' || !SUPPORTED_STRING_FORMATS.has(schema.format))
      return `${path}: String format '${String(schema.format)}' is not supported in strict mode (supported: ${[...SUPPORTED_STRING_FORMATS].join(', ')})`;
  }
  if (
    types.includes('array') &&
    schema.minItems !== undefined &&
    schema.minItems !== 0 &&
    schema.minItems !== 1
  ) {
    return `${path}: For 'array' type, 'minItems' values other than 0 or 1 are not supported in strict mode`;
  }
  if (Array.isArray(schema.enum) && !schema.enum.every(isPrimitive)) {
    return `${path}.enum: enum values must be strings, numbers, booleans or null in strict mode`;
  }
  if (typeof schema.$ref === 'string' && !schema.$ref.startsWith('#/')) {
    return `${path}.$ref: only references within the schema ('#/$defs/...') are supported in strict mode`;
  }
  return firstOf(children(schema, path), root);
}

function firstOf(entries: Array<[unknown, string]>, root: unknown): string | undefined {
  for (const [child, at] of entries) {
    const problem = walk(child, at, root);
    if (problem) return problem;
  }
  return undefined;
}

/** The sub-schemas of a schema, with their paths. */
function children(schema: Obj, path: string): Array<[unknown, string]> {
  const out: Array<[unknown, string]> = [];
  const map = (key: string) => {
    const value = schema[key];
    if (isObject(value))
      for (const [name, sub] of Object.entries(value)) out.push([sub, `${path}.${key}.${name}`]);
  };
  const list = (key: string) => {
    const value = schema[key];
    if (Array.isArray(value)) value.forEach((sub, i) => out.push([sub, `${path}.${key}.${i}`]));
  };
  map('properties');
  map('$defs');
  map('definitions');
  list('anyOf');
  list('allOf');
  if (schema.items !== undefined && !Array.isArray(schema.items)) out.push([schema.items, `${path}.items`]);
  return out;
}
