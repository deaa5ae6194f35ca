/**
 * The admin API as the CLI's commands use it, wherever it runs: the service holding DATA_DIR on
 * the embedded database (PGlite lives in one process, so the CLI cannot open it beside the
 * service), or this process's own (src/local-service.ts). A command asks `api.call(...)` and gets
 * the JSON body; a problem answer becomes one sentence and an exit code (AdminApiError).
 *
 * To add a command: give it a CommandSpec and an `execute(args, api)` that
 * calls its admin routes; index.ts opens the API for it after its arguments were checked.
 */
import pino from "pino";
import type { Config } from "../config";
import { AppError, ConfigError, coerceError } from "../core/errors";
import { findService } from "../db/data-dir-lock";
import { type AdminRequest, type AdminTransport, openInProcessAdmin } from "../local-service";
import { readableLogDestination } from "./log-lines";

export interface AdminApi {
  /** Where the calls go, for the user: "the service at http://127.0.0.1:3000 (pid 4242)", or null (this process). */
  readonly via: string | null;
  /** The JSON body of a 2xx answer; throws AdminApiError for a problem answer. */
  call<T>(method: AdminRequest["method"], path: string, body?: unknown): Promise<T>;
  close(): Promise<void>;
}

/** A problem the admin API answered (or could not be reached: status 503), as one sentence. */
export class AdminApiError extends AppError {}

/** 429: wait as long as Retry-After says (at most this often) before giving up. */
const RATE_LIMIT_RETRIES = 5;

/**
 * Opens the admin API for a command: through the service holding DATA_DIR when there is one
 * (embedded database only), else in this process.
 */
export async function openAdminApi(config: Config): Promise<AdminApi> {
  const service = config.databaseUrl === null ? findService(config.dataDir) : null;
  if (service) {
    return makeAdminApi(
      remoteTransport(service.url, service.token),
      `the service at ${service.url} (pid ${service.pid})`,
      async () => {},
    );
  }
  const verbose = config.logLevel === "debug" || config.logLevel === "trace";
  const local = await openInProcessAdmin(cliConfig(config), {
    logDestination: verbose
      ? pino.destination({ fd: 2, sync: true })
      : readableLogDestination((text) => process.stderr.write(text)),
  });
  return makeAdminApi(local.send, null, local.close);
}

/** The CLI keeps its own output readable: info-level engine logs only when asked for more (debug, trace). */
function cliConfig(config: Config): Config {
  return config.logLevel === "info" ? { ...config, logLevel: "warn" } : config;
}

function makeAdminApi(send: AdminTransport, via: string | null, close: () => Promise<void>): AdminApi {
  return {
    via,
    close,
    async call<T>(method: AdminRequest["method"], path: string, body?: unknown): Promise<T> {
      for (let attempt = 0; ; attempt++) {
        const response = await send({ method, path, ...(body === undefined ? {} : { body }) });
        if (response.status < 300) return response.body as T;
        const problem = (response.body ?? {}) as { detail?: unknown; title?: unknown };
        const detail = typeof problem.detail === "string" ? problem.detail : String(problem.title ?? response.status);
        if (response.status === 429 && attempt < RATE_LIMIT_RETRIES) {
          await new Promise((resolve) => setTimeout(resolve, 1000 * Number(response.headers["retry-after"] ?? 1)));
          continue;
        }
        if (response.status === 401) {
          throw new ConfigError(`${via ?? "the admin API"} refused this process's token (${detail})`);
        }
        throw new AdminApiError(detail, response.status, "admin_api");
      }
    },
  };
}

/**
 * fetch to a listening service. Redirects are refused: the token must go to this address only.
 * Any failure to get an answer is one sentence naming the address.
 */
function remoteTransport(url: string, token: string): AdminTransport {
  return async ({ method, path, body }) => {
    let response: Response;
    try {
      response = await fetch(new URL(path, url), {
        method,
        redirect: "error",
        headers: {
          authorization: `Bearer ${token}`,
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      const cause = coerceError((error as { cause?: unknown }).cause ?? error);
      throw new AdminApiError(`could not reach the service at ${url}: ${cause.message}`, 503, "unreachable");
    }
    const text = await response.text();
    return {
      status: response.status,
      headers: { "retry-after": response.headers.get("retry-after") ?? undefined },
      body: text ? JSON.parse(text) : null,
    };
  };
}
