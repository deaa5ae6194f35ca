/**
 * Regular expressions from the jobs file (scoping filters' REGEX MATCH, expressions' Replace)
 * run on RE2's linear-time engine (re2js, a pure-JavaScript port of RE2): a match costs time in
 * proportion to the pattern and the text, so no pattern can stall a step the way `(a+)+$` stalls
 * a backtracking engine on "aaa…a!" (each added "a" doubles the work there). RE2 syntax has
 * neither lookaround nor backreferences; a pattern that uses them is refused at start-up.
 */
import { type Matcher, RE2JS } from "re2js";

export const REGEX_ENGINE = "RE2 (re2js, linear time; no lookahead, lookbehind or backreferences)";

export interface RegexMatch {
  start: number;
  end: number;
  /** By group number: 0 is the whole match; null for a group that did not take part. */
  groups: Array<string | null>;
  named: Record<string, string | null>;
  /** Where each named group matched (UTF-16 offsets, as String.slice takes them), null when it did not. */
  spans: Record<string, [number, number] | null>;
}

export interface Regex {
  source: string;
  groupNames: string[];
  /** Whether the pattern matches somewhere in the text (unanchored, as .NET's Regex.IsMatch). */
  test(text: string): boolean;
  /** Every non-overlapping match, left to right (an empty match advances by one character). */
  matchAll(text: string): Generator<RegexMatch>;
}

/** Thrown for a pattern the engine does not accept: its message says what and where. */
export class RegexSyntaxError extends Error {}

/** Patterns come from the jobs file (constants), so they are few: each compiled once. */
const compiled = new Map<string, Regex>();

export function compileRegex(pattern: string): Regex {
  let regex = compiled.get(pattern);
  if (regex === undefined) {
    regex = compile(pattern);
    compiled.set(pattern, regex);
  }
  return regex;
}

function compile(pattern: string): Regex {
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (error) {
    throw new RegexSyntaxError(`${(error as Error).message}; the engine is ${REGEX_ENGINE}`);
  }
  const groupNames = Object.keys(re.namedGroups());
  return {
    source: pattern,
    groupNames,
    test: (text) => re.test(text),
    *matchAll(text) {
      const matcher = re.matcher(text);
      while (matcher.find()) yield snapshot(matcher, groupNames);
    },
  };
}

function snapshot(matcher: Matcher, names: string[]): RegexMatch {
  const groups = Array.from({ length: matcher.groupCount() + 1 }, (_, index) => matcher.group(index));
  const named: RegexMatch["named"] = {};
  const spans: RegexMatch["spans"] = {};
  for (const name of names) {
    named[name] = matcher.group(name);
    const start = matcher.start(name);
    spans[name] = start < 0 ? null : [start, matcher.end(name)];
  }
  return { start: matcher.start(), end: matcher.end(), groups, named, spans };
}
