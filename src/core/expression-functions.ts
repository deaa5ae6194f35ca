/**
 * The functions of Entra's attribute-mapping expressions that this service evaluates, each with
 * its signature (checked at start-up) and its semantics as Microsoft documents them (examples in
 * test/core/expression.test.ts). Values are what Entra passes around: strings, multi-valued
 * attributes (string lists), booleans (shown as "True"/"False", as .NET prints them) and null.
 */

import { formatDateTime, parseDateFormat } from "./date-format";
import type { Expr } from "./expression-parse";
import { compileRegex, type Regex, type RegexMatch } from "./regex";

export type Value = string | readonly string[] | boolean | number | null;

/** Static types: "any" is an attribute, which may hold one value or several. */
export type Type = "text" | "list" | "bool" | "number" | "any";

/** What a parameter accepts: text (one value), list (one or several), bool, int (a whole number), value (anything). */
type Param = "text" | "list" | "bool" | "int" | "value";

/** A mistake one function's own rules find; `at` is the argument at fault, else the call itself. */
type Problem = { reason: string; at?: Expr };

export interface FunctionDef {
  /** Positional parameters; "?" marks those that may be left out. */
  params: ReadonlyArray<readonly [Param, "?"?]>;
  /** A parameter that repeats after the positional ones (Coalesce, Join, Switch, SelectUniqueValue). */
  rest?: Param;
  minArgs: number;
  result: (args: Type[]) => Type;
  /** Extra start-up checks on the argument expressions; returns a reason and the offending argument. */
  check?: (args: Expr[]) => Problem | null;
  apply: (args: Array<Value | undefined>) => Value;
}

export function accepts(param: Param, type: Type): boolean {
  switch (param) {
    case "value":
    case "list":
      return true;
    case "text":
      return type !== "list";
    case "bool":
      return type === "bool" || type === "text" || type === "any";
    case "int":
      return type === "number" || type === "text" || type === "any";
  }
}

export function paramName(param: Param): string {
  return { text: "a single value", list: "a value", bool: "a condition", int: "a whole number", value: "a value" }[
    param
  ];
}

/** One value as text; null stays null. A multi-valued attribute in a single-value position reads as one line. */
export function toText(value: Value | undefined): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "number") return String(value);
  return value.length > 0 ? value.join(", ") : null;
}

function toList(value: Value | undefined): string[] {
  if (Array.isArray(value)) return [...value];
  const text = toText(value as Value);
  return text === null ? [] : [text];
}

export function toBool(value: Value | undefined): boolean {
  if (typeof value === "boolean") return value;
  return toText(value)?.toLowerCase() === "true";
}

function toInt(value: Value | undefined): number | null {
  if (typeof value === "number") return Math.trunc(value);
  const text = toText(value)?.trim();
  return text !== undefined && /^-?[0-9]+$/.test(text) ? Number(text) : null;
}

export function isPresent(value: Value | undefined): boolean {
  if (Array.isArray(value)) return value.length > 0;
  const text = toText(value as Value);
  return text !== null && text !== "";
}

const str = (value: Value | undefined): string => toText(value) ?? "";

/** Characters with no combining-mark decomposition, from Microsoft's NormalizeDiacritics table. */
const SPELLED: Readonly<Record<string, string>> = {
  æ: "ae",
  Æ: "AE",
  ø: "oe",
  Ø: "OE",
  œ: "oe",
  Œ: "OE",
  ß: "ss",
  ł: "l",
  Ł: "L",
  ı: "i",
};

const same = (type: Type) => () => type;
/** IIF and Switch return one of their value arguments: their common type, else "any". */
const common =
  (...indexes: number[]) =>
  (args: Type[]): Type => {
    const types = new Set(args.filter((_, i) => indexes.includes(i) || (indexes.includes(-1) && i >= 1)));
    return types.size === 1 ? [...types][0]! : "any";
  };

function constant(expr: Expr | undefined): string | null {
  return expr?.kind === "string" ? expr.value : null;
}

/** .NET substitutions in a replacement: $$, $&, $n, ${name}. */
function substitute(replacement: string, match: RegexMatch): string {
  return replacement.replace(/\$(\$|&|\{([A-Za-z_][A-Za-z0-9_]*)\}|[0-9]+)/g, (token, what: string, name?: string) => {
    if (what === "$") return "$";
    if (what === "&") return match.groups[0]!;
    if (name !== undefined) return name in match.named ? (match.named[name] ?? "") : token;
    const index = Number(what);
    return index < match.groups.length ? (match.groups[index] ?? "") : token;
  });
}

function replaceRegex(source: string, regex: Regex, group: string | null, replacement: string): string {
  let out = "";
  let last = 0;
  for (const match of regex.matchAll(source)) {
    const span = group === null ? [match.start, match.end] : match.spans[group];
    if (!span) continue;
    out += source.slice(last, span[0]) + (group === null ? substitute(replacement, match) : replacement);
    last = span[1]!;
  }
  return out + source.slice(last);
}

