/**
 * `entra-wp-sync run <job> [--dry-run]`: drives one run to its end in the foreground. Starts a run
 * (trigger "cli"), or attaches to the job's active run, and advances it step after step; "busy"
 * (a replica's driver or a continue call holds the lease) means wait briefly and ask again.
 * Exit code: 0 completed, 2 awaiting approval, 1 failed or cancelled, 130 interrupted (the run
 * stays active in the database: `run` again, a continue link or the driver resumes it).
 */

import type { Job } from "../core/job";
import { isSettled, type RunSummary } from "../core/runs";
import type { AdvanceResult, StartResult } from "../sync/service";
import type { AdminApi } from "./admin-api";
import { type CommandSpec, type ParsedArgs, UsageError } from "./args";
import { makeProgress, type ProgressOutput } from "./progress";
import { formatDuration } from "./table";

export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: ProgressOutput;
  sleep?: (ms: number) => Promise<void>;
  /** Set when the user asks to stop (SIGINT): the step in flight finishes, then the command returns. */
  interrupted?: () => boolean;
}

/** How long to wait before asking again when another process holds the lease or a step failed. */
const BUSY_WAIT_MS = 500;
const RETRY_WAIT_MS = 2000;

export interface RunArgs {
  job: string;
  dryRun: boolean;
}

/** Checked before anything is opened: a bad command line costs no database connection. */
export const runSpec: CommandSpec = {
  name: "run",
  synopsis: "<job> [--dry-run]",
  summary: "drive one run to its end with a progress bar",
  details: `Starts a run of the job (or takes over its active run) and advances it in the foreground.
Options:
  --dry-run   plan everything and write nothing to WordPress
Exit codes: 0 completed, 1 failed or cancelled, 2 awaiting approval, 130 interrupted
(Ctrl-C finishes the step in flight; the run stays resumable).`,
  options: { "dry-run": { type: "boolean" } },
  positionals: { min: 1, max: 1, names: "<job>" },
};

export function runArgs(args: ParsedArgs): RunArgs {
  return { job: args.positionals[0]!, dryRun: args.values["dry-run"] === true };
}

export async function runCommand(api: AdminApi, { job: jobId, dryRun }: RunArgs, io: CliIo): Promise<number> {
  const sleep = io.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  if (api.via) io.stderr.write(`Through ${api.via}\n`);
  const start = await api.call<StartResult>("POST", `/v1/jobs/${encodeURIComponent(jobId)}/runs`, {
    dryRun,
    trigger: "cli",
  });
  let run = start.run;
  if (!start.started) {
    // Never a run that writes when --dry-run was given: startRun refuses that (ConflictError).
    io.stderr.write(
      `Attaching to the active run ${run.id} of job ${jobId} (${run.state}${run.dryRun ? ", dry run" : ""})\n`,
    );
  } else {
    io.stderr.write(`Started run ${run.id} of job ${jobId}${dryRun ? " (dry run)" : ""}\n`);
  }
  const began = Date.now();
  const progress = makeProgress(io.stderr, { startedAt: began });
  let steps = 0;
  while (!isSettled(run.state) && !io.interrupted?.()) {
    const result = await api.call<AdvanceResult>("POST", `/v1/runs/${run.id}/advance`);
    if (result.run) run = result.run;
    if (result.advanced) steps++;
    progress.update(run);
    if (isSettled(run.state)) break;
    if (!result.advanced) await sleep(result.reason === "busy" ? BUSY_WAIT_MS : RETRY_WAIT_MS);
  }
  progress.finish();
  io.stdout.write(`${formatSummary(run, Date.now() - began, steps)}\n`);
  if (!isSettled(run.state)) {
    io.stderr.write(`Interrupted: run ${run.id} is still ${run.state}; run the command again to resume it.\n`);
    return 130;
  }
  return exitCodeOf(run);
}

export function exitCodeOf(run: RunSummary): number {
  if (run.state === "completed") return 0;
  if (run.state === "awaiting_approval") return 2;
  return 1;
}

/** The summary printed at the end: state, counts, duration and the last error. */
export function formatSummary(run: RunSummary, elapsedMs: number, steps: number): string {
  const c = run.counts;
  const runMs = run.startedAt && run.finishedAt ? Date.parse(run.finishedAt) - Date.parse(run.startedAt) : Number.NaN;
  const lines = [
    `Run ${run.id} of job ${run.job}: ${run.state.replace("_", " ")}${run.dryRun ? " (dry run: nothing written)" : ""}`,
    `  seen ${c.seen}, created ${c.created}, updated ${c.updated}, unchanged ${c.unchanged}, ` +
      `reactivated ${c.reactivated}, deactivated ${c.deactivated}, deleted ${c.deleted}, ` +
      `skipped ${c.skipped}, failed ${c.failed}`,
    `  duration ${formatDuration(Number.isNaN(runMs) ? elapsedMs : runMs)}, ${run.step} steps (${steps} here), mode ${run.mode}`,
    `  last error: ${run.lastError ?? "none"}`,
  ];
  if (run.state === "awaiting_approval") {
    lines.push(
      `  removals exceed the job's safety limits: approve with POST /v1/runs/${run.id}/approve or cancel the run`,
    );
  }
  return lines.join("\n");
}

/** Checked against the jobs file before anything is opened: a wrong name costs no lock or connection. */
export function knownJob(jobs: readonly Pick<Job, "id">[], jobId: string): void {
  if (jobs.some((job) => job.id === jobId)) return;
  const ids = jobs.map((job) => job.id);
  throw new UsageError(`unknown job "${jobId}" (declared: ${ids.length ? ids.join(", ") : "none"})`);
}
