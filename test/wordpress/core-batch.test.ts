import pino from "pino";
import { UpstreamError } from "../../src/core/errors";
import type { Site } from "../../src/sync/ports";
import { connectWordPress } from "../../src/wordpress/client";
import { coreBatchSender } from "../../src/wordpress/core-batch";
import { USER_FIELDS } from "../../src/wordpress/users";
import { logSink } from "../helpers/log-sink";
import { aPerson, applyPlanBothWays } from "../helpers/user-plan";
import {
  describeWithWordPress,
  makeTestSite,
  quietLogger,
  trackUsers,
  uniqueName,
  type WordPressTarget,
  wordpressFromEnv,
  wpFetch,
} from "../helpers/wordpress";
import { startProxy } from "../helpers/wordpress-proxy";

const CORE_BATCH = "POST /wp-json/batch/v1";

/** The write path a site logs at start-up (site.info()). */
async function loggedWritePath(wp: WordPressTarget): Promise<unknown> {
  const sink = logSink();
  await makeTestSite(wp, { logger: pino({ level: "info" }, sink.destination) }).info();
  const lines = sink.lines.map((line) => JSON.parse(line) as { writePath?: unknown });
  return lines.filter((line) => line.writePath !== undefined).map((line) => line.writePath);
}

/** Kind, code and status of the error a write throws, or "ok". */
async function outcomeOf(write: Promise<unknown>): Promise<unknown> {
  try {
    await write;
    return "ok";
  } catch (error) {
    if (!(error instanceof UpstreamError)) throw error;
    return { kind: error.kind, code: error.details.code, status: error.details.status };
  }
}

type Counted = { method: string; status: number | "error"; code: string | null };
const countedOf = ({ method, status, code }: Counted): Counted => ({ method, status, code });
const sorted = (list: Counted[]) => list.map((c) => JSON.stringify(c)).sort();

