import type { Logger } from "pino";
import { ConfigError, UpstreamError } from "../core/errors";
import { attemptTimeout, DeadlineExceeded } from "../net/deadline";
import { makeLimiter } from "../net/limiter";
import { parseRetryAfter, type RetryPolicy, withRetries } from "../net/retry";
import {
  classifyResponse,
  describeTransport,
  isRetryableStatus,
  neverReachedServer,
  type RequestContext,
  transportError,
  type WordPressSetting,
  WP_SETTING,
} from "./errors";

/** Optional instrumentation; one call per HTTP attempt (a retried request reports each attempt). */
export interface WordPressMetrics {
  /**
   * status "error": no response; code: WordPress's error code (`rest_user_invalid_email`) when it gave
   * one. batch: the exchange carried a batch of user writes, whose answers onOperation reports.
   */
  onRequest(event: {
    method: string;
    status: number | "error";
    code: string | null;
    ms: number;
    batch?: boolean;
  }): void;
  /**
   * One operation of a batch as WordPress answered it: the method its own request would have had,
   * its status and error code (null when it succeeded). Not an HTTP exchange: no duration.
   */
  onOperation?(event: { method: string; status: number; code: string | null }): void;
}

export interface WordPressClientOptions {
  /** The site's address (WP_URL), e.g. https://example.com or https://example.com/blog. */
  url: string;
  username: string;
  appPassword: string;
  /** Requests in flight at once for this client (WP_CONCURRENCY). */
  concurrency: number;
  /** Per attempt; shortened to what is left of the deadline in force (src/net/deadline.ts). */
  timeoutMs: number;
  /** Extra attempts after the first for transient failures. */
  maxRetries: number;
  /** First backoff; doubles per attempt, capped at 5 s, with jitter. */
  retryBaseMs: number;
  logger: Logger;
  metrics?: WordPressMetrics;
  /** How messages name the settings to fix (default the WP_* variables; a named site's own keys otherwise). */
  setting?: WordPressSetting;
}

export interface WpRequest {
  method: "GET" | "POST" | "DELETE" | "OPTIONS";
  /** REST route below /wp-json, e.g. "/wp/v2/users/5". */
  route: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: Record<string, unknown>;
  headers?: Record<string, string>;
  /** A batch of user writes (counted apart from single requests: WordPressMetrics). */
  batch?: boolean;
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
  readonly context: { url: string; username: string; setting: WordPressSetting };
}

const MAX_BACKOFF_MS = 5000;

/** A 429/502/503/504 answer, thrown inside the retry loop so that it is retried like a lost connection. */
class RetryableAnswer {
  constructor(readonly res: RawResponse) {}
}

interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
}

/** What a site or network adapter is given: the connection, with the tuning knobs optional. */
export type WordPressConnectionOptions = Pick<
  WordPressClientOptions,
  "url" | "username" | "appPassword" | "logger" | "metrics" | "setting"
> &
  Partial<Pick<WordPressClientOptions, "concurrency" | "timeoutMs" | "maxRetries" | "retryBaseMs">>;

/** The client with the defaults both adapters use: 4 in flight, 30 s per attempt, 3 retries from 250 ms. */
export function connectWordPress(options: WordPressConnectionOptions): WordPressClient {
  return makeWordPressClient({
    ...options,
    concurrency: options.concurrency ?? 4,
    timeoutMs: options.timeoutMs ?? 30_000,
    maxRetries: options.maxRetries ?? 3,
    retryBaseMs: options.retryBaseMs ?? 250,
  });
}

