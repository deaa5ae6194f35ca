/**
 * The access rules that only show across a whole service: links bound to one deployment,
 * revocation that survives a restart, the admin token kept only as a hash (and never written to
 * a log stream), the embedded PostgreSQL reachable by the service's user alone.
 */

// light-my-request (app.inject) requires cookie@2, which is ESM-only (see test/http/harness.ts).
jest.mock("cookie", () => ({
  stringifySetCookie: () => {
    throw new Error("these tests do not inject cookies");
  },
}));

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { ADMIN_TOKEN_FILE } from "../src/bootstrap";
import { loadConfig } from "../src/config";
import type { Database } from "../src/db/pool";
import { openDatabase } from "../src/db/pool";
import { buildApp } from "../src/http/app";
import { makeLinks } from "../src/links";
import { openRuntime, type Runtime } from "../src/runtime";
import { makeTestDatabase, silentLogger } from "./helpers/db";
import { logSink } from "./helpers/log-sink";

const KEYS = "shared:a-signing-secret-both-deployments-share-0123";
const ADMIN_TOKEN = "configured-admin-token-0123456789abcdef";

const databases: Database[] = [];
const opened: Array<{ runtime: Runtime; app: FastifyInstance }> = [];
afterEach(async () => {
  for (const { runtime, app } of opened.splice(0)) {
    await app.close();
    await runtime.close();
  }
});
afterAll(async () => {
  for (const db of databases) await db.close();
});

async function aDatabase(): Promise<Database & { url: string | null }> {
  const db = await makeTestDatabase();
  databases.push(db);
  return db;
}

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "ews-security-"));

/** One deployment (runtime + app) on `db`; options.print captures the generated admin token's line. */
async function deployment(
  db: { url: string | null },
  env: Record<string, string> = {},
  print?: (line: string) => void,
) {
  const log = logSink();
  const config = loadConfig({ DATABASE_URL: db.url ?? "", DATA_DIR: tempDir(), LINK_SIGNING_KEYS: KEYS, ...env });
  const runtime = await openRuntime(config, { logDestination: log.destination, ...(print ? { print } : {}) });
  const app = await buildApp(runtime);
  opened.push({ runtime, app });
  return { runtime, app, log };
}

const pathOf = (link: string) => {
  const url = new URL(link);
  return `${url.pathname}${url.search}`;
};

describe("link tokens", () => {
  it("of deployment A are refused by deployment B, though both share keys and job ids", async () => {
    const a = await deployment(await aDatabase(), { ADMIN_TOKEN });
    const b = await deployment(await aDatabase(), { ADMIN_TOKEN });
    const links = await makeLinks(a.runtime, "default");
    const atB = await b.app.inject({ method: "HEAD", url: pathOf(links.continue) });
    expect(atB.statusCode).toBe(401);
    const refused = await b.app.inject({ method: "GET", url: pathOf(links.continue) });
    expect(refused.json()).toMatchObject({ status: 401, reason: "wrong-deployment" });
    expect((await a.app.inject({ method: "HEAD", url: pathOf(links.continue) })).statusCode).toBe(200);
  });

  it("stay refused after a revocation and a restart, while links minted after it work", async () => {
    const db = await aDatabase();
    const first = await deployment(db, { ADMIN_TOKEN });
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const old = (await first.app.inject({ method: "POST", url: "/v1/jobs/default/links", headers: admin })).json();
    expect((await first.app.inject({ method: "HEAD", url: pathOf(old.continue) })).statusCode).toBe(200);
    const revoked = await first.app.inject({ method: "POST", url: "/v1/jobs/default/links/revoke", headers: admin });
    expect(revoked.statusCode).toBe(200);
    // Minted in the same second as the revocation: still valid, never born revoked.
    const fresh = (await first.app.inject({ method: "POST", url: "/v1/jobs/default/links", headers: admin })).json();
    await first.app.close();
    await first.runtime.close();
    opened.splice(0);

    const restarted = await deployment(db, { ADMIN_TOKEN });
    const again = await restarted.app.inject({ method: "GET", url: pathOf(old.continue) });
    expect(again.statusCode).toBe(401);
    expect(again.json().reason).toBe("revoked");
    expect((await restarted.app.inject({ method: "HEAD", url: pathOf(fresh.continue) })).statusCode).toBe(200);
  });
});

