/** `entra-wp-sync links <job> [--expires-in 30d]`: a start and a continue link for the job. */
import { BadRequestError } from "../core/errors";
import { parseExpiresIn } from "../links";
import type { AdminApi } from "./admin-api";
import { type CommandSpec, type ParsedArgs, UsageError } from "./args";

export interface LinksArgs {
  job: string;
  expiresIn: string | undefined;
}

export const linksSpec: CommandSpec = {
  name: "links",
  synopsis: "<job> [--expires-in 30d]",
  summary: "print a start and a continue link of a job",
  details: `Signed links built on PUBLIC_URL, for a scheduler and an uptime monitor.
Options:
  --expires-in <n><s|m|h|d>   how long the links stay valid (default: the service's default lifetime)
Revoke every link of a job with POST /v1/jobs/<job>/links/revoke.`,
  options: { "expires-in": { type: "string" } },
  positionals: { min: 1, max: 1, names: "<job>" },
};

export function linksArgs(args: ParsedArgs): LinksArgs {
  const expiresIn = args.values["expires-in"];
  if (typeof expiresIn === "string") {
    try {
      parseExpiresIn(expiresIn);
    } catch (error) {
      if (error instanceof BadRequestError) throw new UsageError(`links: --expires-in: ${error.message}`);
      throw error;
    }
  }
  return { job: args.positionals[0]!, expiresIn: typeof expiresIn === "string" ? expiresIn : undefined };
}

export async function linksCommand(
  api: AdminApi,
  { job, expiresIn }: LinksArgs,
  io: { stdout: { write(text: string): unknown } },
): Promise<number> {
  const links = await api.call<{ start: string; continue: string }>(
    "POST",
    `/v1/jobs/${encodeURIComponent(job)}/links`,
    expiresIn === undefined ? {} : { expiresIn },
  );
  io.stdout.write(`start     ${links.start}\ncontinue  ${links.continue}\n`);
  return 0;
}
