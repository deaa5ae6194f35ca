/**
 * A job's field mapping: either the short form "mail|userPrincipalName" (the first non-empty
 * attribute) or an expression in Entra's attribute-mapping syntax ("Join(\" \", [givenName], [surname])").
 * Both compile to one expression tree, checked at start-up (checkExpression) and evaluated per user
 * by evaluateExpression: pure, no I/O.
 */
import { accepts, FUNCTIONS, paramName, type Type, toText, type Value } from "./expression-functions";
import { type Expr, ExpressionError, parseExpression } from "./expression-parse";
import type { GraphUser } from "./users";

export type { Value } from "./expression-functions";
export type { Expr } from "./expression-parse";
export { ExpressionError } from "./expression-parse";

/**
 * Source attribute names Entra's provisioning shows, where Graph spells them differently, so
 * Microsoft's examples ([objectId], [extensionAttribute5], [mobile]) work as written.
 */
const ALIASES: Readonly<Record<string, string>> = {
  objectid: "id",
  mobile: "mobilePhone",
  telephonenumber: "businessPhones",
  facsimiletelephonenumber: "faxNumber",
  physicaldeliveryofficename: "officeLocation",
  ...Object.fromEntries(
    Array.from({ length: 15 }, (_, i) => [
      `extensionattribute${i + 1}`,
      `onPremisesExtensionAttributes.extensionAttribute${i + 1}`,
    ]),
  ),
};

/** The Graph property path an attribute name reads ("extensionAttribute1" -> "onPremisesExtensionAttributes.extensionAttribute1"). */
export function graphPath(name: string): string {
  return ALIASES[name.toLowerCase()] ?? name;
}

/**
 * Attribute name -> the Graph path's parts, resolved once per name: reads happen per user and per
 * field, so a re-sync of 10,000 unchanged users would otherwise split and look up each one again.
 */
const resolvedPaths = new Map<string, string[]>();
function pathParts(name: string): string[] {
  let parts = resolvedPaths.get(name);
  if (parts === undefined) {
    parts = graphPath(name).split(".");
    resolvedPaths.set(name, parts);
  }
  return parts;
}

