/**
 * The Graph client with a chain we own. The SDK's RetryHandler is left out on purpose: it waits
 * up to 180 s per Retry-After without knowing the step budget, and it never retries 500s or
 * network errors (graph-api-facts.md §4). retry.ts does that instead, around each call.
 */
import type { TokenCredential } from "@azure/identity";
import {
  AuthenticationHandler,
  Client,
  type Context,
  HTTPMessageHandler,
  type Middleware,
  TelemetryHandler,
} from "@microsoft/microsoft-graph-client";
import type { Logger } from "pino";
import { makeAuthProvider } from "./credential";
import type { GraphDirectoryOptions, GraphMetrics } from "./options";

export function makeGraphClient(credential: TokenCredential, options: GraphDirectoryOptions): Client {
  const base = new URL(options.graphBaseUrl);
  return Client.initWithMiddleware({
    middleware: [
      new AuthenticationHandler(makeAuthProvider(credential, options)),
      new RequestLogger(options.logger, options.metrics ?? {}),
      new TelemetryHandler(),
      new HTTPMessageHandler(),
    ],
    baseUrl: base.origin,
    // The client only attaches the bearer token to Graph's own hosts and these (hostnames only).
    customHosts: new Set([base.hostname]),
  });
}

/** Logs each exchange as method, path, status and ms. Sits after auth but never logs headers. */
class RequestLogger implements Middleware {
  private next: Middleware | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly metrics: GraphMetrics,
  ) {}

  setNext(next: Middleware): void {
    this.next = next;
  }

  async execute(context: Context): Promise<void> {
    const method = context.options?.method ?? "GET";
    const url = typeof context.request === "string" ? context.request : context.request.url;
    const path = new URL(url).pathname;
    const started = performance.now();
    try {
      await this.next!.execute(context);
    } catch (error) {
      const ms = Math.round(performance.now() - started);
      this.logger.debug({ method, path, status: 0, ms, error: (error as Error).name }, "graph request failed");
      this.metrics.onRequest?.({ method, status: 0, ms, code: "network" });
      throw error;
    }
    const ms = Math.round(performance.now() - started);
    const status = context.response?.status ?? 0;
    const code = status >= 400 && context.response ? await errorCode(context.response) : null;
    this.logger.debug({ method, path, status, ms, ...(code ? { code } : {}) }, "graph request");
    this.metrics.onRequest?.({ method, status, ms, code });
  }
}

async function errorCode(response: Response): Promise<string | null> {
  try {
    const body = (await response.clone().json()) as { error?: { code?: unknown } };
    return typeof body.error?.code === "string" ? body.error.code : null;
  } catch {
    return null;
  }
}
