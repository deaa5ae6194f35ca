/**
 * Patterns from the jobs file run on a linear-time engine (src/core/regex.ts): a pattern that
 * backtracks catastrophically on a backtracking engine cannot stall a step, and a pattern the
 * engine does not support is refused at start-up, saying which engine and why.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { ConfigError } from "../../src/core/errors";
import { compileRegex } from "../../src/core/regex";
import { parseJobsFile } from "../../src/sync/jobs";

const root = path.resolve(__dirname, "../..");

/**
 * `^(a+)+$` against 50,000 "a"s and a "!": a backtracking engine tries every way to split the
 * "a"s (2^50000) before failing. The evaluation runs in a child process on the built code (dist/,
 * built by `npm test`), so a stall there fails this test at the guard below instead of freezing
 * the test worker. The guard only catches a stall; nothing here measures speed.
 */
const EVALUATE_IN_CHILD = `
  const { passesScopingFilters } = require("./dist/src/core/scoping.js");
  const { parseMapping, evaluateExpression } = require("./dist/src/core/expression.js");
  const evil = "a".repeat(50000) + "!";
  const user = { id: "u1", department: evil, jobTitle: evil };
  const clause = (operator) => [[{ attribute: "department", operator, value: "^(a+)+$" }]];
  const replaced = evaluateExpression(parseMapping('Replace([jobTitle], , "(a+)+!", , "x", , )'), user);
  process.stdout.write(JSON.stringify({
    match: passesScopingFilters(clause("REGEX_MATCH"), user),
    noMatch: passesScopingFilters(clause("NOT_REGEX_MATCH"), user),
    replaced,
  }));
`;
const STALL_GUARD_MS = 45_000;

it("evaluates a catastrophic-backtracking pattern against a long directory string without stalling", async () => {
  const output = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      ["-e", EVALUATE_IN_CHILD],
      { cwd: root, timeout: STALL_GUARD_MS, killSignal: "SIGKILL", maxBuffer: 1 << 20 },
      (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)),
    );
  });
  expect(JSON.parse(output)).toEqual({ match: false, noMatch: true, replaced: "x" });
}, 60_000);

describe("patterns the engine does not support", () => {
  const scoped = (value: string) => ({
    jobs: [
      { id: "staff", source: { scopingFilters: [[{ attribute: "department", operator: "REGEX_MATCH", value }]] } },
    ],
  });
  const mapped = (pattern: string) => ({
    jobs: [{ id: "staff", fields: { email: "mail", name: `Replace([displayName], , "${pattern}", , "x", , )` } }],
  });

  function startupError(file: unknown): string {
    try {
      parseJobsFile(file);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
    throw new Error("expected the jobs file to be refused");
  }

  it.each([
    ["a lookahead", "^(?!admin)", "(?!"],
    ["a backreference", "(a)\\\\1", "\\1"],
    ["a lookbehind", "(?<=@)contoso", "(?<="],
  ])("refuses %s in a scoping filter at start-up, naming the field and the engine", (_, pattern, construct) => {
    const message = startupError(scoped(JSON.parse(`"${pattern}"`)));
    expect(message).toContain('job "staff": source.scopingFilters[0][0].value is not a valid regular expression');
    expect(message).toContain(construct);
    expect(message).toContain("RE2 (re2js, linear time; no lookahead, lookbehind or backreferences)");
  });

  it("refuses a lookahead in a Replace pattern of a field mapping at start-up", () => {
    const message = startupError(mapped("^(?=x)"));
    expect(message).toMatch(/fields\.name.*regexPattern is not a valid regular expression/s);
    expect(message).toContain("RE2 (re2js");
  });

  it("accepts the RE2 syntax the documented examples use: named groups, classes, Unicode", () => {
    const phone = compileRegex("\\+(?<isdCode>\\d* )(?<phoneNumber>\\d{10})");
    expect(phone.groupNames).toEqual(["isdCode", "phoneNumber"]);
    const [match] = [...phone.matchAll("call +91 9998887777 now")];
    expect(match).toMatchObject({ start: 5, end: 19, named: { phoneNumber: "9998887777" } });
    expect(compileRegex("^\\p{L}+$").test("Ünïcødé")).toBe(true);
    expect([...compileRegex("x*").matchAll("ab")].map((m) => m.start)).toEqual([0, 1, 2]);
  });
});
