/**
 * SCIM attribute paths and filters (RFC 7644 §3.4.2.2, §3.5.2), the subset identity providers
 * send: `eq` comparisons joined by `and`, on attribute paths such as `userName`, `name.givenName`,
 * `emails[type eq "work"].value`, `emails.value`, `members[value eq "<id>"]` and the enterprise
 * extension's `urn:...:enterprise:2.0:User:department`. Names are case-insensitive and resolved to
 * their canonical spelling (schema.ts); anything else is refused naming what is supported.
 */
import { ScimError, type ScimType } from "./errors";
import { type AttributeDef, ENTERPRISE_SCHEMA, findDef, GROUP_SCHEMA, isPlainObject, USER_SCHEMA } from "./schema";

export type FilterValue = string | boolean | number | null;

/** One resolved path: the attribute (the extension's under its URN), a filter on its items, a sub-attribute. */
export interface AttrPath {
  /** Canonical names from the resource's top: ["emails"], ["name"], [ENTERPRISE_SCHEMA, "manager"]. */
  attr: string[];
  def: AttributeDef;
  /** Conditions every selected item of a multi-valued attribute meets (`emails[type eq "work"]`). */
  filter: Condition[] | null;
  sub: AttributeDef | null;
}

export interface Condition {
  path: AttrPath;
  value: FilterValue;
}

const SUPPORTED = 'supported: <attribute> eq <value>, joined by "and"';

type Token =
  | { kind: "word"; text: string; at: number }
  | { kind: "value"; value: FilterValue; at: number }
  | { kind: "punct"; text: "(" | ")" | "[" | "]"; at: number };

function tokenize(input: string, type: ScimType): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const ch = input[i]!;
    if (/\s/.test(ch)) {
      i++;
    } else if ("()[]".includes(ch)) {
      tokens.push({ kind: "punct", text: ch as "(" | ")" | "[" | "]", at: i });
      i++;
    } else if (ch === '"') {
      let j = i + 1;
      while (j < input.length && input[j] !== '"') j += input[j] === "\\" ? 2 : 1;
      if (j >= input.length) throw new ScimError(400, type, `unterminated string at position ${i + 1}`);
      try {
        tokens.push({ kind: "value", value: JSON.parse(input.slice(i, j + 1)) as string, at: i });
      } catch {
        throw new ScimError(400, type, `a string at position ${i + 1} has a bad escape`);
      }
      i = j + 1;
    } else {
      const match = /^[A-Za-z0-9_$:.+-]+/.exec(input.slice(i));
      if (!match) throw new ScimError(400, type, `unexpected ${JSON.stringify(ch)} at position ${i + 1}`);
      const word = match[0];
      const lower = word.toLowerCase();
      if (lower === "true" || lower === "false") tokens.push({ kind: "value", value: lower === "true", at: i });
      else if (lower === "null") tokens.push({ kind: "value", value: null, at: i });
      else if (/^-?\d+(\.\d+)?$/.test(word)) tokens.push({ kind: "value", value: Number(word), at: i });
      else tokens.push({ kind: "word", text: word, at: i });
      i += word.length;
    }
  }
  return tokens;
}

/**
 * Resolves "name.givenName", "emails", "urn:...:enterprise:2.0:User:manager.value" against a
 * resource type's attributes (schema.ts resourceDefs), or inside a multi-valued attribute's items.
 */
