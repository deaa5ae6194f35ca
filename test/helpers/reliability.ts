/**
 * Shared pieces of the reliability suite (test/reliability): seeded randomness that prints its
 * seed, a TCP proxy a test can cut and restore (between the service and WordPress or PostgreSQL),
 * the environment of a fully configured service, and the end-state checks every test ends with:
 * the database is consistent and WordPress holds exactly the expected users.
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import net from "node:net";
import type { Pool } from "pg";
import { COUNTERS, type RunCounts, zeroCounts } from "../../src/core/runs";
import * as jobsRepository from "../../src/db/jobs";
import { type LinkMinter, linkAudience, linkCutoffsFrom, makeLinks } from "../../src/links";
import type { LinkAction } from "../../src/links/tokens";
import type { GraphSimulator, SimUser } from "../../tools/graph-sim";
import { countsFromItems } from "./db";
import { type WordPressTarget, wpFetch } from "./wordpress";

export const RELIABILITY_ADMIN_TOKEN = "reliability-admin-token-0123456789abcdef";
export const RELIABILITY_KEYS = [{ kid: "rel", secret: "reliability-signing-secret-0123456789abcdef" }];

// ---------------------------------------------------------------------------------------------
// Seeded randomness

/** mulberry32: tiny, fast, good enough to pick kill moments and fuzz inputs reproducibly. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** RELIABILITY_SEED when set (to replay a failure), else a fresh one; printed either way. */
export function testSeed(what: string): number {
  const given = process.env.RELIABILITY_SEED;
  const seed = given ? Number(given) : randomBytes(4).readUInt32LE(0);
  process.stdout.write(`[reliability] ${what}: seed ${seed} (replay with RELIABILITY_SEED=${seed})\n`);
  return seed;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls until check() is truthy; throws after timeoutMs (no test can hang on it). */
export async function waitFor<T>(what: string, check: () => Promise<T> | T, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last})` : ""}`);
}

// ---------------------------------------------------------------------------------------------
// A TCP proxy the test controls

