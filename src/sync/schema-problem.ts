/**
 * The first thing wrong with a value, read from the JSON Schema it must match (the subset TypeBox
 * emits: object, array, string, integer, number, boolean, null, const, anyOf), as a sentence that
 * names the path and what is expected: `source.pageSize must be an integer from 1 to 999 (got 1000)`.
 *
 * TypeBox's own error list names the failing keyword, not what a person should write, and reports
 * a union as a whole; so the messages come from here, and the schema's `errorMessage` (a string for
 * every error of its node, as editors read it, or ajv-errors' object keyed by keyword) says it
 * better where the type alone cannot. Values of `writeOnly` nodes (secrets) are never echoed.
 */

export interface SchemaNode {
  type?: string;
  const?: unknown;
  anyOf?: SchemaNode[];
  properties?: Record<string, SchemaNode>;
  patternProperties?: Record<string, SchemaNode>;
  required?: string[];
  additionalProperties?: boolean;
  items?: SchemaNode;
  minItems?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  writeOnly?: boolean;
  errorMessage?: string | Record<string, string>;
}

export interface SchemaProblem {
  path: string;
  message: string;
}

/** The first problem, depth first in the schema's property order; null when the value matches. */
export function schemaProblem(schema: SchemaNode, value: unknown, path = ""): SchemaProblem | null {
  if (schema.anyOf) return unionProblem(schema, value, path);
  const fail = (keyword: string, fallback: string): SchemaProblem => problemAt(schema, value, path, keyword, fallback);
  switch (schema.type) {
    case "object":
      return objectProblem(schema, value, path);
    case "array": {
      if (!Array.isArray(value)) return fail("type", expected(schema));
      if (schema.minItems !== undefined && value.length < schema.minItems) {
        const known = literals(schema.items);
        const fallback = known
          ? `must name at least one of ${known.join(", ")}`
          : `must have at least ${schema.minItems} item${schema.minItems === 1 ? "" : "s"}`;
        return fail("minItems", fallback);
      }
      for (const [index, item] of value.entries()) {
        const problem = schemaProblem(schema.items ?? {}, item, `${path}[${index}]`);
        if (problem) return problem;
      }
      return null;
    }
    case "string":
      if (typeof value !== "string") return fail("type", expected(schema));
      if (schema.const !== undefined && value !== schema.const) return fail("const", `must be ${show(schema.const)}`);
      if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) {
        return fail("pattern", `must match ${schema.pattern}`);
      }
      return null;
    case "integer":
    case "number": {
      const integer = schema.type === "integer";
      const fits =
        typeof value === "number" &&
        (integer ? Number.isInteger(value) : Number.isFinite(value)) &&
        (schema.minimum === undefined || value >= schema.minimum) &&
        (schema.maximum === undefined || value <= schema.maximum);
      return fits ? null : fail("type", expected(schema));
    }
    case "boolean":
      return typeof value === "boolean" ? null : fail("type", expected(schema));
    case "null":
      return value === null ? null : fail("type", expected(schema));
    default:
      return null;
  }
}

function objectProblem(schema: SchemaNode, value: unknown, path: string): SchemaProblem | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return problemAt(schema, value, path, "type", expected(schema));
  }
  const record = value as Record<string, unknown>;
  const properties = schema.properties ?? {};
  const patterns = Object.entries(schema.patternProperties ?? {}).map(
    ([pattern, node]) => [new RegExp(pattern), node] as const,
  );
  const keys = Object.keys(properties);
  const at = (key: string) => (path ? `${path}.${key}` : key);
  if (schema.additionalProperties === false) {
    for (const key of Object.keys(record)) {
      if (key in properties || patterns.some(([pattern]) => pattern.test(key))) continue;
      const custom = keywordMessage(schema, "additionalProperties");
      if (custom) return { path: at(key), message: `${at(key)} ${custom}` };
      const hint = suggest(key, keys, (s) => s.toLowerCase());
      return { path: at(key), message: `${at(key)} is not a known key${hint} (expected one of: ${keys.join(", ")})` };
    }
  }
  for (const key of schema.required ?? []) {
    if (record[key] === undefined) {
      // An object whose parts only make sense together says what it must look like as a whole.
      if (schema.errorMessage !== undefined) return problemAt(schema, value, path, "required", "");
      return { path: at(key), message: `${at(key)} is required` };
    }
  }
  for (const [key, item] of Object.entries(record)) {
    if (item === undefined) continue;
    const node = properties[key] ?? patterns.find(([pattern]) => pattern.test(key))?.[1];
    const problem = node ? schemaProblem(node, item, at(key)) : null;
    if (problem) return problem;
  }
  return null;
}