/** The short form is what has none of an expression's brackets, parentheses or quotes. */
export function isShortForm(text: string): boolean {
  return !/[[("]/.test(text);
}

/** The short form with the spaces around "|" taken out ("mail | upn" -> "mail|upn"); an expression as written. */
export function normaliseMapping(text: string): string {
  return isShortForm(text)
    ? text
        .split("|")
        .map((name) => name.trim())
        .join("|")
    : text.trim();
}

/** Parses either form; throws ExpressionError with a position. */
export function parseMapping(text: string): Expr {
  if (!isShortForm(text)) return parseExpression(text);
  const attributes: Expr[] = [];
  let at = 0;
  for (const part of text.split("|")) {
    const name = part.trim();
    const position = at + (name ? part.indexOf(name) : 0) + 1;
    if (!/^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$/.test(name)) {
      throw new ExpressionError(
        position,
        `expected a Graph attribute name, got ${JSON.stringify(name)} (the short form is "mail|userPrincipalName"; expressions use [attribute], "text" and Function(...))`,
      );
    }
    attributes.push({ kind: "attribute", name, position });
    at += part.length + 1;
  }
  return attributes.length === 1 ? attributes[0]! : { kind: "call", name: "Coalesce", args: attributes, position: 1 };
}

/**
 * Type-checks an expression: known functions (exact case, as Entra's syntax is case-sensitive), the
 * number of arguments, what each argument may be, and each function's own rules (Replace's modes,
 * regexes, date formats). SelectUniqueValue only at the top, as Entra requires. Returns its type.
 */
export function checkExpression(expr: Expr, top = true): Type {
  switch (expr.kind) {
    case "attribute":
      return "any";
    case "string":
      return "text";
    case "number":
      return "number";
    case "omitted":
      throw new ExpressionError(expr.position, "an argument is missing here");
    case "compare": {
      for (const side of [expr.left, expr.right]) {
        const type = checkExpression(side, false);
        if (type === "list") throw new ExpressionError(side.position, "a list of values cannot be compared");
      }
      return "bool";
    }
    case "call":
      return checkCall(expr, top);
  }
}

function checkCall(expr: Extract<Expr, { kind: "call" }>, top: boolean): Type {
  const def = Object.hasOwn(FUNCTIONS, expr.name) ? FUNCTIONS[expr.name] : undefined;
  if (def === undefined) {
    const known = Object.keys(FUNCTIONS);
    const hint = known.find((name) => name.toLowerCase() === expr.name.toLowerCase());
    throw new ExpressionError(
      expr.position,
      hint
        ? `unknown function ${expr.name} (function names are case-sensitive: ${hint})`
        : `unknown function ${expr.name} (known: ${known.join(", ")})`,
    );
  }
  if (expr.name === "SelectUniqueValue" && !top) {
    throw new ExpressionError(expr.position, "SelectUniqueValue must be the whole expression, not nested");
  }
  const max = def.rest === undefined ? def.params.length : Number.POSITIVE_INFINITY;
  if (expr.args.length < def.minArgs || expr.args.length > max) {
    const count =
      max === def.minArgs
        ? `${max}`
        : max === Number.POSITIVE_INFINITY
          ? `at least ${def.minArgs}`
          : `${def.minArgs} to ${max}`;
    throw new ExpressionError(expr.position, `${expr.name} takes ${count} arguments, got ${expr.args.length}`);
  }
  const types = expr.args.map((arg, index) => {
    const [param, optional] = def.params[index] ?? [def.rest!];
    if (arg.kind === "omitted") {
      if (optional !== "?")
        throw new ExpressionError(arg.position, `argument ${index + 1} of ${expr.name} is required`);
      return "text" as Type;
    }
    const type = checkExpression(arg, false);
    if (!accepts(param, type)) {
      throw new ExpressionError(
        arg.position,
        `argument ${index + 1} of ${expr.name} must be ${paramName(param)}, not ${describe(type)}`,
      );
    }
    return type;
  });
  const problem = def.check?.(expr.args);
  if (problem) throw new ExpressionError(problem.at?.position ?? expr.position, problem.reason);
  return def.result(types);
}

function describe(type: Type): string {
  return {
    text: "text",
    list: "a list of values (Split)",
    bool: "a condition",
    number: "a number",
    any: "an attribute",
  }[type];
}

/** The attributes an expression reads, as Graph property paths. */
export function attributesIn(expr: Expr): string[] {
  switch (expr.kind) {
    case "attribute":
      return [graphPath(expr.name)];
    case "compare":
      return [...attributesIn(expr.left), ...attributesIn(expr.right)];
    case "call":
      return expr.args.flatMap(attributesIn);
    default:
      return [];
  }
}

export function evaluateExpression(expr: Expr, user: GraphUser): Value {
  switch (expr.kind) {
    case "attribute":
      return readParts(user, pathParts(expr.name));
    case "string":
    case "number":
      return expr.value;
    case "omitted":
      return null;
    case "compare":
      return compare(expr.operator, evaluateExpression(expr.left, user), evaluateExpression(expr.right, user));
    case "call":
      return FUNCTIONS[expr.name]!.apply(
        expr.args.map((arg) => (arg.kind === "omitted" ? undefined : evaluateExpression(arg, user))),
      );
  }
}

/**
 * Entra fails an IIF whose attribute is empty; here a missing value compares as "" (Switch's
 * documented treatment), which is what the documented workarounds compute.
 */
function compare(operator: string, leftValue: Value, rightValue: Value): boolean {
  const left = toText(leftValue) ?? "";
  const right = toText(rightValue) ?? "";
  if (operator === "=") return left === right;
  if (operator === "<>") return left !== right;
  const numeric = /^\s*-?[0-9]+(\.[0-9]+)?\s*$/;
  const order =
    numeric.test(left) && numeric.test(right) ? Number(left) - Number(right) : left < right ? -1 : left > right ? 1 : 0;
  return operator === ">" ? order > 0 : operator === ">=" ? order >= 0 : operator === "<" ? order < 0 : order <= 0;
}

/**
 * One attribute of a Graph user. Nested values by path ("manager.mail",
 * "customSecurityAttributes.Engineering.Project"); Graph's casing whatever the job wrote; text
 * trimmed and "" read as missing; several values (otherMails, a multi-valued extension) as a list;
 * a reference object ([manager]) as its id.
 */
export function readAttribute(user: GraphUser, path: string): Value {
  return readParts(user, path.split("."));
}

function readParts(user: GraphUser, parts: readonly string[]): Value {
  let value: unknown = user;
  for (const part of parts) {
    if (value === null || typeof value !== "object" || Array.isArray(value)) return null;
    value = property(value as Record<string, unknown>, part);
  }
  return asValue(value);
}

function asValue(value: unknown): Value {
  if (typeof value === "string") return value.trim() || null;
  // Graph's own booleans keep JSON's spelling ("true"), as the short form always wrote them.
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) {
    const items = value.map(asValue).flatMap((item) => (typeof item === "string" ? [item] : []));
    return items.length > 0 ? items : null;
  }
  if (value !== null && typeof value === "object" && typeof (value as { id?: unknown }).id === "string") {
    return (value as { id: string }).id;
  }
  return null;
}

function property(object: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(object, name)) return object[name];
  const lower = name.toLowerCase();
  const key = Object.keys(object).find((candidate) => candidate.toLowerCase() === lower);
  return key === undefined ? undefined : object[key];
}
