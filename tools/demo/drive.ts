/**
 * Drives a run the way a scheduler would: GET the start link, then GET the continue link until the
 * run settles, drawing the CLI's progress bar from each answer.
 */
import { makeProgress } from "../../src/cli/progress";
import { formatSummary } from "../../src/cli/run";
import type { RunSummary } from "../../src/core/runs";

const SETTLED = new Set(["completed", "failed", "cancelled", "awaiting_approval"]);

interface LinkAnswer {
  started?: boolean;
  advanced?: boolean;
  reason?: string;
  run: RunSummary;
}

export async function driveByLinks(
  links: { start: string; continue: string },
  /** Users the run will see, for the bar when Graph gives no count. */
  expected: number,
  write: (text: string) => void,
  /** The whole run as the admin API has it: the links show progress only (no job, mode or error). */
  summary: (runId: string) => Promise<RunSummary>,
): Promise<RunSummary> {
  const began = Date.now();
  const start = await get(links.start);
  write(`GET start link -> ${start.started ? "started" : start.reason} run ${start.run.id}\n`);
  const progress = makeProgress(process.stderr, { startedAt: began, lineEveryMs: 2000 });
  let run = start.run;
  let calls = 0;
  while (!SETTLED.has(run.state)) {
    const answer = await get(links.continue);
    calls++;
    run = answer.run;
    progress.update({ ...run, totalEstimate: run.totalEstimate ?? expected });
    if (!answer.advanced && answer.reason === "busy") await new Promise((resolve) => setTimeout(resolve, 500));
  }
  progress.finish();
  const whole = await summary(run.id);
  write(`${calls} continue calls\n${formatSummary(whole, Date.now() - began, calls)}\n`);
  return whole;
}

async function get(url: string): Promise<LinkAnswer> {
  const res = await fetch(url);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${new URL(url).pathname} answered ${res.status}: ${text}`);
  return JSON.parse(text) as LinkAnswer;
}