export function resolvePath(text: string, defs: readonly AttributeDef[], type: ScimType): AttrPath {
  let rest = text;
  let scope = defs;
  const attr: string[] = [];
  if (rest.toLowerCase().startsWith("urn:")) {
    const schema = [ENTERPRISE_SCHEMA, USER_SCHEMA, GROUP_SCHEMA].find((urn) =>
      rest.toLowerCase().startsWith(`${urn.toLowerCase()}:`),
    );
    if (!schema) throw new ScimError(400, type, `${JSON.stringify(text)} names a schema this service does not support`);
    rest = rest.slice(schema.length + 1);
    if (schema === ENTERPRISE_SCHEMA) {
      const extension = findDef(defs, ENTERPRISE_SCHEMA);
      if (!extension) throw new ScimError(400, type, `${JSON.stringify(text)} is not an attribute of this resource`);
      attr.push(ENTERPRISE_SCHEMA);
      scope = extension.subAttributes ?? [];
    }
  }
  const [name, subName, ...more] = rest.split(".");
  const def = name ? findDef(scope, name) : undefined;
  if (!def || more.length > 0) {
    throw new ScimError(400, type, `${JSON.stringify(text)} is not a supported attribute path`);
  }
  attr.push(def.name);
  let sub: AttributeDef | null = null;
  if (subName !== undefined) {
    sub = findDef(def.subAttributes ?? [], subName) ?? null;
    if (!sub) throw new ScimError(400, type, `${JSON.stringify(text)} is not a supported attribute path`);
  }
  return { attr, def, filter: null, sub };
}

class Parser {
  private i = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly type: ScimType,
  ) {}

  fail(message: string): never {
    throw new ScimError(400, this.type, message);
  }

  peek(): Token | undefined {
    return this.tokens[this.i];
  }

  done(): boolean {
    return this.i >= this.tokens.length;
  }

  /** conditions ("and" conditions)* */
  conjunction(defs: readonly AttributeDef[], closing: ")" | "]" | null): Condition[] {
    const conditions: Condition[] = [];
    for (;;) {
      conditions.push(...this.term(defs));
      const next = this.peek();
      if (next === undefined || (next.kind === "punct" && next.text === closing)) return conditions;
      if (next.kind === "word" && next.text.toLowerCase() === "and") {
        this.i++;
        continue;
      }
      if (next.kind === "word" && /^(or|not)$/i.test(next.text)) {
        this.fail(`"${next.text}" is not supported at position ${next.at + 1} (${SUPPORTED})`);
      }
      this.fail(`unexpected ${describe(next)} at position ${next.at + 1} (${SUPPORTED})`);
    }
  }

  term(defs: readonly AttributeDef[]): Condition[] {
    const token = this.tokens[this.i++];
    if (token === undefined) this.fail(`the filter ends where a comparison was expected (${SUPPORTED})`);
    if (token.kind === "punct" && token.text === "(") {
      const inner = this.conjunction(defs, ")");
      this.expect(")");
      return inner;
    }
    if (token.kind === "word" && token.text.toLowerCase() === "not") {
      this.fail(`"not" is not supported (${SUPPORTED})`);
    }
    if (token.kind !== "word") this.fail(`expected an attribute at position ${token.at + 1}, got ${describe(token)}`);
    const path = this.path(token.text, defs);
    const op = this.tokens[this.i++];
    if (op === undefined || op.kind !== "word") this.fail(`expected "eq" after ${JSON.stringify(token.text)}`);
    if (op.text.toLowerCase() !== "eq") {
      this.fail(`the operator "${op.text}" is not supported (${SUPPORTED})`);
    }
    const value = this.tokens[this.i++];
    if (value === undefined || value.kind !== "value") {
      this.fail(`expected a value ("text", true, false, a number or null) after "eq" at position ${op.at + 1}`);
    }
    return [{ path, value: value.value }];
  }

  /** An attribute path, with a value filter in brackets and a sub-attribute after it. */
  path(text: string, defs: readonly AttributeDef[]): AttrPath {
    const path = resolvePath(text, defs, this.type);
    const next = this.peek();
    if (next?.kind !== "punct" || next.text !== "[") return path;
    if (!path.def.multiValued || path.sub)
      this.fail(`${JSON.stringify(text)} takes no [filter]: it is not multi-valued`);
    this.i++;
    const filter = this.conjunction(path.def.subAttributes ?? [], "]");
    this.expect("]");
    // "emails[type eq "work"].value": the sub-attribute is lexed as a word starting with ".".
    const after = this.peek();
    if (after?.kind === "word" && after.text.startsWith(".")) {
      this.i++;
      const sub = findDef(path.def.subAttributes ?? [], after.text.slice(1));
      if (!sub) this.fail(`${JSON.stringify(after.text.slice(1))} is not a sub-attribute of ${path.def.name}`);
      return { ...path, filter, sub };
    }
    return { ...path, filter };
  }

  expect(text: ")" | "]"): void {
    const token = this.tokens[this.i++];
    if (token?.kind !== "punct" || token.text !== text) this.fail(`expected "${text}"`);
  }
}