/**
 * A union is judged by the variant of the value's own kind (a list, an object, a string, ...);
 * problems at that variant's own level are the union's (its errorMessage), deeper ones their node's.
 */
function unionProblem(schema: SchemaNode, value: unknown, path: string): SchemaProblem | null {
  const variants = schema.anyOf!;
  const known = literals(schema);
  if (known) {
    return known.includes(value as string) ? null : problemAt(schema, value, path, "enum", expected(schema));
  }
  const variant = variants.find((v) => acceptsKind(v, value));
  if (!variant) {
    const first = variants.find((v) => v.type !== "null") ?? variants[0]!;
    return problemAt(schema, value, path, "type", expected(first));
  }
  const problem = schemaProblem(variant, value, path);
  if (problem && problem.path === path && typeof schema.errorMessage === "string") {
    return problemAt(schema, value, path, "type", problem.message);
  }
  return problem;
}

function acceptsKind(variant: SchemaNode, value: unknown): boolean {
  if (variant.anyOf) return variant.anyOf.some((v) => acceptsKind(v, value));
  switch (variant.type) {
    case "object":
      return typeof value === "object" && value !== null && !Array.isArray(value);
    case "array":
      return Array.isArray(value);
    case "integer":
    case "number":
      return typeof value === "number";
    case "null":
      return value === null;
    default:
      return typeof value === variant.type;
  }
}

/** The values of a union of string constants (TypeBox's union of literals), or null. */
function literals(schema: SchemaNode | undefined): string[] | null {
  const variants = schema?.anyOf;
  if (!variants?.length || !variants.every((v) => typeof v.const === "string")) return null;
  return variants.map((v) => v.const as string);
}

/** Keywords whose message is complete without the value (the value is an object, a list, or fine). */
const WITHOUT_VALUE = new Set(["required", "minItems"]);

function problemAt(schema: SchemaNode, value: unknown, path: string, keyword: string, fallback: string): SchemaProblem {
  const custom = keywordMessage(schema, keyword);
  const text = custom ?? (typeof schema.errorMessage === "string" ? schema.errorMessage : fallback);
  const withValue = !schema.writeOnly && !(custom && WITHOUT_VALUE.has(keyword));
  return { path, message: `${path} ${text}${withValue ? ` (got ${show(value)})` : ""}` };
}

/** ajv-errors' form: { keyword: message }, used as written. */
function keywordMessage(schema: SchemaNode, keyword: string): string | undefined {
  return typeof schema.errorMessage === "object" ? schema.errorMessage[keyword] : undefined;
}

/** What a node asks for, as its type-mismatch message says it. */
function expected(schema: SchemaNode): string {
  if (typeof schema.errorMessage === "string") return schema.errorMessage;
  const known = literals(schema);
  if (known) return `must be one of ${known.map(show).join(", ")}`;
  switch (schema.type) {
    case "object":
      return "must be an object";
    case "array":
      return "must be an array";
    case "integer":
      return `must be an integer${range(schema)}`;
    case "number":
      return `must be a number${range(schema)}`;
    case "boolean":
      return "must be true or false";
    case "null":
      return "must be null";
    default:
      return "must be a string";
  }
}

function range(schema: SchemaNode): string {
  const { minimum: min, maximum: max } = schema;
  if (min !== undefined && max !== undefined) return ` from ${min} to ${max}`;
  if (min !== undefined) return ` of at least ${min}`;
  if (max !== undefined) return ` of at most ${max}`;
  return "";
}

export function suggest(name: string, known: readonly string[], normalise: (s: string) => string): string {
  const match = known.find((candidate) => normalise(candidate).toLowerCase() === normalise(name).toLowerCase());
  return match ? ` (did you mean ${match}?)` : "";
}

export function show(value: unknown): string {
  return value === undefined ? "nothing" : JSON.stringify(value);
}
