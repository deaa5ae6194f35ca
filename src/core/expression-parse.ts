/**
 * Parsing Entra's attribute-mapping expressions ("Reference for writing expressions for attribute
 * mappings in Microsoft Entra ID"): functions `Name(arg, ...)`, attributes `[name]`, string constants
 * `"..."` with `\"` and `\\` escapes, numbers, and the comparisons IIF conditions use (`=`, `<>`, `>`,
 * `>=`, `<`, `<=`). An argument may be left out (`Replace([mail], "@contoso.com", , , "", , )`).
 * Positions are 1-based character offsets into the expression, for messages people can act on.
 */

export type CompareOperator = "=" | "<>" | ">" | ">=" | "<" | "<=";

export type Expr =
  | { kind: "attribute"; name: string; position: number }
  | { kind: "string"; value: string; position: number }
  | { kind: "number"; value: number; position: number }
  /** An argument left out between commas. */
  | { kind: "omitted"; position: number }
  | { kind: "call"; name: string; args: Expr[]; position: number }
  | { kind: "compare"; operator: CompareOperator; left: Expr; right: Expr; position: number };

/** A mistake in an expression, at a 1-based position. */
export class ExpressionError extends Error {
  constructor(
    readonly position: number,
    readonly reason: string,
  ) {
    super(`at position ${position}: ${reason}`);
    this.name = "ExpressionError";
  }
}

const OPERATORS: readonly CompareOperator[] = ["<>", ">=", "<=", "=", ">", "<"];
/** Attribute names as Graph spells them, dotted for nested values ("manager.mail"). */
const ATTRIBUTE_NAME = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$/;
/** Entra's own limit on an expression is not documented; this only keeps a hostile file from costing much. */
const MAX_DEPTH = 32;

export function parseExpression(text: string): Expr {
  const parser = new Parser(text);
  const expr = parser.expression(0);
  parser.skipSpace();
  if (!parser.atEnd()) parser.fail(`unexpected ${parser.describeNext()} after a complete expression`);
  return expr;
}

class Parser {
  private at = 0;

  constructor(private readonly text: string) {}

  fail(reason: string, at = this.at): never {
    throw new ExpressionError(at + 1, reason);
  }

  atEnd(): boolean {
    return this.at >= this.text.length;
  }

  skipSpace(): void {
    while (!this.atEnd() && /\s/.test(this.text[this.at]!)) this.at++;
  }

  describeNext(): string {
    return this.atEnd() ? "end of the expression" : `"${this.text[this.at]}"`;
  }

  expression(depth: number): Expr {
    if (depth > MAX_DEPTH) this.fail(`functions nested more than ${MAX_DEPTH} deep`);
    const left = this.operand(depth);
    this.skipSpace();
    const operator = OPERATORS.find((op) => this.text.startsWith(op, this.at));
    if (operator === undefined) return left;
    const position = this.at + 1;
    this.at += operator.length;
    const right = this.operand(depth);
    return { kind: "compare", operator, left, right, position };
  }

  private operand(depth: number): Expr {
    this.skipSpace();
    const start = this.at;
    const next = this.text[this.at];
    if (next === "[") return this.attribute();
    if (next === '"') return this.string();
    if (next !== undefined && /[-0-9]/.test(next)) return this.number();
    if (next !== undefined && /[A-Za-z]/.test(next)) return this.call(depth);
    return this.fail(
      `expected an attribute [name], a "string", a number or a function, got ${this.describeNext()}`,
      start,
    );
  }

  private attribute(): Expr {
    const start = this.at;
    const end = this.text.indexOf("]", start);
    if (end < 0) this.fail(`"[" is never closed by "]"`, start);
    const name = this.text.slice(start + 1, end).trim();
    if (!ATTRIBUTE_NAME.test(name)) {
      this.fail(`[${name}] is not an attribute name (letters, digits and _, dotted for nested values)`, start);
    }
    this.at = end + 1;
    return { kind: "attribute", name, position: start + 1 };
  }

  private string(): Expr {
    const start = this.at;
    let value = "";
    for (this.at++; !this.atEnd(); this.at++) {
      const ch = this.text[this.at]!;
      if (ch === '"') {
        this.at++;
        return { kind: "string", value, position: start + 1 };
      }
      if (ch === "\\") {
        const escaped = this.text[this.at + 1];
        // The documented escapes are \" and \\; a backslash before anything else stays itself.
        if (escaped === '"' || escaped === "\\") {
          value += escaped;
          this.at++;
          continue;
        }
      }
      value += ch;
    }
    return this.fail("the string is never closed by a double quote", start);
  }

  private number(): Expr {
    const match = /^-?[0-9]+(\.[0-9]+)?/.exec(this.text.slice(this.at));
    if (!match) return this.fail(`expected a number, got ${this.describeNext()}`);
    const position = this.at + 1;
    this.at += match[0].length;
    return { kind: "number", value: Number(match[0]), position };
  }

  private call(depth: number): Expr {
    const start = this.at;
    const name = /^[A-Za-z][A-Za-z0-9]*/.exec(this.text.slice(this.at))![0];
    this.at += name.length;
    this.skipSpace();
    if (this.text[this.at] !== "(") {
      this.fail(`expected "(" after the function name ${name} (attributes are written [${name}])`);
    }
    this.at++;
    const args: Expr[] = [];
    this.skipSpace();
    if (this.text[this.at] === ")") {
      this.at++;
      return { kind: "call", name, args, position: start + 1 };
    }
    for (;;) {
      this.skipSpace();
      const next = this.text[this.at];
      args.push(next === "," || next === ")" ? { kind: "omitted", position: this.at + 1 } : this.expression(depth + 1));
      this.skipSpace();
      if (this.text[this.at] === ",") {
        this.at++;
        continue;
      }
      if (this.text[this.at] === ")") {
        this.at++;
        return { kind: "call", name, args, position: start + 1 };
      }
      this.fail(`expected "," or ")" in the arguments of ${name}, got ${this.describeNext()}`);
    }
  }
}
