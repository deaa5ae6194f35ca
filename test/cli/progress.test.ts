/** The CLI's progress bar, summary and exit codes, without a process. */
import { formatProgress, makeProgress } from "../../src/cli/progress";
import { exitCodeOf, formatSummary } from "../../src/cli/run";
import { formatTable } from "../../src/cli/table";
import type { RunSummary } from "../../src/core/runs";
import { aRun } from "../helpers/builders";

/** A CLI run three steps in: 50 of about 200 users seen, ten seconds after it started. */
function aCliRun(overrides: Partial<RunSummary> = {}): RunSummary {
  return aRun()
    .withId("6f1c2a3b-0000-4000-8000-000000000001")
    .forJob("staff")
    .withTrigger("cli")
    .withStep(3)
    .withCounts({ seen: 50, created: 40, updated: 5, unchanged: 5 })
    .withTotalEstimate(200)
    .with({
      createdAt: "2026-03-10T12:00:00.000Z",
      startedAt: "2026-03-10T12:00:00.000Z",
      progressedAt: "2026-03-10T12:00:10.000Z",
      ...overrides,
    })
    .build();
}

describe("CLI progress and summary", () => {
  it("shows users done of the total, the rate and the ETA", () => {
    expect(formatProgress(aCliRun(), 10_000, 10)).toBe("[###-------]  50/200 users  5.0 users/s  ETA 30.0s  listing");
    expect(formatProgress(aCliRun({ totalEstimate: null }), 10_000)).toBe("50 users  5.0 users/s  listing");
  });

  it("redraws one line on a terminal and writes plain lines elsewhere", () => {
    const tty: string[] = [];
    const bar = makeProgress({ write: (t) => tty.push(t), isTTY: true, columns: 100 }, { now: () => 0, startedAt: 0 });
    bar.update(aCliRun());
    bar.update(aCliRun({ counts: { ...aCliRun().counts, seen: 60 } }));
    bar.finish();
    expect(tty.slice(0, 2).every((t) => t.startsWith("\r\x1b[2K") && !t.includes("\n"))).toBe(true);
    expect(tty.at(-1)).toBe("\n");

    const lines: string[] = [];
    let now = 0;
    const plain = makeProgress({ write: (t) => lines.push(t), isTTY: false }, { now: () => now, lineEveryMs: 5000 });
    plain.update(aCliRun());
    now = 1000;
    plain.update(aCliRun()); // too soon, same state: nothing
    plain.update(aCliRun({ state: "reconciling" })); // state changed: a line
    now = 7000;
    plain.update(aCliRun({ state: "reconciling" }));
    expect(lines).toHaveLength(3);
    expect(lines.every((line) => line.endsWith("\n") && !line.includes("\r"))).toBe(true);
  });

  it("exits 0 completed, 2 awaiting approval, 1 failed or cancelled", () => {
    expect(exitCodeOf(aCliRun({ state: "completed" }))).toBe(0);
    expect(exitCodeOf(aCliRun({ state: "awaiting_approval" }))).toBe(2);
    expect(exitCodeOf(aCliRun({ state: "failed" }))).toBe(1);
    expect(exitCodeOf(aCliRun({ state: "cancelled" }))).toBe(1);
    expect(formatSummary(aCliRun({ state: "awaiting_approval" }), 1000, 3)).toContain("/approve");
    expect(formatSummary(aCliRun({ state: "failed", lastError: "Graph said no" }), 1000, 3)).toContain(
      "last error: Graph said no",
    );
  });

  it("aligns table columns, numbers to the right", () => {
    expect(
      formatTable(
        ["JOB", "SEEN"],
        [
          ["a", "5"],
          ["longer", "120"],
        ],
      ),
    ).toBe("JOB     SEEN\na          5\nlonger   120");
  });
});