function describe(token: Token): string {
  return token.kind === "value" ? JSON.stringify(token.value) : `"${token.text}"`;
}

/** A query filter: its conditions, all of which hold for a match. Throws ScimError invalidFilter. */
export function parseFilter(text: string, defs: readonly AttributeDef[]): Condition[] {
  if (text.length > 1000) throw new ScimError(400, "invalidFilter", "the filter is longer than 1000 characters");
  const parser = new Parser(tokenize(text, "invalidFilter"), "invalidFilter");
  if (parser.done()) throw new ScimError(400, "invalidFilter", `the filter is empty (${SUPPORTED})`);
  const conditions = parser.conjunction(defs, null);
  if (!parser.done()) parser.fail(`unexpected ${describe(parser.peek()!)} (${SUPPORTED})`);
  return conditions;
}

/** A PATCH operation's path: `attr`, `attr.sub`, `attr[filter]`, `attr[filter].sub`. Throws invalidPath. */
export function parsePatchPath(text: string, defs: readonly AttributeDef[]): AttrPath {
  if (text.length > 1000) throw new ScimError(400, "invalidPath", "the path is longer than 1000 characters");
  const tokens = tokenize(text, "invalidPath");
  const first = tokens[0];
  if (first?.kind !== "word") throw new ScimError(400, "invalidPath", `${JSON.stringify(text)} is not a path`);
  const parser = new Parser(tokens.slice(1), "invalidPath");
  const path = parser.path(first.text, defs);
  if (!parser.done()) throw new ScimError(400, "invalidPath", `${JSON.stringify(text)} is not a supported path`);
  return path;
}

/** The object or value at a path's attribute (the extension's under its URN); undefined when absent. */
export function attributeValue(resource: Record<string, unknown>, attr: readonly string[]): unknown {
  let value: unknown = resource;
  for (const name of attr) {
    if (!isPlainObject(value)) return undefined;
    value = value[name];
  }
  return value;
}

/** Whether an item of a multi-valued attribute meets every condition. */
export function itemMatches(item: unknown, conditions: readonly Condition[]): boolean {
  return conditions.every((condition) =>
    valuesAt(isPlainObject(item) ? item : {}, condition.path).some((value) => equal(value, condition.value)),
  );
}

/** The primitive values a path reads from a resource (several for a multi-valued attribute). */
export function valuesAt(resource: Record<string, unknown>, path: AttrPath): unknown[] {
  const value = attributeValue(resource, path.attr);
  if (value === undefined || value === null) return [];
  if (!path.def.multiValued) {
    if (path.sub) return isPlainObject(value) && value[path.sub.name] !== undefined ? [value[path.sub.name]] : [];
    return [value];
  }
  const items = (Array.isArray(value) ? value : []).filter((item) => !path.filter || itemMatches(item, path.filter));
  const sub = path.sub?.name ?? "value";
  return items.flatMap((item) => (isPlainObject(item) && item[sub] !== undefined ? [item[sub]] : []));
}

/** SCIM's eq: strings case-insensitively (caseExact false for every supported attribute). */
export function equal(actual: unknown, expected: FilterValue): boolean {
  if (expected === null) return actual === null || actual === undefined;
  if (typeof expected === "string" && typeof actual === "string")
    return actual.toLowerCase() === expected.toLowerCase();
  return actual === expected;
}

/** Whether a resource meets every condition of a query filter. */
export function matchesFilter(resource: Record<string, unknown>, conditions: readonly Condition[]): boolean {
  return conditions.every((c) => valuesAt(resource, c.path).some((value) => equal(value, c.value)));
}
