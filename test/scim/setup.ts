/**
 * A service as deployed (configuration from variables, real PostgreSQL, the notification worker
 * running) with one SCIM job, driven over HTTP with app.inject as a provider would; WordPress is
 * the real one when WP_URL is set, else the fake one. Users get a per-test e-mail domain, so tests
 * sharing a real WordPress never see each other's users.
 */
import { randomBytes, randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../src/http/app";
import { openRuntime, type Runtime } from "../../src/runtime";
import {
  makeScimService,
  SCIM_MAX_BACKLOG,
  SCIM_MAX_OPERATIONS,
  SCIM_WAIT_MS,
  type ScimOptions,
} from "../../src/sync/scim";
import { makeTestDatabase } from "../helpers/db";
import { makeTempDir } from "../helpers/leftovers";
import { ADMIN_TOKEN, configOf, type WordPressUnderTest } from "../replicas/setup";

export const USER = "urn:ietf:params:scim:schemas:core:2.0:User";
export const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
export const PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

// biome-ignore lint/suspicious/noExplicitAny: a parsed JSON answer, walked freely by the tests
type Json = any;

export interface ScimService {
  app: FastifyInstance;
  runtime: Runtime;
  db: TestDatabase;
  domain: string;
  token: string;
  /** A SCIM request as the provider sends it (its token unless another is given). */
  scim(
    method: string,
    url: string,
    body?: unknown,
    token?: string,
  ): Promise<{ status: number; body: Json; headers: Record<string, unknown> }>;
  admin(method: string, url: string, body?: unknown): Promise<{ status: number; body: Json }>;
  close(): Promise<void>;
}

type TestDatabase = Awaited<ReturnType<typeof makeTestDatabase>>;

/**
 * The service with one SCIM job "entra" (`job` adds to it). On a database of its own, or on `db`
 * (a restart on the database of an earlier service, which may be closed already: only its URL is
 * used). `scim` sets the write path's bounds (the backlog past which writes get 503, the wait for
 * WordPress) instead of the service's constants, so a test reaches them without 20,000 writes.
 */
export async function startScimService(
  wp: Pick<WordPressUnderTest, "url" | "username" | "appPassword">,
  job: Record<string, unknown> = {},
  env: Record<string, string> = {},
  options: { db?: TestDatabase; scim?: Partial<Pick<ScimOptions, "maxBacklog" | "waitMs">> } = {},
): Promise<ScimService> {
  const db = options.db ?? (await makeTestDatabase());
  const dir = makeTempDir("ews-scim-");
  const jobsFile = path.join(dir, "jobs.json");
  fs.writeFileSync(jobsFile, JSON.stringify({ jobs: [{ id: "entra", source: { kind: "scim" }, ...job }] }));
  const config = configOf({
    DATABASE_URL: db.url!,
    PORT: "0",
    HOST: "127.0.0.1",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    ADMIN_TOKEN,
    PUBLIC_URL: "https://sync.example.test",
    WP_URL: wp.url,
    WP_USERNAME: wp.username,
    WP_APP_PASSWORD: wp.appPassword,
    SYNC_JOBS_FILE: jobsFile,
    DRIVER_INTERVAL_MS: "100",
    ...env,
  });
  const runtime = await openRuntime(config);
  if (options.scim) {
    runtime.scim = makeScimService({
      db: runtime.db,
      jobs: runtime.jobs,
      poke: () => runtime.notificationWorker?.poke(),
      waitMs: SCIM_WAIT_MS,
      maxBacklog: SCIM_MAX_BACKLOG,
      maxOperations: SCIM_MAX_OPERATIONS,
      ...options.scim,
    });
  }
  const app = await buildApp(runtime);
  runtime.startBackground();
  const admin = async (method: string, url: string, body?: unknown) => {
    const response = await app.inject({
      method: method as "GET",
      url,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      ...(body === undefined ? {} : { payload: body as object }),
    });
    return { status: response.statusCode, body: response.body ? response.json() : null };
  };
  const minted = await admin("POST", "/v1/jobs/entra/scim-tokens", {});
  if (minted.status !== 201) throw new Error(`no SCIM token: ${JSON.stringify(minted.body)}`);
  let closed = false;
  const service: ScimService = {
    app,
    runtime,
    db,
    domain: `s${randomBytes(5).toString("hex")}.example.org`,
    token: minted.body.token,
    admin,
    async scim(method, url, body, token = service.token) {
      const response = await app.inject({
        method: method as "GET",
        url: `/scim/v2/entra${url}`,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { "content-type": "application/scim+json" }),
        },
        ...(body === undefined ? {} : { payload: typeof body === "string" ? body : JSON.stringify(body) }),
      });
      return { status: response.statusCode, body: response.body ? response.json() : null, headers: response.headers };
    },
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      await runtime.close();
      if (!options.db) await db.close();
    },
  };
  return service;
}

/** A user as Entra's provisioning service creates it (aadOptscim062020 on). */
export function entraUser(domain: string, n: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const login = `user${n}@${domain}`;
  return {
    schemas: [USER, ENTERPRISE],
    externalId: randomUUID(),
    userName: login,
    active: true,
    displayName: `User ${n}`,
    name: { givenName: "User", familyName: `Number${n}`, formatted: `User ${n}` },
    emails: [{ primary: true, type: "work", value: login }],
    [ENTERPRISE]: { department: "Sales" },
    ...overrides,
  };
}

export const patchOf = (...operations: unknown[]) => ({ schemas: [PATCH], Operations: operations });
