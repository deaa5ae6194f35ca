/** `entra-wp-sync user <email|entraId> [--limit n]`: one person's history across runs and jobs. */
import type { HistoryItem } from "../core/runs";
import type { AdminApi } from "./admin-api";
import { type CommandSpec, type ParsedArgs, UsageError } from "./args";
import { formatTable } from "./table";

export interface UserArgs {
  user: string;
  limit: number;
}

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 1000;

export const userSpec: CommandSpec = {
  name: "user",
  synopsis: "<email|entraId> [--limit 50]",
  summary: "one person's history across runs and jobs, newest first",
  details: `Every item about the person: when, job, run, action, status, what changed, and why.
An e-mail also finds the items recorded before the person's e-mail changed (through their Entra id).
Options:
  --limit <n>   how many items, newest first (default ${DEFAULT_LIMIT}, at most ${MAX_LIMIT})`,
  options: { limit: { type: "string" } },
  positionals: { min: 1, max: 1, names: "<email|entraId>" },
};

export function userArgs(args: ParsedArgs): UserArgs {
  const raw = args.values.limit;
  const limit = typeof raw === "string" ? Number(raw) : DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new UsageError(`user: --limit must be a whole number from 1 to ${MAX_LIMIT} (got "${raw}")`);
  }
  const user = args.positionals[0]!.trim();
  if (user === "" || user.length > 320) throw new UsageError("user: <email|entraId> must be 1 to 320 characters");
  return { user, limit };
}

interface History {
  entraIds: string[];
  items: HistoryItem[];
  nextCursor: string | null;
}

export async function userCommand(
  api: AdminApi,
  { user, limit }: UserArgs,
  io: { stdout: { write(text: string): unknown } },
): Promise<number> {
  const history = await api.call<History>("GET", `/v1/users/${encodeURIComponent(user)}/history?limit=${limit}`);
  if (history.items.length === 0) {
    io.stdout.write(`No items about ${user}: no run has seen this person.\n`);
    return 0;
  }
  const people = history.entraIds.length > 1 ? ` (${history.entraIds.length} Entra users had this e-mail)` : "";
  io.stdout.write(`${user}: Entra id ${history.entraIds.join(", ")}${people}\n`);
  const headers = ["WHEN", "JOB", "RUN", "ACTION", "STATUS", "E-MAIL", "CHANGES", "REASON"];
  const rows = history.items.map((item) => [
    item.createdAt.replace("T", " ").slice(0, 19),
    item.job,
    `${item.runId.slice(0, 8)}${item.dryRun ? " (dry)" : ""}`,
    item.action,
    item.status,
    item.email ?? "",
    describeDiff(item.diff),
    oneLine(item.error ?? item.reason ?? ""),
  ]);
  io.stdout.write(`${formatTable(headers, rows)}\n`);
  if (history.nextCursor)
    io.stdout.write(`More items are older: --limit ${Math.min(limit * 2, MAX_LIMIT)} shows more.\n`);
  return 0;
}

/** `{ email: ["a@x", "b@x"] }` -> `email a@x -> b@x`, each value cut short. */
export function describeDiff(diff: Record<string, [unknown, unknown]>): string {
  const value = (v: unknown) => oneLine(typeof v === "string" ? v : (JSON.stringify(v) ?? "null"), 40);
  return Object.entries(diff)
    .map(([field, [before, after]]) => `${field} ${value(before)} -> ${value(after)}`)
    .join("; ");
}

function oneLine(text: string, max = 80): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
