import type { Logger } from "pino";
import { ConfigError, UpstreamError } from "../core/errors";
import {
  classifyResponse,
  describeTransport,
  isRetryableStatus,
  neverReachedServer,
  type RequestContext,
  transportError,
} from "./errors";
import { makeLimiter } from "./limiter";

/** Optional instrumentation; one call per HTTP attempt (a retried request reports each attempt). */
export interface WordPressMetrics {
  observeRequest(method: string, status: number | "error", ms: number): void;
}

export interface WordPressClientOptions {
  /** The site's address (WP_URL), e.g. https://example.com or https://example.com/blog. */
  url: string;
  username: string;
  appPassword: string;
  /** Requests in flight at once for this client (WP_CONCURRENCY). */
  concurrency: number;
  /** Per attempt. */
  timeoutMs: number;
  /** Extra attempts after the first for transient failures. */
  maxRetries: number;
  /** First backoff; doubles per attempt, capped at 5 s, with jitter. */
  retryBaseMs: number;
  logger: Logger;
  metrics?: WordPressMetrics;
}

export interface WpRequest {
  method: "GET" | "POST" | "DELETE";
  /** REST route below /wp-json, e.g. "/wp/v2/users/5". */
  route: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: Record<string, unknown>;
  headers?: Record<string, string>;
}

export interface WpResponse {
  status: number;
  headers: Headers;
  body: unknown;
  /** An earlier attempt may have been applied by WordPress (timeout, reset, 502/504 before this answer). */
  afterAmbiguousFailure: boolean;
}

export interface WordPressClient {
  /** Resolves with 2xx responses; throws a classified UpstreamError otherwise. */
  request(req: WpRequest): Promise<WpResponse>;
  readonly context: { url: string; username: string };
}

const MAX_BACKOFF_MS = 5000;

interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
}

export function makeWordPressClient(options: WordPressClientOptions): WordPressClient {
  let base: URL;
  try {
    base = new URL(options.url);
  } catch {
    throw new ConfigError(`WP_URL is not a URL: ${JSON.stringify(options.url)} (expected e.g. https://example.com)`);
  }
  base.username = "";
  base.password = "";
  const siteUrl = base.toString().replace(/\/+$/, "");
  const authorization = `Basic ${Buffer.from(`${options.username}:${options.appPassword}`).toString("base64")}`;
  const limiter = makeLimiter(options.concurrency);
  const { logger, metrics } = options;

  /** One HTTP exchange, body read included (php -S closes every connection after the response). */
  async function attempt(req: WpRequest, href: string, path: string): Promise<RawResponse> {
    const started = performance.now();
    try {
      const res = await fetch(href, {
        method: req.method,
        headers: {
          authorization,
          accept: "application/json",
          ...(req.body ? { "content-type": "application/json" } : {}),
          ...req.headers,
        },
        body: req.body ? JSON.stringify(req.body) : undefined,
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      const text = await res.text();
      const ms = Math.round(performance.now() - started);
      logger.debug({ method: req.method, path, status: res.status, ms }, "wordpress request");
      metrics?.observeRequest(req.method, res.status, ms);
      return { status: res.status, headers: res.headers, text };
    } catch (error) {
      const ms = Math.round(performance.now() - started);
      logger.debug({ method: req.method, path, error: describeTransport(error), ms }, "wordpress request failed");
      metrics?.observeRequest(req.method, "error", ms);
      throw error;
    }
  }

  async function request(req: WpRequest): Promise<WpResponse> {
    const url = new URL(`${siteUrl}/wp-json${req.route}`);
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const path = url.pathname + url.search; // no credentials in it: logged and put in messages
    const ctx: RequestContext = { url: siteUrl, username: options.username, method: req.method, path };
    let ambiguous = false;

    for (let n = 0; ; n++) {
      const last = n >= options.maxRetries;
      let res: RawResponse;
      try {
        // The slot is held for the HTTP exchange only, not during backoff sleeps.
        res = await limiter.run(() => attempt(req, url.toString(), path));
      } catch (error) {
        if (last) throw transportError(error, n + 1, ctx);
        if (!neverReachedServer(error)) ambiguous = true;
        await sleep(backoff(n, null));
        continue;
      }
      if (isRetryableStatus(res.status) && !last) {
        if (res.status !== 429 && res.status !== 503) ambiguous = true;
        await sleep(backoff(n, res.headers.get("retry-after")));
        continue;
      }
      const body = parseJson(res.text);
      if (res.status >= 200 && res.status < 300) {
        if (body === undefined) {
          throw new UpstreamError(
            `WordPress ${req.method} ${path}: HTTP ${res.status} but not JSON. Is WP_URL=${siteUrl} a WordPress site?`,
            "wordpress",
            "config",
            { status: res.status },
          );
        }
        return { status: res.status, headers: res.headers, body, afterAmbiguousFailure: ambiguous };
      }
      const error = classifyResponse(res.status, isObject(body) ? body : null, ctx);
      (error as UpstreamError & { afterAmbiguousFailure?: boolean }).afterAmbiguousFailure = ambiguous;
      throw error;
    }
  }

  function backoff(n: number, retryAfter: string | null): number {
    const seconds = retryAfter === null ? Number.NaN : Number(retryAfter);
    if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, MAX_BACKOFF_MS);
    const ceiling = Math.min(options.retryBaseMs * 2 ** n, MAX_BACKOFF_MS);
    return ceiling / 2 + Math.random() * (ceiling / 2); // jitter keeps concurrent retries apart
  }

  return { request, context: { url: siteUrl, username: options.username } };
}

/** True when a create/delete that failed in a way that may already have been applied is being retried. */
export function wasAfterAmbiguousFailure(error: unknown): boolean {
  return (error as { afterAmbiguousFailure?: boolean } | null)?.afterAmbiguousFailure === true;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
