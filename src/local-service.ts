/**
 * The admin API for the CLI on this machine. The CLI's commands (status, links, run, user,
 * scim-token) are written once, against the admin API; they reach it either through the service
 * that holds DATA_DIR (its address and local token are in the lock file there: db/data-dir-lock.ts)
 * or, with no service beside them, through the same app built inside the CLI's own process over
 * its own runtime (Fastify's inject: no port is opened). Either way the local token is a fresh
 * random secret of the process that serves, accepted like the admin token (http/auth.ts), so
 * neither path needs ADMIN_TOKEN.
 */
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { Config } from "./config";
import { secretDigest } from "./core/hash";
import { buildApp } from "./http/app";
import { openRuntime, type RuntimeOptions } from "./runtime";

export interface AdminRequest {
  method: "GET" | "POST" | "DELETE";
  /** The path and query, e.g. "/v1/jobs/staff/runs?limit=3". */
  path: string;
  body?: unknown;
}

export interface AdminResponse {
  status: number;
  headers: Record<string, string | undefined>;
  /** The parsed JSON body (problem+json for errors), or null for an empty one. */
  body: unknown;
}

export type AdminTransport = (request: AdminRequest) => Promise<AdminResponse>;

/** A process's local token and the digest the app compares it with. */
export function makeLocalToken(): { token: string; digest: Buffer } {
  const token = randomBytes(32).toString("base64url");
  return { token, digest: secretDigest(token) };
}

/**
 * Where the CLI on this machine reaches a listening server: a wildcard address (HOST 0.0.0.0 or
 * ::) through the loopback, never PUBLIC_URL (a proxy in front may not route the admin API).
 */
export function loopbackUrl(address: AddressInfo): string {
  const host = address.address === "0.0.0.0" ? "127.0.0.1" : address.address === "::" ? "::1" : address.address;
  return `http://${host.includes(":") ? `[${host}]` : host}:${address.port}`;
}

/** The admin API inside this process, over a runtime of its own (which takes DATA_DIR's lock on the embedded database). */
export async function openInProcessAdmin(
  config: Config,
  options: Pick<RuntimeOptions, "logDestination"> = {},
): Promise<{ send: AdminTransport; close(): Promise<void> }> {
  const runtime = await openRuntime(config, options);
  try {
    const local = makeLocalToken();
    const app = await buildApp({ ...runtime, localTokenDigest: local.digest });
    const send: AdminTransport = async ({ method, path, body }) => {
      const response = await app.inject({
        method,
        url: path,
        headers: { authorization: `Bearer ${local.token}` },
        ...(body === undefined ? {} : { payload: body as Record<string, unknown> }),
      });
      return {
        status: response.statusCode,
        headers: Object.fromEntries(Object.entries(response.headers).map(([name, value]) => [name, String(value)])),
        body: response.body ? JSON.parse(response.body) : null,
      };
    };
    return {
      send,
      async close() {
        await app.close();
        await runtime.close();
      },
    };
  } catch (error) {
    await runtime.close();
    throw error;
  }
}
