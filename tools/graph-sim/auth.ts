/**
 * The two identity endpoints MSAL calls for the client-credentials flow (graph-api-facts.md §6):
 * OIDC discovery and the token endpoint, with AAD's error shapes so the real @azure/identity
 * classes fail the way they would against login.microsoftonline.com.
 */
import { constants, randomBytes, randomUUID, timingSafeEqual, verify, X509Certificate } from "node:crypto";

export interface AuthConfig {
  origin: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** The app certificate (PEM) whose key signs client assertions; null disables certificate auth. */
  appCertificatePem: string | null;
  tokenLifetimeSeconds: number;
}

export interface AuthReply {
  status: number;
  body: unknown;
}

export class TokenStore {
  private readonly tokens = new Map<string, number>();

  issue(lifetimeSeconds: number): string {
    const token = `sim.${randomBytes(24).toString("base64url")}`;
    this.tokens.set(token, Date.now() + lifetimeSeconds * 1000);
    return token;
  }

  isValid(token: string): boolean {
    const expires = this.tokens.get(token);
    return expires !== undefined && expires > Date.now();
  }

  /** Makes every issued token invalid (tests of 401 handling). */
  revokeAll(): void {
    this.tokens.clear();
  }
}

export function discovery(config: AuthConfig, tenant: string): AuthReply {
  if (tenant !== config.tenantId) {
    return aadError(
      400,
      "invalid_tenant",
      90002,
      `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
    );
  }
  const base = `${config.origin}/${tenant}`;
  return {
    status: 200,
    body: {
      issuer: `${base}/v2.0`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      token_endpoint: `${base}/oauth2/v2.0/token`,
      jwks_uri: `${base}/discovery/v2.0/keys`,
      response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
      subject_types_supported: ["pairwise"],
      id_token_signing_alg_values_supported: ["RS256"],
      tenant_region_scope: "EU",
    },
  };
}

export function token(config: AuthConfig, store: TokenStore, tenant: string, form: URLSearchParams): AuthReply {
  if (tenant !== config.tenantId) {
    return aadError(400, "invalid_tenant", 90002, `Tenant '${tenant}' not found.`);
  }
  if (form.get("grant_type") !== "client_credentials") {
    return aadError(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.");
  }
  const clientId = form.get("client_id") ?? "";
  if (clientId !== config.clientId) {
    return aadError(
      400,
      "unauthorized_client",
      700016,
      `Application with identifier '${clientId}' was not found in the directory '${tenant}'.`,
    );
  }
  if (!(form.get("scope") ?? "").endsWith("/.default")) {
    return aadError(
      400,
      "invalid_scope",
      1002012,
      "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.",
    );
  }
  const secret = form.get("client_secret");
  const assertion = form.get("client_assertion");
  if (secret !== null) {
    if (!sameText(secret, config.clientSecret)) {
      return aadError(
        401,
        "invalid_client",
        7000215,
        `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${config.clientId}'.`,
      );
    }
  } else if (assertion !== null) {
    const problem = checkAssertion(config, tenant, assertion);
    if (problem) return aadError(401, "invalid_client", 700027, problem);
  } else {
    return aadError(
      401,
      "invalid_client",
      7000218,
      "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    );
  }
  const lifetime = config.tokenLifetimeSeconds;
  return {
    status: 200,
    body: { token_type: "Bearer", expires_in: lifetime, ext_expires_in: lifetime, access_token: store.issue(lifetime) },
  };
}

/** A JWT client assertion signed by the app certificate's key: PS256 (msal-node 2+) or RS256 (older). */
function checkAssertion(config: AuthConfig, tenant: string, jwt: string): string | null {
  if (!config.appCertificatePem) return "Client assertion is not supported: no certificate is registered for the app.";
  const [headerPart, payloadPart, signaturePart] = jwt.split(".");
  if (!headerPart || !payloadPart || !signaturePart) return "Client assertion is not a JWT.";
  let header: { alg?: string };
  let claims: { aud?: string; iss?: string; sub?: string; exp?: number; nbf?: number };
  try {
    header = JSON.parse(Buffer.from(headerPart, "base64url").toString("utf8"));
    claims = JSON.parse(Buffer.from(payloadPart, "base64url").toString("utf8"));
  } catch {
    return "Client assertion is not a JWT.";
  }
  const key = new X509Certificate(config.appCertificatePem).publicKey;
  const data = Buffer.from(`${headerPart}.${payloadPart}`);
  const signature = Buffer.from(signaturePart, "base64url");
  let valid = false;
  if (header.alg === "PS256") {
    valid = verify("sha256", data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, signature);
  } else if (header.alg === "RS256") {
    valid = verify("sha256", data, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
  } else {
    return `Client assertion uses an unsupported algorithm '${header.alg}'.`;
  }
  if (!valid) return "Client assertion contains an invalid signature.";
  const now = Date.now() / 1000;
  if (claims.iss !== config.clientId || claims.sub !== config.clientId)
    return "Client assertion iss/sub must be the client id.";
  if (claims.aud !== `${config.origin}/${tenant}/oauth2/v2.0/token`)
    return `Client assertion audience '${claims.aud}' is invalid.`;
  if (typeof claims.exp !== "number" || claims.exp < now - 300) return "Client assertion is expired.";
  return null;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function aadError(status: number, error: string, code: number, description: string): AuthReply {
  const traceId = randomUUID();
  const correlationId = randomUUID();
  const timestamp = new Date()
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, "Z");
  return {
    status,
    body: {
      error,
      error_description: `AADSTS${code}: ${description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
      error_codes: [code],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
    },
  };
}
