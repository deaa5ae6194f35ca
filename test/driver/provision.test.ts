/**
 * Provision on demand (POST /v1/jobs/{job}/users/{entraId}/sync) through the served app, Graph
 * through the simulator over HTTPS, and a WordPress (real with WP_URL, else the fake one over HTTP).
 */
import { mirrorJobs } from "../../src/db/jobs";
import type { Database } from "../../src/db/pool";
import { type Server, serve } from "../../src/main";
import { makeProvisionService } from "../../src/sync/provision";
import { FakeSite } from "../../tools/fake-wordpress";
import type { GraphSimulator } from "../../tools/graph-sim";
import { aJob, entraId } from "../helpers/builders";
import { makeTestDatabase, silentLogger } from "../helpers/db";
import { FakeDirectory } from "../helpers/engine";
import { wpFetch } from "../helpers/wordpress";
import {
  ADMIN_TOKEN,
  configOf,
  serviceEnv,
  startTenant,
  startWordPress,
  type WordPressUnderTest,
} from "../replicas/setup";

let wp: WordPressUnderTest;
let db: Database & { url: string | null };
let sim: GraphSimulator;
let domain: string;
let server: Server;
let groupId: string;

beforeAll(async () => {
  wp = await startWordPress();
  db = await makeTestDatabase();
  ({ sim, domain } = await startTenant(8));
  // Users 0..3 are in the job's group; 4..7 are not.
  groupId = sim.tenant.addGroup("Staff", { users: [0, 1, 2, 3].map((i) => sim.tenant.userIdAt(i)) }).id;
  server = await serve(configOf(serviceEnv(db.url!, sim, wp, { SYNC_TRIGGER_MODE: "manual", SYNC_GROUPS: groupId })), {
    print: () => undefined,
  });
});
afterAll(async () => {
  await server?.close();
  await sim?.close();
  await db?.close();
  await wp?.close();
});

async function provision(entraId: string, body: unknown = {}) {
  const res = await fetch(`${server.url}/v1/jobs/default/users/${entraId}/sync`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  // biome-ignore lint/suspicious/noExplicitAny: the trace, checked field by field below
  return { status: res.status, type: res.headers.get("content-type"), body: (await res.json()) as any };
}

async function mapRows(): Promise<Array<{ entra_id: string; wp_user_id: number }>> {
  return (await db.pool.query("select entra_id, wp_user_id from user_map where job_id = 'default'")).rows;
}

describe("provision on demand", () => {
  it("plans an in-scope user in a dry run and writes nothing", async () => {
    const user = sim.tenant.userAt(0)!;
    sim.resetCounters();
    const { status, body } = await provision(user.id, { dryRun: true });
    expect([status, body.stages?.fetched?.error]).toEqual([200, undefined]);
    expect(body).toMatchObject({
      job: "default",
      entraId: user.id,
      dryRun: true,
      outcome: "planned",
      stages: {
        fetched: { found: true, user: { id: user.id, mail: user.mail } },
        inScope: { inScope: true, groups: [groupId], groupsChecked: 1, graphRequests: 1 },
        matched: { how: null, wpUserId: null },
        planned: { action: "create", wpUserId: null },
        applied: { result: "planned", wpUserId: null, error: null },
      },
    });
    expect(body.stages.planned.diff.email).toEqual([null, user.mail]);
    expect(sim.counters["user.checkMemberGroups"]).toBe(1);
    expect(await wp.usersIn(domain)).toHaveLength(0);
    expect(await mapRows()).toHaveLength(0);
  });

  it("creates an in-scope user, records it in the user map, and finds it unchanged the next time", async () => {
    const user = sim.tenant.userAt(1)!;
    const first = await provision(user.id);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      outcome: "applied",
      stages: { planned: { action: "create" }, applied: { result: "ok" } },
    });
    const wpUserId = first.body.stages.applied.wpUserId;
    expect((await wp.usersIn(domain)).map((u) => u.id)).toEqual([wpUserId]);
    expect(await mapRows()).toEqual([{ entra_id: user.id, wp_user_id: wpUserId }]);

    const again = await provision(user.id);
    expect(again.body).toMatchObject({
      outcome: "applied",
      stages: { matched: { how: "user map", wpUserId, mapState: "active" }, planned: { action: "unchanged" } },
    });
  });

  it("matches an unmapped user to the WordPress account with its e-mail, and says so", async () => {
    const user = sim.tenant.userAt(2)!;
    const made = await wpFetch(wp, "POST", "/wp/v2/users", {
      username: `pre-${user.id.slice(0, 8)}`,
      email: String(user.mail),
      password: "x-Strong-password-1234",
    });
    expect(made.status).toBeLessThan(300);
    const { body } = await provision(user.id);
    expect(body).toMatchObject({
      outcome: "applied",
      stages: {
        matched: { how: "email", wpUserId: made.body.id },
        planned: { action: "update", wpUserId: made.body.id },
      },
    });
  });

  it("stops at the scope stage for a user outside the job's groups and writes nothing", async () => {
    const user = sim.tenant.userAt(5)!;
    const { status, body } = await provision(user.id);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      outcome: "out of scope",
      stages: {
        fetched: { found: true },
        inScope: { inScope: false, groups: [], reason: "not a member of the job's source.groups" },
        matched: null,
        planned: null,
        applied: null,
      },
    });
    expect((await wp.usersIn(domain)).some((u) => u.email.toLowerCase() === String(user.mail).toLowerCase())).toBe(
      false,
    );
  });

  it("answers an unknown Entra id with a 404 problem that carries the trace", async () => {
    const { status, type, body } = await provision("00000000-0000-4000-8000-00000000dead");
    expect(status).toBe(404);
    expect(type).toMatch(/^application\/problem\+json/);
    expect(body).toMatchObject({
      status: 404,
      trace: { outcome: "not found", stages: { fetched: { found: false, user: null }, inScope: null } },
    });
  });

  it("answers an unknown job with a 404 problem", async () => {
    const res = await fetch(`${server.url}/v1/jobs/nope/users/x/sync`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(res.status).toBe(404);
  });
});

