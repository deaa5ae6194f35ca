/** `entra-wp-sync status [job]`: current and last runs as an aligned text table. */

import type { Job } from "../core/job";
import { ACTIVE_STATES, type RunSummary } from "../core/runs";
import type { AdminApi } from "./admin-api";
import type { CommandSpec, ParsedArgs } from "./args";
import { formatDuration, formatTable } from "./table";

export interface StatusArgs {
  job: string | null;
}

export const statusSpec: CommandSpec = {
  name: "status",
  synopsis: "[job]",
  summary: "current and last runs as a table",
  details: "Every job, or only the one named.",
  positionals: { min: 0, max: 1, names: "[job]" },
};

export function statusArgs(args: ParsedArgs): StatusArgs {
  return { job: args.positionals[0] ?? null };
}

/** Every job: its active run and its last runs (3 each; 10 for one job). */
export async function statusCommand(
  api: AdminApi,
  { job }: StatusArgs,
  io: { stdout: { write(text: string): unknown } },
  now: () => number = Date.now,
): Promise<number> {
  const declaredJobs = (await api.call<{ jobs: Job[] }>("GET", "/v1/jobs")).jobs;
  const jobs = job === null ? declaredJobs : declaredJobs.filter((candidate) => candidate.id === job);
  const rows: string[][] = [];
  for (const declared of jobs) {
    const limit = job === null ? 3 : 10;
    const { runs } = await api.call<{ runs: RunSummary[] }>(
      "GET",
      `/v1/jobs/${encodeURIComponent(declared.id)}/runs?limit=${limit}`,
    );
    if (runs.length === 0) {
      rows.push([declared.id, declared.trigger.mode, "-", "no runs yet", "-", "-", "-", "-", "-", "-", "-", "-", ""]);
      continue;
    }
    for (const run of runs) rows.push(rowOf(declared.id, declared.trigger.mode, run, now()));
  }
  const headers = [
    "JOB",
    "MODE",
    "RUN",
    "STATE",
    "TRIGGER",
    "STARTED",
    "DURATION",
    "SEEN",
    "CREATED",
    "UPDATED",
    "REMOVED",
    "FAILED",
    "LAST ERROR",
  ];
  io.stdout.write(`${formatTable(headers, rows)}\n`);
  return 0;
}

function rowOf(jobId: string, mode: string, run: RunSummary, now: number): string[] {
  const started = run.startedAt ?? run.createdAt;
  const end = run.finishedAt ? Date.parse(run.finishedAt) : now;
  const c = run.counts;
  const active = ACTIVE_STATES.includes(run.state);
  return [
    jobId,
    mode,
    run.id.slice(0, 8),
    `${active ? "* " : ""}${run.state}${run.dryRun ? " (dry)" : ""}`,
    run.trigger,
    started.replace("T", " ").slice(0, 19),
    formatDuration(end - Date.parse(started)),
    String(c.seen),
    String(c.created),
    String(c.updated),
    String(c.deactivated + c.deleted),
    String(c.failed),
    (run.lastError ?? "").replace(/\s+/g, " ").slice(0, 60),
  ];
}