export function makeWordPressClient(options: WordPressClientOptions): WordPressClient {
  const setting = options.setting ?? WP_SETTING;
  let base: URL;
  try {
    base = new URL(options.url);
  } catch {
    throw new ConfigError(
      `${setting.url} is not a URL: ${JSON.stringify(options.url)} (expected e.g. https://example.com)`,
    );
  }
  base.username = "";
  base.password = "";
  const siteUrl = base.toString().replace(/\/+$/, "");
  const authorization = `Basic ${Buffer.from(`${options.username}:${options.appPassword}`).toString("base64")}`;
  const limiter = makeLimiter(options.concurrency);
  const { logger, metrics } = options;

  const policy: RetryPolicy = {
    retries: options.maxRetries,
    baseDelayMs: options.retryBaseMs,
    maxDelayMs: MAX_BACKOFF_MS,
  };

  /** One HTTP exchange, body read included (php -S closes every connection after the response). */
  async function exchange(req: WpRequest, href: string, path: string, timeoutMs: number): Promise<RawResponse> {
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
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      const ms = Math.round(performance.now() - started);
      const code = res.status >= 400 ? errorCodeOf(text) : null;
      logger.debug(
        { method: req.method, path, status: res.status, ms, ...(code ? { code } : {}) },
        "wordpress request",
      );
      metrics?.onRequest({ method: req.method, status: res.status, code, ms, ...(req.batch ? { batch: true } : {}) });
      return { status: res.status, headers: res.headers, text };
    } catch (error) {
      const ms = Math.round(performance.now() - started);
      logger.debug({ method: req.method, path, error: describeTransport(error), ms }, "wordpress request failed");
      metrics?.onRequest({
        method: req.method,
        status: "error",
        code: null,
        ms,
        ...(req.batch ? { batch: true } : {}),
      });
      throw error;
    }
  }

  async function request(req: WpRequest): Promise<WpResponse> {
    const url = new URL(`${siteUrl}/wp-json${req.route}`);
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const path = url.pathname + url.search; // no credentials in it: logged and put in messages
    const ctx: RequestContext = { url: siteUrl, username: options.username, setting, method: req.method, path };
    let ambiguous = false;

    let res: RawResponse;
    try {
      res = await withRetries(policy, {
        async attempt() {
          // The slot is held for the HTTP exchange only, not during backoff sleeps; the timeout is
          // taken once the slot is ours, so time spent queueing for it counts against the deadline.
          const raw = await limiter.run(() => exchange(req, url.toString(), path, attemptTimeout(options.timeoutMs)));
          if (isRetryableStatus(raw.status)) throw new RetryableAnswer(raw);
          return raw;
        },
        judge(error) {
          if (error instanceof DeadlineExceeded) return { retry: false };
          if (error instanceof RetryableAnswer) {
            if (error.res.status !== 429 && error.res.status !== 503) ambiguous = true;
            return { retry: true, retryAfterMs: parseRetryAfter(error.res.headers.get("retry-after")) };
          }
          if (!neverReachedServer(error)) ambiguous = true;
          return { retry: true, retryAfterMs: null };
        },
        giveUp: (error, reason, attempts) =>
          error instanceof RetryableAnswer ? error : transportError(error, attempts, ctx, reason),
      });
    } catch (error) {
      if (error instanceof RetryableAnswer) res = error.res;
      else if (error instanceof DeadlineExceeded) {
        throw new UpstreamError(`WordPress ${req.method} ${path} not sent: ${error.message}`, "wordpress", "transient");
      } else throw error;
    }
    const body = parseJson(res.text);
    if (res.status >= 200 && res.status < 300) {
      if (body === undefined) {
        throw new UpstreamError(
          `WordPress ${req.method} ${path}: HTTP ${res.status} but not JSON. Is ${setting.url}=${siteUrl} a WordPress site?`,
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

  return { request, context: { url: siteUrl, username: options.username, setting } };
}

/** Flags an error as the answer to a write that an earlier, unanswered attempt may have applied. */
export function markAfterAmbiguousFailure(error: unknown): unknown {
  if (error instanceof UpstreamError)
    (error as UpstreamError & { afterAmbiguousFailure?: boolean }).afterAmbiguousFailure = true;
  return error;
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

/** WordPress's error `code` (a short identifier), for metrics and logs; null when the body has none. */
function errorCodeOf(text: string): string | null {
  const body = parseJson(text);
  return isObject(body) && typeof body.code === "string" ? body.code : null;
}
