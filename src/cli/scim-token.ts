/** `entra-wp-sync scim-token <job>`: a bearer token for a SCIM job's endpoint (DESIGN.md "SCIM source"). */
import type { AdminApi } from "./admin-api";
import type { CommandSpec, ParsedArgs } from "./args";

export interface ScimTokenArgs {
  job: string;
}

export const scimTokenSpec: CommandSpec = {
  name: "scim-token",
  synopsis: "<job>",
  summary: "make a bearer token for a SCIM job's endpoint",
  details: `Prints the endpoint (the provider's Tenant URL or SCIM connector base URL), the token
(its Secret Token or API token: shown this once, the service keeps only its hash) and the token's id.
Several tokens are valid at once: to rotate, make a new one, set it in the provider, then revoke
the old one with DELETE /v1/jobs/<job>/scim-tokens/<id>. docs/scim.md sets up Entra and Okta.`,
  positionals: { min: 1, max: 1, names: "<job>" },
};

export function scimTokenArgs(args: ParsedArgs): ScimTokenArgs {
  return { job: args.positionals[0]! };
}

interface NewToken {
  id: string;
  token: string;
  tenantUrl: string;
}

export async function scimTokenCommand(
  api: AdminApi,
  { job }: ScimTokenArgs,
  io: { stdout: { write(text: string): unknown }; stderr: { write(text: string): unknown } },
): Promise<number> {
  const made = await api.call<NewToken>("POST", `/v1/jobs/${encodeURIComponent(job)}/scim-tokens`, {});
  io.stdout.write(`tenant-url  ${made.tenantUrl}\ntoken       ${made.token}\nid          ${made.id}\n`);
  io.stderr.write(
    "The token is shown this once. Microsoft Entra: append ?aadOptscim062020 to the Tenant URL (docs/scim.md).\n",
  );
  return 0;
}
