/**
 * Unauthenticated requests cost work only within a budget: a client address that has spent its
 * failure budget (RATE_LIMIT_AUTH_FAILURES) on forged change notifications, link tokens or admin
 * tokens is refused from memory, without a database query, and its refusals are summed in the
 * log instead of a line each; a valid caller, from that address or another, is still served.
 * Database work is counted at the pool the app is given.
 */
import { randomBytes } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { Pool } from "pg";
import { loadConfig } from "../../src/config";
import * as jobsRepository from "../../src/db/jobs";
import type { Database } from "../../src/db/pool";
import { buildApp } from "../../src/http/app";
import { linkCutoffsFrom } from "../../src/links";
import { makeLogger } from "../../src/logger";
import { hashClientState } from "../../src/sync/notification-inbox";
import { aJob } from "../helpers/builders";
import { makeTestDatabase } from "../helpers/db";
import { makeHarness as makeEngine } from "../helpers/engine";
import { logSink } from "../helpers/log-sink";
import { ADMIN_TOKEN, testSecrets, tokenFor } from "./harness";

const BUDGET = 5;
const FORGED = 200;
const ATTACKER = "203.0.113.9";
const GRAPH = "52.159.23.1";
const GUESSER = "198.51.100.7";
const CLIENT_STATE = randomBytes(32).toString("base64url");
const USER = "0b6c2f8e-3a41-4d7e-9f10-2c5b8a7d6e41";

/** The pool with every query and checkout counted (what a request costs the database). */
function countingPool(pool: Pool): { pool: Pool; queries: () => number } {
  let count = 0;
  const counted = new Proxy(pool, {
    get(target, property) {
      const value = Reflect.get(target, property);
      if (property === "query" || property === "connect") {
        return (...args: unknown[]) => {
          count += 1;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { pool: counted, queries: () => count };
}

let db: Database;
let app: FastifyInstance;
let queries: () => number;
let jobId: string;
const log = logSink();

beforeAll(async () => {
  db = await makeTestDatabase();
  const engine = makeEngine(db, { job: aJob().withUniqueId().build() });
  await engine.service.ready();
  jobId = engine.service.jobs()[0]!.id;
  const counting = countingPool(db.pool);
  queries = counting.queries;
  app = await buildApp({
    config: loadConfig({ PUBLIC_URL: "https://sync.example.org", RATE_LIMIT_AUTH_FAILURES: String(BUDGET) }),
    logger: makeLogger({ level: "info", destination: log.destination }),
    db: { ...db, pool: counting.pool },
    secrets: testSecrets(),
    sync: engine.service,
    linkCutoffs: linkCutoffsFrom(counting.pool, jobsRepository),
  });
  await db.pool.query(
    `insert into graph_subscriptions (job_id, resource, subscription_id, client_state_hash, expires_at)
     values ($1::text, 'users', 'sub-1', $2::bytea, now() + interval '1 day')`,
    [jobId, hashClientState(CLIENT_STATE)],
  );
});
afterAll(async () => {
  await app?.close();
  await db?.close();
});

const change = (overrides: Record<string, unknown> = {}) => ({
  subscriptionId: "sub-1",
  clientState: CLIENT_STATE,
  changeType: "updated",
  resource: `Users/${USER}`,
  resourceData: { "@odata.type": "#Microsoft.Graph.User", id: USER },
  ...overrides,
});
const post = (remoteAddress: string, value: unknown[]) =>
  app.inject({ method: "POST", url: "/v1/notifications/graph", remoteAddress, payload: { value } });
const stored = async () => (await db.pool.query("select count(*)::int as n from graph_notifications")).rows[0].n;
const logged = (text: string) => log.lines.filter((line) => line.includes(text));

it("keeps an address past its budget of forged notifications off the database, sums its log lines, and still takes genuine ones", async () => {
  // Graph's first delivery: the subscription is read once and known from then on.
  expect((await post(GRAPH, [change()])).statusCode).toBe(202);
  expect(await stored()).toBe(1);

  const before = queries();
  for (let i = 0; i < FORGED; i++) {
    const forged = i % 2 === 0 ? change({ clientState: `guess-${i}` }) : change({ subscriptionId: `forged-${i}` });
    expect((await post(ATTACKER, [forged])).statusCode).toBe(202);
  }
  // One lookup per forged post until the budget is spent (BUDGET + 1 failures), none after.
  expect(queries() - before).toBeLessThanOrEqual(BUDGET + 1);
  expect(await stored()).toBe(1);
  expect(logged("notifications refused")).toHaveLength(1);

  // A genuine notification is stored, from Graph and even from the address over its budget.
  expect((await post(GRAPH, [change()])).statusCode).toBe(202);
  expect((await post(ATTACKER, [change()])).statusCode).toBe(202);
  expect(await stored()).toBe(3);
});

it("refuses an address past its budget of forged link and admin tokens without a database query, and serves a valid link from it", async () => {
  const before = queries();
  const statuses: Record<number, number> = {};
  for (let i = 0; i < FORGED; i++) {
    const guess =
      i % 2 === 0
        ? await app.inject({
            method: "GET",
            url: `/v1/jobs/${jobId}/continue?token=guess${i}.x.y`,
            remoteAddress: GUESSER,
          })
        : await app.inject({
            method: "GET",
            url: "/v1/jobs",
            remoteAddress: GUESSER,
            headers: { authorization: `Bearer guess-${i}` },
          });
    statuses[guess.statusCode] = (statuses[guess.statusCode] ?? 0) + 1;
  }
  expect(statuses).toEqual({ 401: BUDGET, 429: FORGED - BUDGET });
  // One shared budget write per failure until the budget is spent, none after.
  expect(queries() - before).toBeLessThanOrEqual(BUDGET + 1);
  expect(logged("too many failed authentications")).toHaveLength(1);

  const valid = await tokenFor(jobId, "continue");
  const monitor = await app.inject({
    method: "GET",
    url: `/v1/jobs/${jobId}/continue?token=${valid}`,
    remoteAddress: GUESSER,
  });
  expect(monitor.statusCode).toBe(200);
  const admin = await app.inject({
    method: "GET",
    url: "/v1/jobs",
    remoteAddress: GUESSER,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  expect(admin.statusCode).toBe(200);
});

it("writes the forged notifications' summary in one line when the interval ends or the service stops", async () => {
  await app.close();
  const [summary] = logged("more notifications refused in this interval");
  expect(JSON.parse(summary!)).toMatchObject({
    requests: FORGED - 1,
    notifications: FORGED - 1,
    addresses: 1,
    reasons: { "wrong clientState": FORGED / 2 - 1, "unknown subscription": FORGED / 2 },
  });
});
