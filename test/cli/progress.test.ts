/** The CLI's progress bar, summary and exit codes, without a process. */
import { formatProgress, makeProgress } from "../../src/cli/progress";
import { exitCodeOf, formatSummary } from "../../src/cli/run";
import { formatTable } from "../../src/cli/table";
import type { RunSummary } from "../../src/sync/service";

function aRun(overrides: Partial<RunSummary> = {}): RunSummary {
  return {
    id: "6f1c2a3b-0000-4000-8000-000000000001",
    job: "staff",
    state: "listing",
    trigger: "cli",
    dryRun: false,
    mode: "full",
    step: 3,
    counts: {
      seen: 50,
      created: 40,
      updated: 5,
      unchanged: 5,
      reactivated: 0,
      deactivated: 0,
      deleted: 0,
      skipped: 0,
      failed: 0,
    },
    totalEstimate: 200,
    createdAt: "2026-03-10T12:00:00.000Z",
    startedAt: "2026-03-10T12:00:00.000Z",
    finishedAt: null,
    progressedAt: "2026-03-10T12:00:10.000Z",
    lastError: null,
    ...overrides,
  };
}

describe("CLI progress and summary", () => {
  it("shows users done of the total, the rate and the ETA", () => {
    expect(formatProgress(aRun(), 10_000, 10)).toBe("[###-------]  50/200 users  5.0 users/s  ETA 30.0s  listing");
    expect(formatProgress(aRun({ totalEstimate: null }), 10_000)).toBe("50 users  5.0 users/s  listing");
  });

  it("redraws one line on a terminal and writes plain lines elsewhere", () => {
    const tty: string[] = [];
    const bar = makeProgress({ write: (t) => tty.push(t), isTTY: true, columns: 100 }, { now: () => 0, startedAt: 0 });
    bar.update(aRun());
    bar.update(aRun({ counts: { ...aRun().counts, seen: 60 } }));
    bar.finish();
    expect(tty.slice(0, 2).every((t) => t.startsWith("\r\x1b[2K") && !t.includes("\n"))).toBe(true);
    expect(tty.at(-1)).toBe("\n");

    const lines: string[] = [];
    let now = 0;
    const plain = makeProgress({ write: (t) => lines.push(t), isTTY: false }, { now: () => now, lineEveryMs: 5000 });
    plain.update(aRun());
    now = 1000;
    plain.update(aRun()); // too soon, same state: nothing
    plain.update(aRun({ state: "reconciling" })); // state changed: a line
    now = 7000;
    plain.update(aRun({ state: "reconciling" }));
    expect(lines).toHaveLength(3);
    expect(lines.every((line) => line.endsWith("\n") && !line.includes("\r"))).toBe(true);
  });

  it("exits 0 completed, 2 awaiting approval, 1 failed or cancelled", () => {
    expect(exitCodeOf(aRun({ state: "completed" }))).toBe(0);
    expect(exitCodeOf(aRun({ state: "awaiting_approval" }))).toBe(2);
    expect(exitCodeOf(aRun({ state: "failed" }))).toBe(1);
    expect(exitCodeOf(aRun({ state: "cancelled" }))).toBe(1);
    expect(formatSummary(aRun({ state: "awaiting_approval" }), 1000, 3)).toContain("/approve");
    expect(formatSummary(aRun({ state: "failed", lastError: "Graph said no" }), 1000, 3)).toContain(
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
