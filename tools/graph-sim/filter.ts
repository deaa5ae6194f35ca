/**
 * The subset of OData $filter that Graph supports on /users, with Graph's split between default
 * and advanced queries (aad-advanced-queries.md): `ne`, `not` and `endsWith` (mail and
 * userPrincipalName only) need ConsistencyLevel: eventual plus $count=true.
 */
import type { SimUser } from "./users";

export class FilterError extends Error {}

type Literal = string | number | boolean | null;
type Predicate = (user: SimUser) => boolean;

export interface ParsedFilter {
  test: Predicate;
  advanced: boolean;
}

const FILTERABLE = new Set([
  "id",
  "displayName",
  "givenName",
  "surname",
  "mail",
  "userPrincipalName",
  "department",
  "jobTitle",
  "accountEnabled",
  "userType",
  "employeeId",
]);
const ENDS_WITH_ATTRS = new Set(["mail", "userPrincipalName"]);

type Token = { kind: "str"; value: string } | { kind: "word"; value: string } | { kind: "punct"; value: string };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === " ") i++;
    else if ("(),".includes(c)) tokens.push({ kind: "punct", value: text[i++]! });
    else if (c === "'") {
      let value = "";
      i++;
      for (;;) {
        if (i >= text.length) throw new FilterError("unterminated string literal");
        if (text[i] === "'" && text[i + 1] === "'") {
          value += "'";
          i += 2;
        } else if (text[i] === "'") {
          i++;
          break;
        } else value += text[i++];
      }
      tokens.push({ kind: "str", value });
    } else {
      const m = /^[A-Za-z0-9_.$/:+-]+/.exec(text.slice(i));
      if (!m) throw new FilterError(`unexpected '${c}'`);
      tokens.push({ kind: "word", value: m[0] });
      i += m[0].length;
    }
  }
  return tokens;
}

function compare(a: unknown, b: Literal): number | null {
  if (a === null || a === undefined || b === null) return null;
  if (typeof a === "string" && typeof b === "string") return a.toLowerCase().localeCompare(b.toLowerCase());
  return a === b ? 0 : null;
}

function equals(a: unknown, b: Literal): boolean {
  if (b === null) return a === null || a === undefined;
  return compare(a, b) === 0;
}

export function parseFilter(text: string): ParsedFilter {
  const tokens = tokenize(text);
  let pos = 0;
  let advanced = false;
  const peek = () => tokens[pos];
  const isWord = (w: string) => peek()?.kind === "word" && peek()!.value.toLowerCase() === w;
  const expect = (value: string) => {
    const t = tokens[pos++];
    if (t?.value !== value) throw new FilterError(`expected '${value}'`);
  };
  const attribute = (): string => {
    const t = tokens[pos++];
    if (t?.kind !== "word" || !FILTERABLE.has(t.value)) throw new FilterError(`unsupported property '${t?.value}'`);
    return t.value;
  };
  const literal = (): Literal => {
    const t = tokens[pos++];
    if (!t || t.kind === "punct") throw new FilterError("expected a literal");
    if (t.kind === "str") return t.value;
    if (t.value === "true" || t.value === "false") return t.value === "true";
    if (t.value === "null") return null;
    if (/^-?\d+(\.\d+)?$/.test(t.value)) return Number(t.value);
    throw new FilterError(`unexpected '${t.value}'`);
  };
  const get = (user: SimUser, attr: string) => (user as unknown as Record<string, unknown>)[attr];

  const primary = (): Predicate => {
    if (peek()?.value === "(") {
      pos++;
      const inner = orExpr();
      expect(")");
      return inner;
    }
    const fn = peek()?.value.toLowerCase();
    if ((fn === "startswith" || fn === "endswith") && tokens[pos + 1]?.value === "(") {
      pos += 2;
      const attr = attribute();
      expect(",");
      const value = literal();
      expect(")");
      if (typeof value !== "string") throw new FilterError(`${fn} needs a string`);
      const needle = value.toLowerCase();
      if (fn === "endswith") {
        if (!ENDS_WITH_ATTRS.has(attr)) throw new FilterError(`endsWith is not supported on '${attr}'`);
        advanced = true;
        return (u) =>
          String(get(u, attr) ?? "\u0000")
            .toLowerCase()
            .endsWith(needle);
      }
      return (u) =>
        String(get(u, attr) ?? "\u0000")
          .toLowerCase()
          .startsWith(needle);
    }
    const attr = attribute();
    const op = tokens[pos++]?.value.toLowerCase();
    if (op === "in") {
      expect("(");
      const values = [literal()];
      while (peek()?.value === ",") {
        pos++;
        values.push(literal());
      }
      expect(")");
      if (values.length > 15) throw new FilterError("too many expressions in 'in'");
      return (u) => values.some((v) => equals(get(u, attr), v));
    }
    const value = literal();
    switch (op) {
      case "eq":
        return (u) => equals(get(u, attr), value);
      case "ne":
        advanced = true;
        return (u) => !equals(get(u, attr), value);
      case "ge":
        return (u) => (compare(get(u, attr), value) ?? -1) >= 0;
      case "le":
        return (u) => (compare(get(u, attr), value) ?? 1) <= 0;
      default:
        throw new FilterError(`unsupported operator '${op}'`);
    }
  };
  const unary = (): Predicate => {
    if (isWord("not")) {
      pos++;
      advanced = true;
      const inner = unary();
      return (u) => !inner(u);
    }
    return primary();
  };
  const andExpr = (): Predicate => {
    let left = unary();
    while (isWord("and")) {
      pos++;
      const l = left;
      const r = unary();
      left = (u) => l(u) && r(u);
    }
    return left;
  };
  const orExpr = (): Predicate => {
    let left = andExpr();
    while (isWord("or")) {
      pos++;
      const l = left;
      const r = andExpr();
      left = (u) => l(u) || r(u);
    }
    return left;
  };

  const test = orExpr();
  if (pos !== tokens.length) throw new FilterError(`unexpected '${tokens[pos]?.value}'`);
  return { test, advanced };
}