export interface TcpProxy {
  port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Destroys every open connection and refuses (resets) new ones until restore(). */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/**
 * A plain byte pipe to target. cut() behaves like the far side going away: open sockets are
 * destroyed and new connections are accepted and reset at once (a refused connection, quickly,
 * rather than a hang on a black hole: nothing in the suite may wait for a TCP timeout).
 */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<net.Socket>();
  let down = false;
  let accepted = 0;
  const server = net.createServer((client) => {
    accepted++;
    if (down) {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(target.port, target.host);
    open.add(client);
    open.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    get accepted() {
      return accepted;
    },
    cut() {
      down = true;
      for (const socket of open) socket.resetAndDestroy();
      open.clear();
    },
    restore() {
      down = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        down = true;
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** An HTTP proxy that forwards each request at once and holds the answer back (a WordPress that is slow to answer). */
export interface SlowHttpProxy {
  url: string;
  /** How long answers are held; 0 passes them through. */
  delayMs: number;
  /** Only these methods are slowed (all when null). */
  slowMethods: Set<string> | null;
  /** Requests forwarded so far, by method (whatever became of the client that sent them). */
  readonly forwarded: Record<string, number>;
  /** Sends every answer held back now (to clients still waiting). */
  release(): void;
  close(): Promise<void>;
}

/**
 * The request reaches WordPress immediately, so a write the client gave up on is applied anyway:
 * the worst case for "no user written twice".
 */
export async function startSlowHttpProxy(target: string): Promise<SlowHttpProxy> {
  const upstream = new URL(target);
  const held = new Set<() => void>();
  const forwarded: Record<string, number> = {};
  const proxy: SlowHttpProxy = {
    url: "",
    delayMs: 0,
    slowMethods: null,
    forwarded,
    release() {
      for (const send of [...held]) send();
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server = http.createServer((req, res) => {
    const method = req.method ?? "GET";
    forwarded[method] = (forwarded[method] ?? 0) + 1;
    const delay = proxy.slowMethods === null || proxy.slowMethods.has(method) ? proxy.delayMs : 0;
    const out = http.request(
      { host: upstream.hostname, port: upstream.port, method, path: req.url, headers: req.headers },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on("data", (chunk: Buffer) => chunks.push(chunk));
        answer.on("end", () => {
          const send = () => {
            held.delete(send);
            clearTimeout(timer);
            if (res.destroyed) return;
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(Buffer.concat(chunks));
          };
          const timer = setTimeout(send, delay);
          held.add(send);
        });
      },
    );
    out.on("error", () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}${upstream.pathname.replace(/\/+$/, "")}`;
  return proxy;
}

/** The same URL with host:port replaced by the proxy's. */
export function throughProxy(url: string, proxy: TcpProxy): string {
  const parsed = new URL(url);
  parsed.hostname = "127.0.0.1";
  parsed.port = String(proxy.port);
  return parsed.toString().replace(/\/+$/, "");
}

export function hostPort(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  const fallback = parsed.protocol === "postgres:" || parsed.protocol === "postgresql:" ? 5432 : 80;
  return { host: parsed.hostname || "127.0.0.1", port: Number(parsed.port || fallback) };
}

// ---------------------------------------------------------------------------------------------
// A configured service

export interface ServiceEnvOptions {
  databaseUrl: string;
  sim: GraphSimulator;
  wp: WordPressTarget;
  pageSize?: number;
  stepBudgetMs?: number;
  maxFailedSteps?: number;
  port?: number;
  extra?: Record<string, string>;
}

/** The environment of a service wired to the simulator and a WordPress, link-start-continue. */
export function serviceEnv(o: ServiceEnvOptions): Record<string, string> {
  return {
    DATABASE_URL: o.databaseUrl,
    PORT: String(o.port ?? 0),
    HOST: "127.0.0.1",
    LOG_LEVEL: "warn",
    ADMIN_TOKEN: RELIABILITY_ADMIN_TOKEN,
    LINK_SIGNING_KEYS: RELIABILITY_KEYS.map((k) => `${k.kid}:${k.secret}`).join(","),
    STEP_BUDGET_MS: String(o.stepBudgetMs ?? 10_000),
    MAX_FAILED_STEPS: String(o.maxFailedSteps ?? 50),
    // The storms below are the callers; the per-IP link limit would answer them 429 instead.
    RATE_LIMIT_MAX: "1000000",
    RATE_LIMIT_AUTH_FAILURES: "1000000",
    AZURE_TENANT_ID: o.sim.tenantId,
    AZURE_CLIENT_ID: o.sim.clientId,
    AZURE_CLIENT_SECRET: o.sim.clientSecret,
    AZURE_AUTHORITY_HOST: o.sim.url,
    GRAPH_BASE_URL: o.sim.url,
    WP_URL: o.wp.url,
    WP_USERNAME: o.wp.username,
    WP_APP_PASSWORD: o.wp.appPassword,
    SYNC_TRIGGER_MODE: "link-start-continue",
    SYNC_PAGE_SIZE: String(o.pageSize ?? 10),
    // Other test files share the WordPress: a run here must never remove anyone it did not create.
    SYNC_MISSING: "none",
    ...o.extra,
  };
}

/**
 * What mints links like a service on this database would (its deployment id is read from the
 * database, so a service must have started on it first): for services in a child process.
 */
export async function minterOn(pool: Pool): Promise<LinkMinter> {
  const { rows } = await pool.query<{ value: string }>("select value from secrets where name = 'deployment_id'");
  return {
    config: { publicUrl: "http://localhost", linkDefaultTtlSeconds: 86_400 },
    secrets: { signingKeys: RELIABILITY_KEYS, linkAudience: linkAudience(rows[0]!.value) },
    linkCutoffs: linkCutoffsFrom(pool, jobsRepository),
  };
}

/** The token of a link as the service (its runtime, or minterOn its database) mints it. */
export async function linkToken(service: LinkMinter, act: LinkAction, job = "default"): Promise<string> {
  const links = await makeLinks(service, job);
  return new URL(links[act]).searchParams.get("token")!;
}

/** Calls a trigger link; never throws on a status (the caller asserts it). */
export async function callLink(
  baseUrl: string,
  act: LinkAction,
  token: string,
  timeoutMs = 30_000,
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are checked by the tests
): Promise<{ status: number; type: string; retryAfter: string | null; body: any; text: string; ms: number }> {
  const started = Date.now();
  const res = await fetch(`${baseUrl}/v1/jobs/default/${act}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: the test sees the text
  }
  return {
    status: res.status,
    type: res.headers.get("content-type") ?? "",
    retryAfter: res.headers.get("retry-after"),
    body,
    text,
    ms: Date.now() - started,
  };
}

// ---------------------------------------------------------------------------------------------
// End state: the database

export interface RunRow {
  id: string;
  state: string;
  step: number;
  locked_by: string | null;
  last_error: string | null;
  consecutive_failures: number;
  counts: RunCounts;
}

export async function runRow(pool: Pool, runId: string): Promise<RunRow> {
  const { rows } = await pool.query("select * from runs where id = $1::uuid", [runId]);
  const r = rows[0];
  if (!r) throw new Error(`no run ${runId}`);
  const counts = zeroCounts();
  for (const key of COUNTERS) counts[key] = r[key];
  return {
    id: r.id,
    state: r.state,
    step: r.step,
    locked_by: r.locked_by,
    last_error: r.last_error,
    consecutive_failures: r.consecutive_failures,
    counts,
  };
}

/**
 * The database invariants after a run: the run is in `state` with no lease held, its counters
 * equal a group-by of its items, there is one item per Entra user, and the user map has one row
 * per Entra user with no WordPress user mapped twice. Returns the user map.
 */
export async function expectConsistentDatabase(
  pool: Pool,
  runId: string,
  expected: { state: string; entraIds: string[]; failedIds?: string[] },
): Promise<Array<{ entra_id: string; wp_user_id: number; state: string }>> {
  const run = await runRow(pool, runId);
  expect({ state: run.state, locked_by: run.locked_by }).toEqual({ state: expected.state, locked_by: null });
  expect(run.counts).toEqual(await countsFromItems(pool, runId));
  const { rows: runs } = await pool.query(
    "select state, count(*)::int as n from runs where state in ('queued', 'listing', 'reconciling') group by state",
  );
  expect(runs).toEqual([]);

  const { rows: items } = await pool.query<{ entra_id: string; n: number; status: string }>(
    "select entra_id, count(*)::int as n, min(status) as status from run_items where run_id = $1::uuid group by entra_id",
    [runId],
  );
  expect(items.filter((i) => i.n !== 1)).toEqual([]);
  expect(items.map((i) => i.entra_id).sort()).toEqual([...expected.entraIds].sort());
  const failed = items.filter((i) => i.status === "failed").map((i) => i.entra_id);
  expect(failed.sort()).toEqual([...(expected.failedIds ?? [])].sort());

  const { rows: map } = await pool.query<{ entra_id: string; wp_user_id: number; state: string }>(
    "select entra_id, wp_user_id, state from user_map where job_id = 'default' order by entra_id",
  );
  const mapped = expected.entraIds.filter((id) => !(expected.failedIds ?? []).includes(id));
  expect(map.map((m) => m.entra_id).sort()).toEqual([...mapped].sort());
  const wpIds = map.map((m) => m.wp_user_id);
  expect(new Set(wpIds).size).toBe(wpIds.length);
  return map;
}

// ---------------------------------------------------------------------------------------------
// End state: WordPress

export interface WpUserView {
  id: number;
  username: string;
  email: string;
  name: string;
  first_name: string;
  last_name: string;
  roles: string[];
}

/** Every WordPress user whose e-mail ends with @domain (context=edit, all pages). */
export async function wordpressUsersOf(wp: WordPressTarget, domain: string): Promise<WpUserView[]> {
  const out: WpUserView[] = [];
  for (let page = 1; page < 100; page++) {
    const res = await wpFetch(
      wp,
      "GET",
      `/wp/v2/users?context=edit&per_page=100&page=${page}&search=${encodeURIComponent(domain)}` +
        "&_fields=id,username,email,name,first_name,last_name,roles",
    );
    if (res.status === 400 && page > 1) break; // past the last page
    if (res.status !== 200)
      throw new Error(`listing WordPress users failed: ${res.status} ${JSON.stringify(res.body)}`);
    const users = res.body as WpUserView[];
    out.push(...users.filter((u) => u.email.toLowerCase().endsWith(`@${domain.toLowerCase()}`)));
    if (users.length < 100) break;
  }
  return out;
}

/** Deletes the test's users (by e-mail domain), posts reassigned to the admin. */
export async function deleteWordPressUsersOf(wp: WordPressTarget, domain: string): Promise<void> {
  const users = await wordpressUsersOf(wp, domain);
  const me = await wpFetch(wp, "GET", "/wp/v2/users/me");
  for (let i = 0; i < users.length; i += 8) {
    await Promise.all(
      users.slice(i, i + 8).map((u) => wpFetch(wp, "DELETE", `/wp/v2/users/${u.id}?force=true&reassign=${me.body.id}`)),
    );
  }
}

/**
 * WordPress holds exactly one user per expected Entra user (matched by e-mail), no duplicate
 * e-mails, with the mapped fields and the default role; the user map points at those users.
 */
export async function expectWordPressHolds(
  wp: WordPressTarget,
  domain: string,
  users: SimUser[],
  map?: Array<{ entra_id: string; wp_user_id: number }>,
): Promise<WpUserView[]> {
  const present = await wordpressUsersOf(wp, domain);
  const emails = present.map((u) => u.email.toLowerCase());
  expect(emails.filter((e, i) => emails.indexOf(e) !== i)).toEqual([]); // no duplicates by e-mail
  const want = users.map((u) => ({
    email: (u.mail ?? u.userPrincipalName).toLowerCase(),
    first_name: u.givenName ?? "",
    last_name: u.surname ?? "",
    name: u.displayName,
    roles: ["subscriber"],
  }));
  const got = present.map((u) => ({
    email: u.email.toLowerCase(),
    first_name: u.first_name,
    last_name: u.last_name,
    name: u.name,
    roles: u.roles,
  }));
  const byEmail = (a: { email: string }, b: { email: string }) => a.email.localeCompare(b.email);
  expect(got.sort(byEmail)).toEqual(want.sort(byEmail));
  if (map) {
    const idByEmail = new Map(present.map((u) => [u.email.toLowerCase(), u.id]));
    for (const user of users) {
      const row = map.find((m) => m.entra_id === user.id);
      expect({ entra: user.id, wp: row?.wp_user_id }).toEqual({
        entra: user.id,
        wp: idByEmail.get((user.mail ?? user.userPrincipalName).toLowerCase()),
      });
    }
  }
  return present;
}

/** A domain no other test (or run) uses, so the shared WordPress can be filtered and cleaned by it. */
export function uniqueDomain(what: string): string {
  return `${what}-${randomBytes(5).toString("hex")}.example.test`;
}

/** Installs a trigger in the test's own database that logs every lease change of runs. */
export async function recordLeaseChanges(
  pool: Pool,
): Promise<() => Promise<Array<{ from: string | null; to: string | null }>>> {
  await pool.query(`
    create table if not exists rel_lease_log (id bigserial primary key, run_id uuid, from_owner text, to_owner text, at timestamptz default clock_timestamp());
    create or replace function rel_log_lease() returns trigger language plpgsql as $$
    begin
      if old.locked_by is distinct from new.locked_by then
        insert into rel_lease_log (run_id, from_owner, to_owner) values (new.id, old.locked_by, new.locked_by);
      end if;
      return new;
    end $$;
    drop trigger if exists rel_lease_log on runs;
    create trigger rel_lease_log after update on runs for each row execute function rel_log_lease();
  `);
  return async () => {
    const { rows } = await pool.query<{ from: string | null; to: string | null }>(
      'select from_owner as "from", to_owner as "to" from rel_lease_log order by id',
    );
    return rows;
  };
}

// ---------------------------------------------------------------------------------------------
// Driving a run through its links

export type LinkResponse = Awaited<ReturnType<typeof callLink>>;

/** One caller at a time, as a monitor would: continue until the run settles (bounded), every answer 200. */
export async function driveToEnd(baseUrl: string, token: string, maxCalls = 200): Promise<LinkResponse> {
  let last: LinkResponse | null = null;
  for (let i = 0; i < maxCalls; i++) {
    last = await callLink(baseUrl, "continue", token);
    expect({ status: last.status, body: last.status === 200 ? "" : last.text }).toEqual({ status: 200, body: "" });
    if (["completed", "failed", "cancelled", "awaiting_approval"].includes(last.body.run?.state)) return last;
  }
  throw new Error(`the run did not settle in ${maxCalls} continue calls: ${last?.text}`);
}

/** Everything a response must never show: configured secrets and link tokens. */
export function secretsIn(text: string, extra: string[] = []): string[] {
  const secrets = [RELIABILITY_ADMIN_TOKEN, ...RELIABILITY_KEYS.map((k) => k.secret), ...extra].filter(
    (s) => s.length >= 8,
  );
  return secrets.filter((s) => text.includes(s));
}
