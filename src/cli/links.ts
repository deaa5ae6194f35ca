/** `entra-wp-sync links <job> [--expires-in 30d]`: a start and a continue link for the job. */
import { BadRequestError } from "../core/errors";
import { makeLinks, parseExpiresIn } from "../links";
import type { Runtime } from "../runtime";
import { parseArgs, UsageError } from "./args";
import { knownJob } from "./run";

export interface LinksArgs {
  job: string;
  expiresIn: string | undefined;
}

export function parseLinksArgs(argv: string[]): LinksArgs {
  const args = parseArgs("links", argv, { valued: ["--expires-in"], positionals: { min: 1, max: 1, names: "<job>" } });
  const expiresIn = args.flags.get("--expires-in");
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
  runtime: Runtime,
  { job, expiresIn }: LinksArgs,
  io: { stdout: { write(text: string): unknown } },
): Promise<number> {
  knownJob(runtime, job);
  const links = await makeLinks(runtime, job, expiresIn === undefined ? {} : { expiresIn });
  io.stdout.write(`start     ${links.start}\ncontinue  ${links.continue}\n`);
  return 0;
}