/** Replace's seven parameters select one of four documented behaviours. */
function replace(args: Array<Value | undefined>, regex: Regex | null, group: string | null): Value {
  const [source, oldValue, , , replacementValue, replacementAttribute, template] = args;
  if (regex === null) {
    const old = str(oldValue);
    if (template !== undefined) return old === "" ? str(template) : str(template).split(old).join(str(source));
    return old === "" ? toText(source) : str(source).split(old).join(str(replacementValue));
  }
  if (replacementAttribute !== undefined) {
    if (isPresent(source)) return toText(source);
    const match = regex.matchAll(str(replacementAttribute)).next().value;
    return group === null ? (match?.groups[0] ?? null) : (match?.named[group] ?? null);
  }
  return replaceRegex(str(source), regex, group, str(replacementValue));
}

function checkReplace(args: Expr[]): Problem | null {
  const [, oldValue, pattern, group, replacementValue, replacementAttribute, template] = args as Expr[];
  const given = (expr: Expr | undefined) => expr !== undefined && expr.kind !== "omitted";
  if (given(oldValue) === given(pattern)) {
    const reason = "Replace needs either oldValue (2nd argument) or regexPattern (3rd), not both";
    return given(pattern) ? { reason, at: pattern! } : { reason };
  }
  if (given(pattern)) {
    const text = constant(pattern);
    if (text === null) return { reason: "regexPattern must be a string constant", at: pattern! };
    let regex: Regex;
    try {
      regex = compileRegex(text);
    } catch (error) {
      return { reason: `regexPattern is not a valid regular expression (${(error as Error).message})`, at: pattern! };
    }
    if (given(group)) {
      const name = constant(group);
      if (name === null || !regex.groupNames.includes(name)) {
        return { reason: `regexGroupName must name a group (?<name>...) of regexPattern`, at: group! };
      }
    }
    if (!given(replacementValue) && !given(replacementAttribute)) {
      return { reason: "a regexPattern needs a replacementValue or a replacementAttributeName", at: pattern! };
    }
  } else if (!given(replacementValue) && !given(template)) {
    return { reason: "oldValue needs a replacementValue (5th argument) or a template (7th)", at: oldValue! };
  }
  return null;
}

function checkCulture(args: Expr[]): Problem | null {
  const culture = constant(args[1]);
  if (culture === null) return null;
  try {
    Intl.getCanonicalLocales(culture);
    return null;
  } catch {
    return { reason: `"${culture}" is not a culture name such as "en-US"`, at: args[1]! };
  }
}

function checkDateFormats(args: Expr[]): Problem | null {
  for (const index of [2, 3]) {
    const format = constant(args[index]);
    const problem = format === null ? null : parseDateFormat(format).problem;
    if (problem) return { reason: problem, at: args[index]! };
  }
  return null;
}

function regexOf(pattern: Value | undefined): Regex | null {
  return typeof pattern === "string" ? compileRegex(pattern) : null;
}

