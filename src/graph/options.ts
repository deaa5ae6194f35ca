import type { Logger } from "pino";

/** Hooks a metrics module can attach to; every field optional so tests can pass {}. */
export interface GraphMetrics {
  /** One HTTP exchange with Graph (retries count separately). status 0: no response (network error). */
  onRequest?(event: { method: string; status: number; ms: number; code: string | null }): void;
  /** Time about to be spent waiting before a retry because Graph throttled (429/503/504). */
  onThrottle?(waitMs: number): void;
}

/** Plain options; src/config maps AZURE_* and GRAPH_BASE_URL onto them (this module never reads env). */
export interface GraphDirectoryOptions {
  tenantId: string;
  clientId: string;
  clientSecret?: string;
  /** PEM with the certificate and its private key (ClientCertificateCredential). */
  certificatePath?: string;
  /** e.g. https://login.microsoftonline.us, or a simulator; instance discovery is then disabled. */
  authorityHost?: string;
  /** e.g. https://graph.microsoft.com (no version segment). */
  graphBaseUrl: string;
  logger: Logger;
  /** Retries after the first attempt, for throttling, 5xx and network errors (default 4). */
  maxRetries?: number;
  /** Longest Retry-After honoured as given; longer ones are shortened to this (default 60000). */
  maxRetryAfterMs?: number;
  /** First backoff step when Graph gives no Retry-After; doubles per attempt, with jitter (default 500). */
  retryBaseDelayMs?: number;
  metrics?: GraphMetrics;
  /** How messages name the settings to fix (default the AZURE_* variables; a named source's own keys otherwise). */
  setting?: GraphSetting;
}

/** Where the tenant, app and credential were configured, named in messages (never the secret). */
export interface GraphSetting {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  certificatePath: string;
  authorityHost: string;
}

export const AZURE_SETTING: GraphSetting = {
  tenantId: "AZURE_TENANT_ID",
  clientId: "AZURE_CLIENT_ID",
  clientSecret: "AZURE_CLIENT_SECRET",
  certificatePath: "AZURE_CLIENT_CERTIFICATE_PATH",
  authorityHost: "AZURE_AUTHORITY_HOST",
};
