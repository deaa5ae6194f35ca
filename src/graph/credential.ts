/**
 * Entra credentials and what their failures mean to an operator. Messages name the setting to
 * fix (AZURE_*), never the secret or a token: they end up in run.last_error and in logs.
 */
import { ClientCertificateCredential, ClientSecretCredential, type TokenCredential } from "@azure/identity";
import { type AuthenticationProvider, GraphClientError } from "@microsoft/microsoft-graph-client";
import { TokenCredentialAuthenticationProvider } from "@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials";
import { ConfigError, coerceError, UpstreamError } from "../core/errors";
import { AZURE_SETTING, type GraphDirectoryOptions } from "./options";

export const GRAPH_SCOPE = "https://graph.microsoft.com/.default";

export function makeCredential(options: GraphDirectoryOptions): TokenCredential {
  // Without disableInstanceDiscovery MSAL asks login.microsoftonline.com about any custom authority
  // and fails after ~5 s with endpoints_resolution_error (graph-api-facts.md §0).
  const common = options.authorityHost ? { authorityHost: options.authorityHost, disableInstanceDiscovery: true } : {};
  if (options.clientSecret) {
    return new ClientSecretCredential(options.tenantId, options.clientId, options.clientSecret, common);
  }
  if (options.certificatePath) {
    return new ClientCertificateCredential(
      options.tenantId,
      options.clientId,
      { certificatePath: options.certificatePath },
      common,
    );
  }
  throw new ConfigError("Graph needs AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH; neither is set.");
}

/**
 * Thrown from inside the Graph client's middleware. GraphClientError is the one error type the
 * client rethrows untouched (GraphRequest.send), so the original UpstreamError survives.
 */
export class CredentialFailure extends GraphClientError {
  constructor(readonly upstream: UpstreamError) {
    super(upstream.message);
    // GraphClientError's constructor pins its own prototype, which would break instanceof here.
    Object.setPrototypeOf(this, CredentialFailure.prototype);
  }
}

/** TokenCredentialAuthenticationProvider, with credential failures turned into kind "auth". */
export function makeAuthProvider(credential: TokenCredential, options: GraphDirectoryOptions): AuthenticationProvider {
  const inner = new TokenCredentialAuthenticationProvider(credential, { scopes: [GRAPH_SCOPE] });
  return {
    getAccessToken: async () => {
      try {
        return await inner.getAccessToken();
      } catch (error) {
        const failure = describeCredentialFailure(coerceError(error), options);
        throw new CredentialFailure(await unlessUnreachable(failure, options));
      }
    },
  };
}

export function describeCredentialFailure(error: Error, options: GraphDirectoryOptions): UpstreamError {
  const text = redact(`${error.name}: ${error.message}`, options.clientSecret);
  const aadsts = /AADSTS(\d+)/.exec(text)?.[1];
  const authority = options.authorityHost ?? "https://login.microsoftonline.com";
  const s = options.setting ?? AZURE_SETTING;
  const who = `${s.clientId}=${options.clientId}, ${s.tenantId}=${options.tenantId}`;
  let advice: string;
  if (aadsts === "7000215" || (text.includes("invalid_client") && options.clientSecret)) {
    advice = `the client secret was rejected: check ${s.clientSecret} (the secret's value, not its id, and not expired)`;
  } else if (
    aadsts === "700027" ||
    aadsts === "700023" ||
    (text.includes("invalid_client") && options.certificatePath)
  ) {
    advice = `the certificate assertion was rejected: check ${s.certificatePath} is the certificate uploaded to the app registration`;
  } else if (aadsts === "700016" || text.includes("unauthorized_client")) {
    advice = `no such application in this tenant: check ${s.clientId} and ${s.tenantId}`;
  } else if (aadsts === "90002" || text.includes("invalid_tenant")) {
    advice = `the tenant was not found: check ${s.tenantId}`;
  } else if (/ENOENT|EACCES|certificate.*(path|read)|no such file/i.test(text)) {
    advice = `the certificate file could not be read: check ${s.certificatePath}`;
  } else if (/endpoints_resolution_error|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|network|fetch failed/i.test(text)) {
    advice = `the authority ${authority} could not be reached or did not answer as Entra ID: check ${s.authorityHost} and ${s.tenantId}`;
  } else {
    advice = `check ${s.tenantId}, ${s.clientId} and ${options.certificatePath ? s.certificatePath : s.clientSecret}`;
  }
  const detail = text.split("\n")[0]!.slice(0, 300);
  return new UpstreamError(`Could not get a Graph access token (${who}): ${advice}. ${detail}`, "graph", "auth", {
    ...(aadsts ? { code: `AADSTS${aadsts}` } : {}),
  });
}

/**
 * MSAL says endpoints_resolution_error both for a tenant the authority does not know (final) and
 * for an authority it could not reach at all (perhaps a passing network fault). One request of our
 * own tells them apart: any HTTP answer means reachable. An unreachable authority becomes kind
 * "transient", so the run stays where it is and fails only after MAX_FAILED_STEPS (same advice).
 */
async function unlessUnreachable(failure: UpstreamError, options: GraphDirectoryOptions): Promise<UpstreamError> {
  if (failure.kind !== "auth" || !failure.message.includes("endpoints_resolution_error")) return failure;
  const authority = options.authorityHost ?? "https://login.microsoftonline.com";
  try {
    await fetch(authority, { method: "HEAD", redirect: "manual", signal: AbortSignal.timeout(5000) });
    return failure;
  } catch {
    return new UpstreamError(failure.message, "graph", "transient", failure.details);
  }
}

/** Belt and braces: identity's messages do not echo the secret, but never let one through if a version does. */
function redact(text: string, secret: string | undefined): string {
  return secret && secret.length >= 4 ? text.split(secret).join("[redacted]") : text;
}