export const FUNCTIONS: Readonly<Record<string, FunctionDef>> = {
  Append: {
    params: [["text"], ["text"]],
    minArgs: 2,
    result: same("text"),
    apply: ([source, suffix]) => str(source) + str(suffix),
  },
  Coalesce: {
    params: [],
    rest: "value",
    minArgs: 1,
    result: (args) => (new Set(args).size === 1 ? args[0]! : "any"),
    apply: (args) => args.find((value) => isPresent(value)) ?? null,
  },
  Count: { params: [["list"]], minArgs: 1, result: same("number"), apply: ([values]) => toList(values).length },
  FormatDateTime: {
    params: [["text"], ["text", "?"], ["text"], ["text"]],
    minArgs: 4,
    result: same("text"),
    check: checkDateFormats,
    apply: ([source, , input, output]) => formatDateTime(toText(source), str(input), str(output)),
  },
  IIF: {
    params: [["bool"], ["value"], ["value"]],
    minArgs: 3,
    result: common(1, 2),
    apply: ([condition, ifTrue, ifFalse]) => (toBool(condition) ? ifTrue : ifFalse) ?? null,
  },
  IsNull: { params: [["value"]], minArgs: 1, result: same("bool"), apply: ([value]) => value === null },
  IsNullOrEmpty: { params: [["value"]], minArgs: 1, result: same("bool"), apply: ([value]) => !isPresent(value) },
  IsPresent: { params: [["value"]], minArgs: 1, result: same("bool"), apply: ([value]) => isPresent(value) },
  Item: {
    params: [["list"], ["int"]],
    minArgs: 2,
    result: same("text"),
    // 1-based: "Item([proxyAddresses], 1) returns the first item".
    apply: ([values, index]) => toList(values)[(toInt(index) ?? 0) - 1] ?? null,
  },
  Join: {
    params: [["text"]],
    rest: "list",
    minArgs: 2,
    result: same("text"),
    // Empty values are skipped: Join(", ", "", [surname], [givenName]) is "Doe, John".
    apply: ([separator, ...sources]) =>
      sources
        .flatMap(toList)
        .filter((value) => value !== "")
        .join(str(separator)),
  },
  Left: {
    params: [["text"], ["int"]],
    minArgs: 2,
    result: same("text"),
    apply: ([source, count]) => {
      const n = toInt(count);
      if (n === null) return null;
      const characters = Array.from(str(source));
      return n < 0 ? str(source) : characters.slice(0, n).join("");
    },
  },
  Mid: {
    params: [["text"], ["int"], ["int"]],
    minArgs: 3,
    result: same("text"),
    apply: ([source, start, length]) => {
      const from = toInt(start);
      const n = toInt(length);
      if (from === null || n === null || from < 1 || n < 0) return null;
      return Array.from(str(source))
        .slice(from - 1, from - 1 + n)
        .join("");
    },
  },
  NormalizeDiacritics: {
    params: [["text"]],
    minArgs: 1,
    result: same("text"),
    apply: ([source]) =>
      str(source)
        .normalize("NFD")
        .replace(/\p{M}/gu, "")
        .replace(/[^\p{ASCII}]/gu, (ch) => SPELLED[ch] ?? ch)
        .normalize("NFC"),
  },
  Not: { params: [["bool"]], minArgs: 1, result: same("bool"), apply: ([source]) => !toBool(source) },
  RemoveDuplicates: {
    params: [["list"]],
    minArgs: 1,
    result: same("list"),
    apply: ([values]) => [...new Set(toList(values))],
  },
  Replace: {
    params: [["text"], ["text", "?"], ["text", "?"], ["text", "?"], ["text", "?"], ["text", "?"], ["text", "?"]],
    minArgs: 7,
    result: same("text"),
    check: checkReplace,
    apply: (args) => replace(args, regexOf(args[2]), typeof args[3] === "string" ? args[3] : null),
  },
  SelectUniqueValue: {
    params: [],
    rest: "text",
    minArgs: 2,
    result: same("text"),
    // Outside the username, where the engine tries each rule against WordPress, the first rule wins.
    apply: (rules) => rules.find((value) => isPresent(value)) ?? null,
  },
  Split: {
    params: [["text"], ["text"]],
    minArgs: 2,
    result: same("list"),
    // Microsoft's example splits "PermissionSetOne, PermissionSetTwo" into two names without the space.
    apply: ([source, delimiter]) =>
      toText(source) === null
        ? []
        : str(source)
            .split(str(delimiter))
            .map((part) => part.trim())
            .filter((part) => part !== ""),
  },
  StripSpaces: {
    params: [["text"]],
    minArgs: 1,
    result: same("text"),
    apply: ([source]) => str(source).replaceAll(" ", ""),
  },
  Switch: {
    params: [["text"], ["value", "?"]],
    rest: "value",
    minArgs: 4,
    result: common(-1),
    check: (args) =>
      args.length % 2 === 0
        ? null
        : { reason: "Switch takes a source, a default, then key/value pairs: an even number of arguments" },
    apply: ([source, fallback, ...pairs]) => {
      // Case-sensitive, and a missing source matches the key "" (Microsoft's advice for empty values).
      const key = str(source);
      for (let i = 0; i + 1 < pairs.length; i += 2) if (str(pairs[i]) === key) return pairs[i + 1] ?? null;
      return fallback ?? null;
    },
  },
  ToLower: {
    params: [["text"], ["text", "?"]],
    minArgs: 1,
    result: same("text"),
    check: checkCulture,
    apply: ([source, culture]) => (culture ? str(source).toLocaleLowerCase(str(culture)) : str(source).toLowerCase()),
  },
  ToUpper: {
    params: [["text"], ["text", "?"]],
    minArgs: 1,
    result: same("text"),
    check: checkCulture,
    apply: ([source, culture]) => (culture ? str(source).toLocaleUpperCase(str(culture)) : str(source).toUpperCase()),
  },
  Trim: { params: [["text"]], minArgs: 1, result: same("text"), apply: ([source]) => str(source).trim() },
  Word: {
    params: [["text"], ["int"], ["text"]],
    minArgs: 3,
    result: same("text"),
    apply: ([source, number, delimiters]) => {
      const n = toInt(number);
      const separators = new Set(str(delimiters));
      const words: string[] = [];
      let word = "";
      for (const ch of str(source)) {
        if (!separators.has(ch)) word += ch;
        else if (word !== "") {
          words.push(word);
          word = "";
        }
      }
      if (word !== "") words.push(word);
      return n === null || n < 1 ? "" : (words[n - 1] ?? "");
    },
  },
};
