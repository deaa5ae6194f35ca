/**
 * The notification endpoint through app.inject against a real database: Graph's validation
 * handshake, refusals of what does not prove itself, and the limits on what it accepts.
 */
import { randomBytes } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { Database } from "../../src/db/pool";
import { hashClientState } from "../../src/sync/notification-inbox";
import { aJob } from "../helpers/builders";
import { makeTestDatabase } from "../helpers/db";
import { makeHarness as makeEngine } from "../helpers/engine";
import { buildEngineApp } from "./harness";

let db: Database;
let app: FastifyInstance;
const refusals: string[] = [];
beforeAll(async () => {
  db = await makeTestDatabase();
  const engine = makeEngine(db, { job: aJob().withUniqueId().build() });
  await engine.service.ready();
  app = await buildEngineApp(db, engine.service, {
    deps: { notifications: { onStored: () => undefined, onRefused: (reason) => void refusals.push(reason) } },
  });
  await db.pool.query(
    `insert into graph_subscriptions (job_id, resource, subscription_id, client_state_hash, expires_at)
     values ($1::text, 'users', 'sub-1', $2::bytea, now() + interval '1 day')`,
    [engine.service.jobs()[0]!.id, hashClientState(CLIENT_STATE)],
  );
});
afterAll(async () => {
  await app?.close();
  await db?.close();
});

const CLIENT_STATE = randomBytes(32).toString("base64url");
const USER = "0b6c2f8e-3a41-4d7e-9f10-2c5b8a7d6e41";
const change = (overrides: Record<string, unknown> = {}) => ({
  subscriptionId: "sub-1",
  clientState: CLIENT_STATE,
  changeType: "updated",
  resource: `Users/${USER}`,
  resourceData: { "@odata.type": "#Microsoft.Graph.User", id: USER },
  ...overrides,
});
const post = (value: unknown[]) => app.inject({ method: "POST", url: "/v1/notifications/graph", payload: { value } });
const stored = async () => (await db.pool.query("select entra_id from graph_notifications")).rows;

describe("POST /v1/notifications/graph", () => {
  it("echoes Graph's validation token as text/plain", async () => {
    const token = "Validation: Testing client application reachability <script>";
    const response = await app.inject({
      method: "POST",
      url: `/v1/notifications/graph?validationToken=${encodeURIComponent(token)}`,
      headers: { "content-type": "text/plain; charset=utf-8" },
      payload: "",
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(response.headers["x-content-type-options"]).toBe("nosniff");
    expect(response.body).toBe(token);
  });

  it("stores a genuine notification and answers 202", async () => {
    const response = await post([change()]);
    expect(response.statusCode).toBe(202);
    expect(await stored()).toEqual([{ entra_id: USER }]);
  });

  it("refuses, without storing, a wrong clientState, an unknown subscription and a malformed notification", async () => {
    const before = (await stored()).length;
    const response = await post([
      change({ clientState: `${CLIENT_STATE}x` }),
      change({ clientState: undefined }),
      change({ subscriptionId: "sub-unknown" }),
      change({ resourceData: { id: "not-a-guid" } }),
      change({ changeType: "exploded" }),
    ]);
    // Graph must not learn to retry a forgery, and a forger learns nothing from the answer.
    expect(response.statusCode).toBe(202);
    expect((await stored()).length).toBe(before);
    expect(refusals).toEqual([
      "wrong clientState",
      "wrong clientState",
      "unknown subscription",
      "malformed",
      "malformed",
    ]);
  });

  it("refuses what is not a notification collection, and bodies over 1 MB", async () => {
    expect(
      (await app.inject({ method: "POST", url: "/v1/notifications/graph", payload: { nope: 1 } })).statusCode,
    ).toBe(400);
    const huge = Array.from({ length: 900 }, () => change({ padding: "x".repeat(1200) }));
    expect((await post(huge)).statusCode).toBe(413);
    const tooMany = Array.from({ length: 1001 }, () => ({}));
    expect((await post(tooMany)).statusCode).toBe(400);
  });
});