describe("provision on demand against a large site", () => {
  const SITE_USERS = 2000;

  it("finds or creates one user with a handful of direct lookups, never listing the site's users", async () => {
    const local = await makeTestDatabase();
    // Matching by e-mail only: a login taken by someone else is a collision to avoid, not a match.
    const job = aJob().withId("large").withMatch("entraId", "email").build();
    await mirrorJobs(local.pool, [job]);
    const site = new FakeSite();
    for (let n = 1; n <= SITE_USERS; n++) site.seed({ username: `other${n}`, email: `other${n}@example.org` });
    // Someone else already has user1's login: the new account must get another one, not adopt theirs.
    const stranger = site.seed({ username: "user1@contoso.com", email: "stranger@example.org" });
    const existing = site.seed({ username: "legacy2", email: "user2@contoso.com" });
    const directory = new FakeDirectory().withUsers(1, 2);
    const service = makeProvisionService({
      db: local,
      directory,
      site,
      jobs: [job],
      logger: silentLogger,
      stepBudgetMs: 20_000,
    });
    try {
      site.resetCounters();
      const created = await service.syncUser("large", entraId(1));
      expect(created).toMatchObject({ outcome: "applied", stages: { planned: { action: "create" } } });
      const newId = created.stages.applied!.wpUserId!;
      expect(newId).not.toBe(stranger.id);
      expect((await site.getUser(newId))?.username).toBe("user1@contoso.com-2");
      const createRequests = { ...site.requests };

      site.resetCounters();
      const matched = await service.syncUser("large", entraId(2));
      expect(matched).toMatchObject({ stages: { matched: { how: "email", wpUserId: existing.id } } });
      const matchRequests = { ...site.requests };

      expect(site.lists).toBe(0);
      // e-mail lookup, the logins tried, the service's own id; then the write (and the read before an update).
      expect(createRequests.GET).toBeLessThanOrEqual(5);
      expect(matchRequests.GET).toBeLessThanOrEqual(5);
    } finally {
      await local.close();
    }
  });
});