// A WordPress >= 6.6 without the companion plugin (core accepts /wp/v2/users in POST /batch/v1):
//   eval "$(scripts/wordpress-local.sh --wordpress-version 6.6 --without-plugin --port 8884 --dir /tmp/entra-wp-sync-wordpress-6.6 --env-prefix WP_NEWER_)"
describeWithWordPress(
  "WordPress core batch writes (6.6 and later, no companion plugin)",
  (wp: WordPressTarget) => {
    const users = trackUsers(wp);
    afterAll(() => users.cleanup());

    it("is detected, and logged as the write path at start-up", async () => {
      expect(await loggedWritePath(wp)).toEqual(["core-batch"]);
    });

    it("leaves WordPress in the same state as the per-user path for the same plan, in core batch requests only", async () => {
      const proxy = await startProxy(wp.url);
      try {
        const batched = makeTestSite({ ...wp, url: proxy.url });
        const { selfId } = await batched.info();
        proxy.requests.length = 0;
        const { states, ids } = await applyPlanBothWays(wp, batched, selfId);
        for (const id of ids) users.add(id);

        // Every write went through core's batch route (reads aside: the meta keys WordPress accepts).
        const writes = proxy.requests.filter((r) => !/^(GET|OPTIONS) /.test(r));
        expect(writes.filter((r) => r !== CORE_BATCH)).toEqual([]);
        expect(writes.length).toBeGreaterThan(0);
        expect(writes.length).toBeLessThan(states.length);
        expect(states.map((s) => s.batched)).toEqual(states.map((s) => s.perUser));
        // The plan really changed things (a comparison of two no-ops would pass too).
        expect(states[0]!.batched).toMatchObject({ first_name: "Changed", meta: { department: "Moved" } });
        expect(states[1]!.batched).toMatchObject({ roles: ["editor"] });
        expect(states[2]!.batched).toMatchObject({ roles: [] });
        expect(states[3]!.batched).toMatchObject({ roles: ["author"], last_name: "Back" });
        expect(states[5]!.batched).toBe("absent");
      } finally {
        await proxy.close();
      }
    });

    it("fails a bad operation alone, with the error its per-user request throws", async () => {
      const proxy = await startProxy(wp.url);
      try {
        // What the metrics count: each operation of a batch as its own request would have been counted.
        const counted = { operations: [] as Counted[], perUser: [] as Counted[], exchanges: [] as Counted[] };
        const batched = makeTestSite(
          { ...wp, url: proxy.url },
          {
            metrics: {
              onRequest: (e) => void (e.batch && counted.exchanges.push(countedOf(e))),
              onOperation: (e) => void counted.operations.push(countedOf(e)),
            },
          },
        );
        const perUser = makeTestSite(wp, {
          bulk: false,
          metrics: { onRequest: (e) => void (/POST|DELETE/.test(e.method) && counted.perUser.push(countedOf(e))) },
        });
        await batched.info();
        const taken = uniqueName("taken");
        users.add((await perUser.createUser(taken, aPerson(taken, 0), `${taken}-entra`)).id);
        counted.perUser.length = 0;

        /** Two good creates around three bad writes, all at once (one batch), and the same bad writes one by one. */
        const attempt = async (site: Site) => {
          const good = [uniqueName("good"), uniqueName("good")];
          const badEmail = aPerson(uniqueName("bad"), 1);
          badEmail.fields.email = "not-an-e-mail";
          const settled = await Promise.all([
            outcomeOf(site.createUser(good[0]!, aPerson(good[0]!, 2), `${good[0]}-entra`)),
            outcomeOf(site.createUser(uniqueName("bad"), badEmail, uniqueName("entra"))),
            outcomeOf(site.createUser(taken, aPerson(taken, 3), uniqueName("entra"))),
            outcomeOf(site.updateUser(999_999_999, { fields: { first_name: "Nobody" } })),
            outcomeOf(site.createUser(good[1]!, aPerson(good[1]!, 4), `${good[1]}-entra`)),
          ]);
          for (const login of good) {
            const found = await wpFetch(wp, "GET", `/wp/v2/users?context=edit&search=${login}`);
            expect(found.body).toHaveLength(1);
            users.add(found.body[0].id);
          }
          return settled;
        };
        proxy.requests.length = 0;
        const viaBatch = await attempt(batched);
        expect(proxy.requests.filter((r) => !r.startsWith("OPTIONS "))).toEqual([CORE_BATCH]);
        const viaRest = await attempt(perUser);
        expect(viaBatch).toEqual(viaRest);
        expect(counted.exchanges).toEqual([{ method: "POST", status: 207, code: null }]);
        expect(sorted(counted.operations)).toEqual(sorted(counted.perUser));
        expect(counted.operations).toHaveLength(5);
        expect(viaBatch).toEqual([
          "ok",
          { kind: "invalid", code: "rest_invalid_param", status: 400 },
          { kind: "exists", code: "existing_user_login", status: 500 },
          { kind: "not-found", code: "rest_user_invalid_id", status: 404 },
          "ok",
        ]);
      } finally {
        await proxy.close();
      }
    });

    it("creates nobody twice and deletes without error when a batch's response is lost and the batch is retried", async () => {
      const proxy = await startProxy(wp.url);
      try {
        const site = makeTestSite({ ...wp, url: proxy.url }, { maxRetries: 2 });
        const { selfId } = await site.info(); // detection is not the request whose answer is lost
        const doomed = uniqueName("doomed");
        const doomedId = (await site.createUser(doomed, aPerson(doomed, 9), `${doomed}-entra`)).id;
        users.add(doomedId);
        proxy.mode = "lose-response";
        proxy.requests.length = 0;
        const logins = Array.from({ length: 4 }, () => uniqueName("lost-core"));
        const [created] = await Promise.all([
          Promise.all(logins.map((login, n) => site.createUser(login, aPerson(login, n), `${login}-entra`))),
          site.deleteUser(doomedId, selfId),
        ]);
        for (const user of created) users.add(user.id);
        expect(proxy.lost).toBe(1);
        // The whole batch was sent twice: its first answer was lost after WordPress applied it.
        expect(proxy.requests.filter((r) => !r.startsWith("GET "))).toEqual([CORE_BATCH, CORE_BATCH]);
        for (const [n, login] of logins.entries()) {
          expect(created[n]).toMatchObject({ username: login, email: `${login}@example.test` });
          const found = await wpFetch(wp, "GET", `/wp/v2/users?context=edit&search=${login}`);
          expect(found.body.map((u: { id: number }) => u.id)).toEqual([created[n]!.id]);
        }
        expect((await wpFetch(wp, "GET", `/wp/v2/users/${doomedId}`)).status).toBe(404);
      } finally {
        await proxy.close();
      }
    });

    it("replays a batch that failed as a whole one write at a time, adopting what it had already applied", async () => {
      const proxy = await startProxy(wp.url);
      try {
        const site = makeTestSite({ ...wp, url: proxy.url });
        const first = uniqueName("died-first"); // and the site's detections: not the request that fails
        users.add((await site.createUser(first, aPerson(first, 9), `${first}-entra`)).id);
        proxy.mode = "answer-500";
        proxy.requests.length = 0;
        const logins = Array.from({ length: 3 }, () => uniqueName("died-core"));
        const created = await Promise.all(
          logins.map((login, n) => site.createUser(login, aPerson(login, n), `${login}-entra`)),
        );
        for (const user of created) users.add(user.id);
        expect(proxy.lost).toBe(1);
        // Core committed the creates before the 500 (no transaction); the replay's "exists" is ours.
        expect(proxy.requests.filter((r) => r.startsWith("POST "))).toEqual([
          CORE_BATCH,
          ...logins.map(() => "POST /wp-json/wp/v2/users?context=edit&_fields=" + encodeURIComponent(USER_FIELDS)),
        ]);
        for (const [n, login] of logins.entries()) {
          const found = await wpFetch(wp, "GET", `/wp/v2/users?context=edit&search=${login}`);
          expect(found.body.map((u: { id: number }) => u.id)).toEqual([created[n]!.id]);
        }
      } finally {
        await proxy.close();
      }
    });

    it("goes one request per user from the first batch a firewall refuses as a whole", async () => {
      const proxy = await startProxy(wp.url);
      try {
        proxy.refuse = (request) => (request.startsWith(CORE_BATCH) ? 403 : null);
        const sink = logSink();
        const site = makeTestSite({ ...wp, url: proxy.url }, { logger: pino({ level: "warn" }, sink.destination) });
        const { selfId } = await site.info();
        const logins = Array.from({ length: 3 }, () => uniqueName("refused"));
        const created = await Promise.all(
          logins.map((login, n) => site.createUser(login, aPerson(login, n), `${login}-entra`)),
        );
        for (const user of created) users.add(user.id);
        expect(created.map((u) => u.username)).toEqual(logins);
        await site.deleteUser(created[2]!.id, selfId);
        const writes = proxy.requests.filter((r) => !/^(GET|OPTIONS) /.test(r));
        expect(writes.filter((r) => r === CORE_BATCH)).toHaveLength(1);
        expect(writes.filter((r) => r !== CORE_BATCH)).toHaveLength(4);
        expect(sink.text()).toContain("wordpress writes go one REST request per user from now on");
        expect(sink.text()).toContain("403 blocked_by_proxy");
      } finally {
        await proxy.close();
      }
    });

    it("writes the user the path names, whatever id the body carries", async () => {
      const me = await wpFetch(wp, "GET", "/wp/v2/users/me?context=edit");
      const login = uniqueName("redirect");
      const target = users.add((await makeTestSite(wp).createUser(login, aPerson(login, 0), "x")).id);
      const send = coreBatchSender(connectWordPress({ ...wp, logger: quietLogger }), { context: "edit" });
      const { results } = await send([
        { op: "update", id: target, body: { id: me.body.id, first_name: "Taken over" } },
      ]);
      expect(results[0]).toMatchObject({ outcome: "updated", user: { id: target, first_name: "Taken over" } });
      const after = await wpFetch(wp, "GET", "/wp/v2/users/me?context=edit");
      expect(after.body.first_name).toBe(me.body.first_name);
    });
  },
  {
    prefix: "WP_NEWER_",
    requiredBy: "REQUIRE_WORDPRESS_NEWER",
    howToStart:
      'eval "$(scripts/wordpress-local.sh --wordpress-version 6.6 --without-plugin --port 8884 --dir /tmp/entra-wp-sync-wordpress-6.6 --env-prefix WP_NEWER_)"',
  },
);

// WordPress 6.1 (Debian's) without the plugin: core's batch route exists there but not for users.
describeWithWordPress(
  "WordPress core batch writes on 6.1 (no companion plugin)",
  (wp: WordPressTarget) => {
    it("is not detected: writes go one REST request per user", async () => {
      expect(await loggedWritePath(wp)).toEqual(["per-user"]);
    });
  },
  {
    prefix: "WP_PLAIN_",
    howToStart:
      'eval "$(scripts/wordpress-local.sh --without-plugin --port 8882 --dir /tmp/entra-wp-sync-wordpress-plain --env-prefix WP_PLAIN_)"',
  },
);

describeWithWordPress("WordPress write path with the companion plugin", () => {
  it("is the plugin's batch endpoint", async () => {
    expect(await loggedWritePath(wordpressFromEnv()!)).toEqual(["plugin-batch"]);
  });
});
