/**
 * Progress of a foreground run on stderr: a bar redrawn in place on a terminal (users done of the
 * total Graph announced, rate, ETA), plain lines every few seconds otherwise (CI logs, pipes).
 */

import type { RunSummary } from "../core/runs";
import { formatDuration } from "./table";

export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface Progress {
  update(run: RunSummary): void;
  /** Ends the bar's line (terminal) so what follows starts on a fresh line. */
  finish(): void;
}

/** Users a run has dealt with so far: every listed user is itemised once (created, unchanged, skipped, ...). */
export function usersDone(run: RunSummary): number {
  return run.counts.seen;
}

/** One progress line: "[#####-----]  45/130 users  12.3 users/s  ETA 7.0s  listing" (no bar without a total). */
export function formatProgress(run: RunSummary, elapsedMs: number, barWidth = 24): string {
  const done = usersDone(run);
  const total = run.totalEstimate;
  const rate = elapsedMs > 0 ? done / (elapsedMs / 1000) : 0;
  const parts: string[] = [];
  if (total !== null && total > 0) {
    const fraction = Math.min(1, done / total);
    const filled = Math.round(fraction * barWidth);
    parts.push(`[${"#".repeat(filled)}${"-".repeat(barWidth - filled)}]`, `${done}/${total} users`);
  } else {
    parts.push(`${done} users`);
  }
  parts.push(`${rate.toFixed(1)} users/s`);
  if (total !== null && total > done && rate > 0) parts.push(`ETA ${formatDuration(((total - done) / rate) * 1000)}`);
  parts.push(run.state === "reconciling" ? "reconciling removals" : run.state);
  return parts.join("  ");
}

export function makeProgress(
  out: ProgressOutput,
  options: { now?: () => number; lineEveryMs?: number; startedAt?: number } = {},
): Progress {
  const now = options.now ?? Date.now;
  const started = options.startedAt ?? now();
  const every = options.lineEveryMs ?? 5000;
  let lastLine = Number.NEGATIVE_INFINITY;
  let lastState: string | null = null;
  let drawn = false;
  return {
    update(run) {
      const line = formatProgress(run, now() - started);
      if (out.isTTY) {
        const width = Math.max(20, (out.columns ?? 80) - 1);
        out.write(`\r\x1b[2K${line.slice(0, width)}`);
        drawn = true;
        return;
      }
      // Not a terminal: a line every few seconds, and whenever the state changes.
      if (now() - lastLine >= every || run.state !== lastState) {
        out.write(`${line}\n`);
        lastLine = now();
        lastState = run.state;
      }
    },
    finish() {
      if (out.isTTY && drawn) out.write("\n");
      drawn = false;
    },
  };
}