describe("the admin token", () => {
  /** Every row of every table of the public schema, as text. */
  async function everything(db: Database): Promise<string> {
    const { rows: tables } = await db.pool.query<{ name: string }>(
      "select table_name as name from information_schema.tables where table_schema = 'public'",
    );
    const dumps = await Promise.all(
      tables.map(async ({ name }) => (await db.pool.query(`select t::text as row from "${name}" t`)).rows),
    );
    return JSON.stringify(dumps);
  }

  it("is kept in the database only as a hash when generated, and keeps working after a restart", async () => {
    const db = await aDatabase();
    const lines: string[] = [];
    const first = await deployment(db, {}, (line) => lines.push(line));
    const token = /ADMIN_TOKEN[^:]*: (\S+)/.exec(lines.join("\n"))?.[1];
    expect(token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(await everything(db)).not.toContain(token);
    const { rows } = await db.pool.query("select name from secrets order by name");
    expect(rows.map((row) => row.name)).toEqual(["admin_token_sha256", "deployment_id"]);
    const authorization = `Bearer ${token}`;
    expect((await first.app.inject({ method: "GET", url: "/v1/jobs", headers: { authorization } })).statusCode).toBe(
      200,
    );

    const second = await deployment(db, {}, (line) => lines.push(line));
    expect(lines).toHaveLength(1); // shown once, at the first start only
    expect((await second.app.inject({ method: "GET", url: "/v1/jobs", headers: { authorization } })).statusCode).toBe(
      200,
    );
    const wrong = await second.app.inject({ method: "GET", url: "/v1/jobs", headers: { authorization: "Bearer x" } });
    expect(wrong.statusCode).toBe(401);
  });

  it("generated by an earlier version and stored in clear is replaced by its hash on upgrade, and still works", async () => {
    const db = await aDatabase();
    const old = "token-an-earlier-version-generated-0123456789";
    // The database as the version before migration 0004 left it.
    await db.pool.query(`delete from schema_migrations where version = 4;
      drop table rate_limit_buckets; alter table jobs drop column links_valid_from;
      insert into secrets (name, value) values ('admin_token', '${old}')`);
    const { app } = await deployment(db);
    expect(await everything(db)).not.toContain(old);
    const authorization = `Bearer ${old}`;
    expect((await app.inject({ method: "GET", url: "/v1/jobs", headers: { authorization } })).statusCode).toBe(200);
  });

  it("is never stored when configured", async () => {
    const db = await aDatabase();
    await deployment(db, { ADMIN_TOKEN });
    expect(await everything(db)).not.toContain(ADMIN_TOKEN);
  });

  it("when generated without a terminal goes to a 0600 file in a 0700 DATA_DIR whose path is logged, never to the log", async () => {
    const isTTY = process.stdout.isTTY;
    Object.defineProperty(process.stdout, "isTTY", { value: undefined, configurable: true });
    try {
      const dataDir = path.join(tempDir(), "data");
      const { log } = await deployment(await aDatabase(), { DATA_DIR: dataDir });
      const file = path.join(dataDir, ADMIN_TOKEN_FILE);
      const token = fs.readFileSync(file, "utf8").trim();
      expect(token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
      expect(log.text()).not.toContain(token);
      const line = log.lines.map((l) => JSON.parse(l)).find((l) => l.file === file);
      expect(line).toMatchObject({ level: 40, msg: expect.stringContaining("generated an admin token") });
    } finally {
      Object.defineProperty(process.stdout, "isTTY", { value: isTTY, configurable: true });
    }
  });
});

describe("the embedded PostgreSQL", () => {
  it("is served on a Unix socket in a 0700 directory (no TCP port) and keeps DATA_DIR 0700", async () => {
    const dataDir = path.join(tempDir(), "data");
    fs.mkdirSync(dataDir, { mode: 0o755 });
    fs.chmodSync(dataDir, 0o755);
    const db = await openDatabase({ url: null, dataDir, logger: silentLogger });
    try {
      const { host, port } = db.pool.options;
      expect(host).toMatch(/^\//);
      expect(fs.statSync(host!).mode & 0o777).toBe(0o700);
      expect(fs.statSync(path.join(host!, `.s.PGSQL.${port}`)).isSocket()).toBe(true);
      expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
      const { rows } = await db.pool.query("select 1 as one");
      expect(rows).toEqual([{ one: 1 }]);
    } finally {
      await db.close();
    }
  });
});
