/**
 * The jobs file's `sites` and `sources` (DESIGN.md "Sites and sources"): named WordPress sites and
 * Entra tenants that jobs choose by name. Secrets are never written here: an entry names the
 * environment variable or the file that holds each one (sites-and-sources.ts reads them).
 */
import { Type } from "@sinclair/typebox";
import { DEFAULT_TARGET } from "../core/job";
import { NAME, OneOf, Section, Text } from "./schema-parts";

export const TENANT_KINDS = ["workforce", "external"] as const;

/** An environment variable's name, as POSIX shells accept it. */
export const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A name in `sites` or `sources`; "default" is the environment's. */
export const TargetName = (description: string) =>
  Type.String({
    pattern: NAME.source,
    default: DEFAULT_TARGET,
    errorMessage: 'must be a name such as "intranet": a-z, 0-9, "_" and "-", up to 63 characters',
    description,
  });

/**
 * writeOnly: what is written here may be a secret put in the wrong place by mistake, so a message
 * about it never repeats it.
 */
const Variable = (description: string) =>
  Type.String({
    pattern: VARIABLE_NAME.source,
    writeOnly: true,
    errorMessage: 'must be the name of an environment variable such as "INTRANET_WP_APP_PASSWORD" (not the secret)',
    description,
  });
const File = (description: string) => Text({ description });
const HttpUrl = (protocols: "http" | "https", description: string) =>
  Type.String({
    pattern: protocols === "http" ? "^https?://[^\\s/]" : "^https://[^\\s/]",
    errorMessage: `must be an absolute ${protocols === "http" ? "http:// or https://" : "https://"} URL`,
    description,
  });

export const SiteEntrySchema = Section(
  {
    url: HttpUrl("http", "The site's address, as WP_URL (a network's main site for network jobs)."),
    username: Text({ description: "The WordPress administrator the service acts as (a super admin on a network)." }),
    appPasswordEnv: Type.Optional(Variable("The environment variable holding that user's Application Password.")),
    appPasswordFile: Type.Optional(
      File("A file holding that user's Application Password (relative: to the jobs file's folder)."),
    ),
    concurrency: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 64,
        description: "Requests in flight to this site (default WP_CONCURRENCY).",
      }),
    ),
    bulkWrites: Type.Optional(
      Type.Boolean({ description: "Batched writes through the companion plugin (default WP_BULK_WRITES)." }),
    ),
    batchSize: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 100, description: "Operations per batch request (default WP_BATCH_SIZE)." }),
    ),
    batchInFlight: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 16, description: "Batch requests in flight (default WP_BATCH_IN_FLIGHT)." }),
    ),
  },
  { description: "A WordPress site; its Application Password is read from appPasswordEnv or appPasswordFile." },
);

export const SourceEntrySchema = Section(
  {
    tenantId: Text({ description: "The Directory (tenant) ID, as AZURE_TENANT_ID." }),
    clientId: Text({ description: "The app registration's Application (client) ID, as AZURE_CLIENT_ID." }),
    clientSecretEnv: Type.Optional(Variable("The environment variable holding the app's client secret.")),
    clientSecretFile: Type.Optional(
      File("A file holding the app's client secret (relative: to the jobs file's folder)."),
    ),
    certificatePathEnv: Type.Optional(
      Variable("The environment variable holding the path of the app's certificate (PEM with its private key)."),
    ),
    certificateFile: Type.Optional(
      File("The app's certificate, a PEM file with its private key (relative: to the jobs file's folder)."),
    ),
    authorityHost: Type.Optional(HttpUrl("https", "The Entra authority (default AZURE_AUTHORITY_HOST).")),
    graphBaseUrl: Type.Optional(HttpUrl("https", "Microsoft Graph's address (default GRAPH_BASE_URL).")),
    tenantKind: Type.Optional(
      OneOf(TENANT_KINDS, {
        description:
          "external: an Entra External ID or Azure AD B2C customer tenant; the source.tenantKind of the jobs reading it.",
      }),
    ),
  },
  {
    description:
      "An Entra tenant and the app registration that reads it; exactly one credential: clientSecretEnv, clientSecretFile, certificatePathEnv or certificateFile.",
  },
);

const names = (what: string) =>
  Type.String({
    pattern: NAME.source,
    errorMessage: `must be a ${what} name: a-z, 0-9, "_" and "-", up to 63 characters`,
  });

export const SitesSchema = Type.Record(names("site"), SiteEntrySchema, {
  additionalProperties: false,
  errorMessage: {
    type: "must be an object of site name -> site",
    additionalProperties: 'is not a site name (a-z, 0-9, "_" and "-", up to 63 characters)',
  },
  description: 'WordPress sites by name; jobs choose one with "site". "default" is the WP_* variables\' site.',
});

export const SourcesSchema = Type.Record(names("source"), SourceEntrySchema, {
  additionalProperties: false,
  errorMessage: {
    type: "must be an object of source name -> Entra tenant",
    additionalProperties: 'is not a source name (a-z, 0-9, "_" and "-", up to 63 characters)',
  },
  description:
    'Entra tenants by name; jobs choose one with "source.tenant". "default" is the AZURE_* variables\' tenant.',
});
